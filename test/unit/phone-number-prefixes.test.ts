/**
 * One reading of a number, whatever international or national prefix it is written with (docs/phonebook.md,
 * "How a number is read"): `call.from` (toE164), the phonebook's fast path (readWritten) and its reference
 * (readWrittenByParse) all give libphonenumber's reading with the default country, and where the parse
 * refuses a number written with `00`, the digits after `00`. The interesting countries are those whose
 * international prefix has alternatives or carries a carrier code (Brazil's 0014, 0015, 0021 …; Colombia,
 * Chile, Korea, Australia's 0011, Hong Kong, Singapore …) and those whose national prefix carries one.
 */
import { describe, expect, it } from 'vitest';
import examples from 'libphonenumber-js/examples.mobile.json';
import minMetadata from 'libphonenumber-js/min/metadata';
import { getCountryCallingCode } from 'libphonenumber-js/min';
import { extractDigits, readWritten, toE164, type CountryCode } from '../../src/core/phone-number.js';
import { PhonebookIndex } from '../../src/phonebook/index.js';
import { expectOneReading, iddPattern, iddPrefixes, nationalPrefixPattern, prefixesOf, rng } from './phone-number-readings.js';
import { phonebookContact } from '../helpers/contacts.js';

const COUNTRIES = Object.keys(minMetadata.countries) as CountryCode[];
const EXAMPLES = examples as Partial<Record<CountryCode, string>>;

/** Up to `n` of the items, always the first, the rest picked by the generator. */
function some<T>(items: readonly T[], n: number, r: () => number): T[] {
  if (items.length <= n) return [...items];
  const picked = new Set<T>(items.slice(0, 1));
  while (picked.size < n) picked.add(items[Math.floor(r() * items.length)] as T);
  return [...picked];
}

/** Whether the country's international prefix is more than one fixed string, or its national prefix can carry a carrier code. */
function hasPrefixChoices(country: CountryCode): boolean {
  return !/^\d+$/.test(iddPattern(country)) || (nationalPrefixPattern(country) ?? '').includes('(');
}

function digitsOfLength(r: () => number, length: number): string {
  let s = '';
  while (s.length < length) s += String(Math.floor(r() * 10));
  return s;
}

describe('one reading of a number, whatever prefix it is written with', () => {
  it('lists the countries whose prefixes have choices', () => {
    const choices = COUNTRIES.filter(hasPrefixChoices);
    for (const c of ['BR', 'CO', 'CL', 'KR', 'AU', 'HK', 'SG', 'ID', 'TH', 'IL', 'MX', 'CN', 'FI']) expect(choices).toContain(c);
    expect(iddPrefixes('BR')).toEqual(expect.arrayContaining(['0012', '0014', '0015', '0021', '0041', '0099']));
    expect(iddPrefixes('AU')).toEqual(expect.arrayContaining(['0011', '0014', '14110011']));
    expect(iddPrefixes('JP')).toEqual(['010']);
    expect(prefixesOf(nationalPrefixPattern('BR') ?? '')).toEqual(expect.arrayContaining(['0', '90', '015', '9021']));
  });

  it("reads, with every country as the default, every country's example number written with each of its international prefixes, +, 00, and its own nationally", () => {
    const r = rng(17);
    let checked = 0;
    for (const country of COUNTRIES) {
      const choices = hasPrefixChoices(country);
      const idds = some(iddPrefixes(country), choices ? 8 : 1, r);
      const examplesToTry = Object.entries(EXAMPLES).filter((_, i) => choices || i % 8 === 0);
      for (const [c, national] of examplesToTry) {
        const cc = getCountryCallingCode(c as CountryCode);
        expectOneReading(true, cc + national, country);
        expectOneReading(false, `00${cc}${national}`, country);
        for (const idd of idds) expectOneReading(false, idd + cc + national, country);
        checked += 2 + idds.length;
      }
      const own = EXAMPLES[country];
      if (own === undefined) continue;
      const home = getCountryCallingCode(country);
      // Nationally: bare, with each national prefix (Brazil: 0, 90, and 0 or 90 + a carrier code), and with
      // the calling code but no `+`.
      const nationalPrefixes = some(prefixesOf(nationalPrefixPattern(country) ?? '0'), 40, r);
      for (const p of ['', '0', ...nationalPrefixes]) expectOneReading(false, p + own, country);
      expectOneReading(false, home + own, country);
      for (const idd of iddPrefixes(country).slice(0, 40)) expectOneReading(false, idd + home + own, country);
      checked += nationalPrefixes.length + 3;
    }
    expect(checked).toBeGreaterThan(80_000);
  }, 120_000);

  it('reads random digit strings, bare and after each prefix, as one reading', () => {
    const r = rng(23);
    for (const country of COUNTRIES) {
      const choices = hasPrefixChoices(country);
      const idds = some(iddPrefixes(country), choices ? 6 : 1, r);
      const nationalPrefixes = some(prefixesOf(nationalPrefixPattern(country) ?? '0'), choices ? 6 : 1, r);
      for (let n = 0; n < (choices ? 40 : 4); n++) {
        // Leading digits 0-1 more often: where prefixes, carrier codes and short codes live.
        const digits = (r() < 0.3 ? String(Math.floor(r() * 2)) : '') + digitsOfLength(r, 3 + Math.floor(r() * 15));
        expectOneReading(true, digits, country);
        expectOneReading(false, digits, country);
        expectOneReading(false, `00${digits}`, country);
        for (const idd of idds) expectOneReading(false, idd + digits, country);
        for (const p of nationalPrefixes) expectOneReading(false, p + digits, country);
      }
    }
  }, 120_000);

  it('reads a Brazilian number with each carrier code, nationally and internationally, as one number', () => {
    const carriers = iddPrefixes('BR').map((p) => p.slice(2));
    expect(carriers).toHaveLength(13);
    for (const carrier of carriers) {
      for (const raw of [`0${carrier} 11 96123-4567`, `90${carrier} 11 96123-4567`, `00${carrier} 55 11 96123-4567`]) {
        const { plus, digits } = extractDigits(raw);
        expectOneReading(plus, digits, 'BR');
        expect(toE164(plus, digits, 'BR'), raw).toBe('+5511961234567');
      }
      const { digits } = extractDigits(`00${carrier} 1 212 700 0042`);
      expect(readWritten(false, digits, 'BR')).toMatchObject({ e164: '+12127000042', explicit: true, callingCode: 1 });
    }
  });

  it.each([
    // Brazil: 00 + a carrier code is the international prefix; 0 (or 90) + one the national prefix.
    ['BR', '0014 1 212 700 0042', '+12127000042', true, 1],
    ['BR', '0015 55 11 96123 4567', '+5511961234567', true, 55],
    ['BR', '0 15 11 96123 4567', '+5511961234567', false, 55],
    ['BR', '(11) 96123-4567', '+5511961234567', false, 55],
    // 0043 is carrier 43: the parse reads +66 4123456 (not valid), so the digits after 00 are read.
    ['BR', '0043 664 123456', '+43664123456', true, 43],
    ['BR', '0044 20 7946 0958', '+442079460958', true, 44],
    ['AU', '0011 61 412 345 678', '+61412345678', true, 61],
    ['AU', '1411 0011 44 20 7946 0958', '+442079460958', true, 44],
    // Hong Kong's prefixes include 009: the parse reads +7 1501234567 (not valid).
    ['HK', '00971501234567', '+971501234567', true, 971],
    ['KR', '00700 44 20 7946 0958', '+442079460958', true, 44],
    ['CO', '009 44 20 7946 0958', '+442079460958', true, 44],
    ['CO', '03 321 1234567', '+573211234567', false, 57],
    ['CL', '1230 44 20 7946 0958', '+442079460958', true, 44],
    // Japan's prefix is 010; the parse (min metadata: general pattern and lengths) finds 0044… a valid
    // Japanese number. It is that, read as national: a guess, so it still meets +44 … on its last digits.
    ['JP', '0044 20 7946 0958', '+8100442079460958', false, 81],
    ['JP', '010 44 20 7946 0958', '+442079460958', true, 44],
  ] as const)('with %s, %s reads as %s (written with its country: %s, calling code %s)', (country, raw, e164, explicit, callingCode) => {
    const { plus, digits } = extractDigits(raw);
    expectOneReading(plus, digits, country);
    expect(readWritten(plus, digits, country)).toMatchObject({ e164, explicit, callingCode });
    expect(toE164(plus, digits, country)).toBe(e164);
  });
});

describe('the phonebook with these countries as the default', () => {
  it.each([
    ['BR', '+55 11 96123-4567', ['(11) 96123-4567', '0 15 11 96123 4567', '90 21 11 96123 4567', '0014 55 11 96123 4567', '+5511961234567']],
    ['BR', '0021 1 212 700 0042', ['+1 212 700 0042', '0015 1 212 700 0042', '00 1 212 700 0042']],
    ['BR', '0043 664 123456', ['+43 664 123456', '0021 43 664 123456']],
    ['AU', '0011 44 20 7946 0958', ['+44 20 7946 0958', '0014 44 20 7946 0958', '1411 0011 44 20 7946 0958', '00 44 20 7946 0958']],
    ['HK', '00971501234567', ['+971 50 123 4567', '001 971 50 123 4567']],
    ['KR', '010-1234-5678', ['+82 10 1234 5678', '00700 82 10 1234 5678', '001 82 10 1234 5678']],
    ['CO', '03 321 1234567', ['321 1234567', '+57 321 1234567', '009 57 321 1234567', '00444 57 321 1234567']],
    ['CL', '+56 9 6123 4567', ['9 6123 4567', '1230 56 9 6123 4567', '00 56 9 6123 4567']],
  ] as const)('with %s, a contact at %s is found exactly from each way of dialling it, and call.from is its E.164', async (country, stored, callers) => {
    const index = await PhonebookIndex.build([phonebookContact('1', { phoneNumber: stored })], [], [], country);
    const { plus, digits } = extractDigits(stored);
    const e164 = toE164(plus, digits, country);
    expect(e164).not.toBeNull();
    for (const caller of callers) {
      const m = index.lookup(caller);
      expect({ caller, id: m.contact?.phonebookId, match: m.contact?.match, from: m.from }).toEqual({ caller, id: '1', match: 'exact', from: e164 });
    }
  });

  it('with JP, a contact at +44 … is found from 0044 … (read as a Japanese number) on its last digits', async () => {
    const index = await PhonebookIndex.build([phonebookContact('1', { phoneNumber: '+44 20 7946 0958' })], [], [], 'JP');
    expect(index.lookup('0044 20 7946 0958').contact).toMatchObject({ phonebookId: '1', match: 'suffix' });
    expect(index.lookup('010 44 20 7946 0958').contact).toMatchObject({ phonebookId: '1', match: 'exact' });
  });
});
