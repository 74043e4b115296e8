import { describe, expect, it } from 'vitest';
import type { PhonebookContact as Contact } from '../../src/core/event.js';
import type { PbxCustomField, PbxExtension } from '../../src/core/ports.js';
import { comparePhonebookIds, PhonebookIndex } from '../../src/phonebook/index.js';
import { NumberFieldClassifier } from '../../src/phonebook/number-fields.js';
import { phonebookContact } from '../helpers/contacts.js';

const CUSTOM_FIELDS: PbxCustomField[] = [
  { name: 'Company', type: 'DropDownList' },
  { name: 'City', type: 'Text' },
  { name: 'Office No', type: 'Text' },
  { name: 'Joined', type: 'Date' },
];
const EXTENSIONS: PbxExtension[] = [
  { id: '645', name: '1001103-1001103', number: '1001103' },
  { id: '485', name: '102_name-102', number: '102' },
  { id: '625', name: '118-118', number: '118' },
];

// The manual's two examples plus a few more.
const NISHA = phonebookContact('41', {
  displayName: 'Nisha Patel',
  extension: '101',
  phoneNumber: '98988778',
  cellNumber: '78768876',
  customFields: { Company: 'Ecosmob', City: 'Abd', 'Office No': '9879973234' },
});
const ANJALI = phonebookContact('42', {
  displayName: 'Anjali Patel',
  extension: '102',
  phoneNumber: '94557758',
  cellNumber: '78768876',
  customFields: { Company: 'Ecosmob', City: 'Abd', 'Office No': '9879973234' },
});
const RAHUL = phonebookContact('43', { displayName: 'Rahul Sharma', phoneNumber: '+91 98247 40472', cellNumber: '09898012345' });
const PRIYA = phonebookContact('44', { displayName: 'Priya Mehta', phoneNumber: '0091 99090 12345' });
const US = phonebookContact('50', { displayName: 'Sam US', phoneNumber: '+1 (415) 555-2671' });

async function build(contacts: Contact[], country: 'IN' | 'US' = 'IN'): Promise<PhonebookIndex> {
  return PhonebookIndex.build(contacts, EXTENSIONS, CUSTOM_FIELDS, country);
}

describe('PhonebookIndex.lookup', () => {
  it('finds a contact whatever form the caller number comes in', async () => {
    const index = await build([NISHA, ANJALI, RAHUL, PRIYA, US]);
    for (const raw of ['09824740472', '+919824740472', '9824740472', '00919824740472', '919824740472']) {
      const m = index.lookup(raw);
      expect(m.from).toBe('+919824740472');
      expect(m.contact?.phonebookId).toBe('43');
    }
    expect(index.lookup('09909012345').contact?.phonebookId).toBe('44');
    expect(index.lookup('+14155552671').contact?.phonebookId).toBe('50');
  });

  it('matches a national number stored without prefix by its last digits', async () => {
    const index = await build([NISHA, RAHUL]);
    expect(index.lookup('+91 98988778').contact?.phonebookId).toBe('41');
    expect(index.lookup('98988778').contact?.phonebookId).toBe('41');
  });

  it('returns the best contact and the others carrying the same number', async () => {
    const index = await build([ANJALI, NISHA]);
    const m = index.lookup('78768876');
    expect(m.contact?.phonebookId).toBe('41');
    expect(m.otherContacts).toEqual([{ phonebookId: '42', displayName: 'Anjali Patel', match: 'exact' }]);
  });

  it('lists at most 5 other contacts, lowest phonebookIds first', async () => {
    const many = Array.from({ length: 12 }, (_, i) => phonebookContact(String(100 - i), { cellNumber: '+91 99250 11111' }));
    const m = (await build(many)).lookup('09925011111');
    expect(m.contact?.phonebookId).toBe('89');
    expect(m.otherContacts.map((c) => c.phonebookId)).toEqual(['90', '91', '92', '93', '94']);
  });

  it('prefers a phone or cell number over a custom field, and an exact match over the last digits', async () => {
    const custom = phonebookContact('1', { customFields: { 'Office No': '+91 98250 98250' } });
    const cell = phonebookContact('9', { cellNumber: '9825098250' });
    const tailOnly = phonebookContact('2', { phoneNumber: '25098250' });
    const m = (await build([custom, cell, tailOnly])).lookup('+919825098250');
    expect(m.contact?.phonebookId).toBe('9');
    expect(m.otherContacts.map((c) => c.phonebookId)).toEqual(['1', '2']);
  });

  it('does not match two valid numbers that only share their last digits', async () => {
    const index = await build([phonebookContact('7', { phoneNumber: '+91 90000 12345' })]);
    expect(index.lookup('+91 91111 12345').contact).toBeNull();
  });

  it('finds numbers in custom fields, by name or by a phone-looking value', async () => {
    const index = await build([
      NISHA,
      phonebookContact('60', { customFields: { WhatsApp: '+44 7911 123456' } }),
      phonebookContact('61', { customFields: { 'Alt contact': '(212) 555-0123, 079 2630 1200' } }),
      phonebookContact('62', { customFields: { Joined: '20240115', 'Customer ID': '99887766' } }),
    ]);
    expect(index.lookup('9879973234').contact?.phonebookId).toBe('41');
    expect(index.lookup('+447911123456').contact?.phonebookId).toBe('60');
    expect(index.lookup('+91 79 2630 1200').contact?.phonebookId).toBe('61');
    expect(index.lookup('20240115').contact).toBeNull();
    expect(index.lookup('99887766').contact).toBeNull();
  });

  it('matches a contact by its extension', async () => {
    const index = await build([NISHA, ANJALI]);
    expect(index.lookup('101').contact?.phonebookId).toBe('41');
    expect(index.lookup('102').contact?.phonebookId).toBe('42');
  });

  it('returns null for an unknown number', async () => {
    const index = await build([NISHA, ANJALI, RAHUL]);
    expect(index.lookup('+919999999999')).toEqual({ from: '+919999999999', contact: null, otherContacts: [] });
    expect(index.lookup('555')).toEqual({ from: '555', contact: null, otherContacts: [] });
    expect(index.lookup('anonymous')).toEqual({ from: 'anonymous', contact: null, otherContacts: [] });
  });

  it('reads US numbers with a US default country', async () => {
    const index = await build([phonebookContact('70', { phoneNumber: '(415) 555-2671' })], 'US');
    expect(index.lookup('4155552671')).toMatchObject({ from: '+14155552671', contact: { phonebookId: '70' } });
    expect(index.lookup('+1 415-555-2671').contact?.phonebookId).toBe('70');
  });

  it('an empty index matches nothing', () => {
    expect(PhonebookIndex.empty('IN').lookup('09824740472')).toEqual({ from: '+919824740472', contact: null, otherContacts: [] });
  });
});

describe('PhonebookIndex.isExtension', () => {
  it("knows the tenant's extensions and keeps them as dialled", async () => {
    const index = await build([]);
    expect(index.isExtension('102')).toBe(true);
    expect(index.isExtension(' 118 ')).toBe(true);
    expect(index.isExtension('1001103')).toBe(true);
    expect(index.isExtension('103')).toBe(false);
    expect(index.isExtension('+102')).toBe(false);
    expect(index.lookup('1001103').from).toBe('1001103');
  });
});

describe('PhonebookIndex.build', () => {
  it('yields to the event loop while building a large phonebook', async () => {
    const contacts = Array.from({ length: 20_000 }, (_, i) => phonebookContact(String(i), { phoneNumber: `9${String(800000000 + i)}` }));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const index = await PhonebookIndex.build(contacts, [], [], 'IN', { sliceMs: 2 });
    clearInterval(timer);
    expect(index.size).toBe(20_000);
    expect(ticks).toBeGreaterThan(0);
    expect(index.lookup('09800000123').contact?.phonebookId).toBe('123');
  });
});

describe('NumberFieldClassifier', () => {
  it('treats fields by name and type', () => {
    const c = new NumberFieldClassifier(CUSTOM_FIELDS);
    expect(c.kind('Office No')).toBe('phone');
    expect(c.kind('Mobile 2')).toBe('phone');
    expect(c.kind('Fax')).toBe('phone');
    expect(c.kind('Company')).toBe('never');
    expect(c.kind('Joined')).toBe('never');
    expect(c.kind('Pin Code')).toBe('never');
    expect(c.kind('City')).toBe('maybe');
    expect(c.kind('Hotel')).toBe('maybe');
  });
});

describe('comparePhonebookIds', () => {
  it('orders numeric ids as numbers', () => {
    expect(['41', '9', '100', '042', 'abc'].sort(comparePhonebookIds)).toEqual(['9', '41', '042', '100', 'abc']);
  });
});

describe('PhonebookIndex lookup cache', () => {
  it('answers a repeated caller with an equal, separate result', async () => {
    const nisha: Contact = {
      phonebookId: '1',
      displayName: 'Nisha',
      firstName: 'Nisha',
      lastName: '',
      email: '',
      extension: '',
      phoneNumber: '+91 98247 40472',
      cellNumber: '',
      phoneGroup: '1',
      customFields: {},
    };
    const index = await PhonebookIndex.build([nisha], [], [], 'IN');
    const a = index.lookup('09824740472');
    const b = index.lookup('09824740472');
    expect(a.contact?.phonebookId).toBe('1');
    expect(b).toEqual(a);
    expect(b).not.toBe(a);
    expect(b.otherContacts).not.toBe(a.otherContacts);
    expect(index.lookup('+919824740472').contact?.phonebookId).toBe('1');
  });
});
