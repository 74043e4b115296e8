/**
 * The matching rules of docs/phonebook.md: an exact match wins; with none, the last 8 digits decide unless
 * both numbers were written with different countries (or are two valid numbers of one country); every
 * contact says how it matched.
 */
import { describe, expect, it } from 'vitest';
import type { PhonebookContact } from '../../src/core/event.js';
import { PhonebookIndex } from '../../src/phonebook/index.js';
import { phonebookContact } from '../helpers/contacts.js';

const build = (contacts: PhonebookContact[], country: 'IN' | 'US' = 'IN') => PhonebookIndex.build(contacts, [], [], country);

const AREAS = ['212', '415', '617', '303'];
/** The i-th New York-style number: unique last 8 digits for i below 100,000. */
function usNumber(i: number): { area: string; exchange: string; line: string } {
  const subscriber = String(7_000_000 + i);
  return { area: AREAS[i % AREAS.length] ?? '212', exchange: subscriber.slice(0, 3), line: subscriber.slice(3) };
}

describe('foreign numbers written nationally', () => {
  it('in a 100,000-contact book read as IN, every American number written the American way is found from +1 and 001 callers, as suffix', async () => {
    const N = 100_000;
    const contacts: PhonebookContact[] = [];
    for (let i = 0; i < N; i++) {
      const n = usNumber(i);
      contacts.push(phonebookContact(String(1000 + i), { phoneNumber: `(${n.area}) ${n.exchange}-${n.line}` }));
    }
    const index = await build(contacts);
    let found = 0;
    let suffix = 0;
    const misses: string[] = [];
    for (let i = 0; i < N; i++) {
      const n = usNumber(i);
      // Both explicit forms, alternating: `+1 212 700 0042` and `0012127000042` (00 is India's international prefix).
      const raw = i % 2 === 0 ? `+1 ${n.area} ${n.exchange} ${n.line}` : `001${n.area}${n.exchange}${n.line}`;
      const m = index.lookup(raw);
      if (m.contact?.phonebookId === String(1000 + i)) found++;
      else if (misses.length < 5) misses.push(raw);
      if (m.contact?.match === 'suffix') suffix++;
    }
    expect(misses).toEqual([]);
    expect(found).toBe(N);
    expect(suffix).toBe(N);
  }, 120_000);

  it('the contract example: (212) 700-0042 saved with DEFAULT_COUNTRY=IN pops for +1 212 700 0042 and 0012127000042', async () => {
    const index = await build([phonebookContact('7', { phoneNumber: '(212) 700-0042' })]);
    for (const raw of ['+1 212 700 0042', '0012127000042', '+12127000042']) {
      expect(index.lookup(raw)).toMatchObject({ from: '+12127000042', contact: { phonebookId: '7', match: 'suffix' } });
    }
  });

  it('a number written with its country matches itself exactly in any form', async () => {
    const index = await build([phonebookContact('8', { phoneNumber: '+1 212 700 0042' })]);
    for (const raw of ['+1 212 700 0042', '0012127000042']) expect(index.lookup(raw).contact?.match).toBe('exact');
    const us = await build([phonebookContact('8', { phoneNumber: '(212) 700-0042' })], 'US');
    expect(us.lookup('+1 212 700 0042').contact?.match).toBe('exact');
    expect(us.lookup('011 1 212 700 0042').contact?.match).toBe('exact');
  });
});

describe('numbers that never match', () => {
  it('two numbers written with different countries never match, whatever their last digits', async () => {
    const index = await build([
      phonebookContact('1', { phoneNumber: '+1 212 700 0042' }),
      phonebookContact('2', { phoneNumber: '0044 20 2700 0042' }),
    ]);
    expect(index.lookup('+44 20 2700 0042').contact?.phonebookId).toBe('2');
    expect(index.lookup('+44 20 2700 0042').otherContacts).toEqual([]);
    expect(index.lookup('+1 212 700 0042').otherContacts).toEqual([]);
    expect(index.lookup('+61 2 2700 0042').contact).toBeNull();
    expect(index.lookup('0061 2 2700 0042').contact).toBeNull();
  });

  it('two valid numbers of the same country are two numbers, written nationally or not', async () => {
    const index = await build([phonebookContact('1', { phoneNumber: '079 2630 1234' }), phonebookContact('2', { phoneNumber: '+1 212 700 0042' })]);
    expect(index.lookup('022 2630 1234').contact).toBeNull();
    expect(index.lookup('+91 22 2630 1234').contact).toBeNull();
    expect(index.lookup('+1 312 700 0042').contact).toBeNull();
  });

  it('what matched before still matches: unparseable numbers on their last digits, short numbers exactly', async () => {
    const index = await build([phonebookContact('41', { phoneNumber: '98988778', extension: '101' })]);
    expect(index.lookup('98988778').contact?.match).toBe('exact');
    expect(index.lookup('+91 98988778').contact?.match).toBe('suffix');
    expect(index.lookup('101').contact?.match).toBe('exact');
    expect(index.lookup('1010').contact).toBeNull();
  });
});

describe('match on every contact', () => {
  it('the best contact and each other contact say how they matched, exact ones first', async () => {
    const index = await build([
      phonebookContact('30', { phoneNumber: '(212) 700-0042' }),
      phonebookContact('20', { cellNumber: '+1 212 700 0042' }),
      phonebookContact('10', { customFields: { Mobile: '2127000042' } }),
    ]);
    const m = index.lookup('+1 212 700 0042');
    expect(m.contact).toMatchObject({ phonebookId: '20', match: 'exact' });
    expect(m.otherContacts).toEqual([
      { phonebookId: '30', displayName: 'Contact 30', match: 'suffix' },
      { phonebookId: '10', displayName: 'Contact 10', match: 'suffix' },
    ]);
  });

  it('a contact added to a live index is found by the next lookup, even one answered from the cache before', async () => {
    const index = await build([phonebookContact('1', { phoneNumber: '+91 98247 40472' })]);
    expect(index.lookup('09447011111').contact).toBeNull();
    index.add(phonebookContact('2', { phoneNumber: '09447011111' }));
    expect(index.lookup('09447011111').contact).toMatchObject({ phonebookId: '2', match: 'exact' });
    expect(index.holds(phonebookContact('2', { phoneNumber: '+91 94470 11111' }))).toBe(true);
    expect(index.holds(phonebookContact('', { phoneNumber: '+91 94470 11111', lastName: '2' }))).toBe(true);
    expect(index.holds(phonebookContact('', { phoneNumber: '+91 94470 11111', lastName: 'Other' }))).toBe(false);
  });
});
