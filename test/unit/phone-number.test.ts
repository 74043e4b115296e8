import { describe, expect, it } from 'vitest';
import { extractDigits, normalizeCaller, numberKeys, phoneLikeDigitCount, toE164 } from '../../src/core/phone-number.js';

describe('normalizeCaller', () => {
  it.each([
    ['09824740472', 'IN', '+919824740472'],
    ['9824740472', 'IN', '+919824740472'],
    ['+91 98247 40472', 'IN', '+919824740472'],
    ['0091 98247 40472', 'IN', '+919824740472'],
    ['919824740472', 'IN', '+919824740472'],
    ['(415) 555-2671', 'US', '+14155552671'],
    ['415.555.2671', 'US', '+14155552671'],
    ['1 415 555 2671', 'US', '+14155552671'],
    ['011 91 98247 40472', 'US', '+919824740472'],
    ['0091 98247 40472', 'US', '+919824740472'],
    ['+44 7911 123456', 'IN', '+447911123456'],
    ['07911 123456', 'GB', '+447911123456'],
    ['tel:+919824740472', 'US', '+919824740472'],
    ['sip:09824740472@10.0.0.5', 'IN', '+919824740472'],
  ] as const)('%s with %s is %s', (raw, country, from) => {
    expect(normalizeCaller(raw, country).from).toBe(from);
  });

  it('keeps the digits as received when the number cannot be read with the default country', () => {
    expect(normalizeCaller('98988778', 'IN')).toEqual({ from: '98988778', digits: '98988778' });
    expect(normalizeCaller('+91 98988778', 'IN')).toEqual({ from: '+9198988778', digits: '9198988778' });
    expect(normalizeCaller('09824740472', 'US')).toEqual({ from: '09824740472', digits: '09824740472' });
  });

  it('never turns short internal numbers into E.164', () => {
    expect(normalizeCaller('122', 'IN').from).toBe('122');
    expect(normalizeCaller('122', 'US').from).toBe('122');
    expect(normalizeCaller('1001103', 'IN').from).toBe('1001103');
  });

  it('returns a caller without digits as it came', () => {
    expect(normalizeCaller(' anonymous ', 'IN')).toEqual({ from: 'anonymous', digits: '' });
  });
});

describe('numberKeys', () => {
  it('gives every written form of one number the same E.164 and tail keys', () => {
    const forms = ['+919824740472', '09824740472', '9824740472', '0091 98247 40472', '+91-98247-40472'];
    for (const f of forms) expect(numberKeys(f, 'IN')).toEqual(['e:+919824740472', 't:24740472']);
  });

  it('lets a national number without prefix meet its international form through the tail key', () => {
    const stored = numberKeys('98988778', 'IN');
    const caller = numberKeys('+91 98988778', 'IN');
    expect(stored).toEqual(['t:98988778']);
    expect(caller).toEqual(['t:98988778']);
  });

  it('keys short numbers by their exact digits', () => {
    expect(numberKeys('122', 'IN')).toEqual(['x:122']);
    expect(numberKeys('1001103', 'US')).toEqual(['x:1001103']);
  });

  it('has no keys for text without digits', () => {
    expect(numberKeys('n/a', 'IN')).toEqual([]);
  });

  it('reads US numbers in their usual styles', () => {
    expect(numberKeys('(415) 555-2671', 'US')).toEqual(['e:+14155552671', 't:55552671']);
    expect(numberKeys('+1 415 555 2671', 'IN')).toEqual(['e:+14155552671', 't:55552671']);
  });
});

describe('helpers', () => {
  it('extractDigits keeps the plus and the digits only', () => {
    expect(extractDigits(' +91 (98247) 40-472 ')).toEqual({ plus: true, digits: '919824740472' });
  });

  it('toE164 refuses invalid numbers', () => {
    expect(toE164(false, '0000000000', 'IN')).toBeNull();
    expect(toE164(false, '12', 'IN')).toBeNull();
  });

  it('phoneLikeDigitCount counts digits of phone-looking text only', () => {
    expect(phoneLikeDigitCount('+91 (98247) 40-472')).toBe(12);
    expect(phoneLikeDigitCount('Ecosmob')).toBe(-1);
    expect(phoneLikeDigitCount('12 Main St')).toBe(-1);
  });
});
