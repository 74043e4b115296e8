/**
 * The simulator's demo tenant, in the manual's own response format (section 48 "Get Phone Number", 47
 * "Get Phonebook Custom fields"). Written from the manual alone: nothing here comes from the bridge.
 */

/** One phonebook entry exactly as the manual's getPhoneNumber answer shows it. */
export type PhonebookEntry = {
  'Phonebook ID': string;
  'First Name': string;
  'Last Name': string;
  'Display Name': string;
  Extension: string;
  'Phone Number': string;
  'Cell Number': string;
  'Email ID': string;
  'Phone Group': string;
  'Custom Details': Record<string, string>;
};

/** One custom field definition as the manual's getPhonebookCustomfield answer shows it. */
export type CustomFieldDefinition = {
  Order: string;
  'Field Name': string;
  'Field Type': string;
  'Display In Profile': string;
  'Field Required': string;
  'Field Length': string;
  'List of Items'?: string;
};

export const DEMO_TOKEN = 'demo-token-0000';

/** Extension number -> web password. */
export const DEMO_EXTENSIONS: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(Array.from({ length: 10 }, (_, i) => [String(101 + i), `demo${101 + i}pass`])),
);

/** Extension number -> the name part of the manual's `ext_name` ("102_name-102"). */
export const DEMO_EXTENSION_NAMES: Readonly<Record<string, string>> = Object.freeze({
  '101': '101_reception',
  '102': '102_sales',
  '103': '103_support',
  '104': '104_billing',
  '105': '105_manager',
});

export const DEMO_CUSTOM_FIELDS: readonly CustomFieldDefinition[] = [
  {
    Order: '1',
    'Field Name': 'Company',
    'Field Type': 'DropDownList',
    'Display In Profile': 'YES',
    'Field Required': 'NO',
    'Field Length': '0',
    'List of Items': 'Hodusoft,Ecosmob,Acme Corp,Globex',
  },
  {
    Order: '2',
    'Field Name': 'City',
    'Field Type': 'Text',
    'Display In Profile': 'YES',
    'Field Required': 'YES',
    'Field Length': '10',
  },
  {
    Order: '3',
    'Field Name': 'Office No',
    'Field Type': 'Text',
    'Display In Profile': 'YES',
    'Field Required': 'NO',
    'Field Length': '20',
  },
];

function entry(
  id: number,
  first: string,
  last: string,
  numbers: { ext?: string; phone?: string; cell?: string },
  group: string,
  custom: Record<string, string>,
): PhonebookEntry {
  return {
    'Phonebook ID': String(id),
    'First Name': first,
    'Last Name': last,
    'Display Name': `${first} ${last}`.trim(),
    Extension: numbers.ext ?? '',
    'Phone Number': numbers.phone ?? '',
    'Cell Number': numbers.cell ?? '',
    'Email ID': `${first}.${last}`.toLowerCase().replace(/[^a-z.]/g, '') + '@example.com',
    'Phone Group': group,
    'Custom Details': custom,
  };
}

/**
 * ~20 contacts covering what matching has to cope with:
 * - 41 and 42 are the manual's own examples (they share the Cell Number 78768876, and Office No
 *   9879973234 appears only in their custom details);
 * - Indian numbers as +91, 0-prefixed, 0091 and national; US and UK numbers in several styles;
 * - 48 and 49 share a cell number; 53 and 54 have a number only in a custom field.
 */
export const DEMO_CONTACTS: readonly PhonebookEntry[] = [
  entry(41, 'Nisha', 'Patel', { ext: '101', phone: '98988778', cell: '78768876' }, '3', {
    Company: 'Ecosmob',
    City: 'Abd',
    'Office No': '9879973234',
  }),
  entry(42, 'Anjali', 'Patel', { ext: '102', phone: '94557758', cell: '78768876' }, '4', {
    Company: 'Ecosmob',
    City: 'Abd',
    'Office No': '9879973234',
  }),
  entry(43, 'Rahul', 'Sharma', { phone: '+91 98247 40472', cell: '09898012345' }, '1', { Company: 'Hodusoft', City: 'Ahmedabad' }),
  entry(44, 'Priya', 'Mehta', { phone: '0091 99090 12345' }, '1', { Company: 'Acme Corp', City: 'Mumbai' }),
  entry(45, 'Amit', 'Shah', { phone: '079 2630 1234', cell: '9825098250' }, '2', {
    Company: 'Hodusoft',
    City: 'Ahmedabad',
    'Office No': '079 2630 1200',
  }),
  entry(46, 'Deepa', 'Nair', { phone: '+919446012345' }, '2', { Company: 'Globex', City: 'Kochi' }),
  entry(47, 'Arjun', 'Reddy', { phone: '040-2345-6789', cell: '+91-90000-11111' }, '2', { Company: 'Globex', City: 'Hyderabad' }),
  entry(48, 'Vikram', 'Rao', { phone: '080 4123 4567', cell: '+91 99250 11223' }, '3', { Company: 'Acme Corp', City: 'Bengaluru' }),
  entry(49, 'Sunita', 'Rao', { cell: '9925011223' }, '3', { City: 'Bengaluru' }),
  entry(50, 'Emily', 'Carter', { phone: '(415) 555-0132' }, '5', { Company: 'Acme Corp', City: 'SF' }),
  entry(51, 'Michael', 'Johnson', { phone: '+1 415 555 0199', cell: '415.555.0143' }, '5', { Company: 'Globex', City: 'SF' }),
  entry(52, 'Sarah', 'Kim', { phone: '212-555-0147', cell: '+1 (646) 555-0178' }, '5', { Company: 'Globex', City: 'NYC' }),
  entry(53, 'Karan', 'Desai', {}, '1', { Company: 'Hodusoft', City: 'Surat', 'Office No': '0261 245 6789' }),
  entry(54, 'Meera', 'Iyer', {}, '1', { Company: 'Ecosmob', City: 'Chennai', Mobile: '+91 90990 55667' }),
  entry(55, 'Oliver', 'Bennett', { phone: '+44 20 7946 0958', cell: '07700 900461' }, '6', { Company: 'Acme Corp', City: 'London' }),
  entry(56, 'Rohan', 'Joshi', { phone: '02226591234', cell: '+918866554433' }, '1', { Company: 'Hodusoft', City: 'Mumbai' }),
  entry(57, 'Pooja', 'Singh', { cell: '7600012345' }, '4', { Company: 'Ecosmob', City: 'Delhi' }),
  entry(58, 'Sanjay', 'Kumar', { phone: '+91 11 4567 8901', cell: '09810098100' }, '4', { Company: 'Globex', City: 'Delhi' }),
  entry(59, 'Fatima', 'Khan', { phone: '00919723012345' }, '2', { Company: 'Hodusoft', City: 'Pune' }),
  entry(60, 'Neha', 'Gupta', { ext: '105', cell: '+91 98790 00105' }, '3', { Company: 'Ecosmob', City: 'Abd' }),
];

// ---------------------------------------------------------------------------------------------------
// Generated phonebooks for benchmarks.

const FIRST_NAMES = [
  'Aarav', 'Vivaan', 'Aditya', 'Ishaan', 'Kabir', 'Ananya', 'Diya', 'Saanvi', 'Myra', 'Kiara', 'James', 'Olivia',
  'Liam', 'Emma', 'Noah', 'Ava', 'Lucas', 'Mia', 'Ethan', 'Zara', 'Rohit', 'Sneha', 'Harsh', 'Kavya', 'Manish',
];
const LAST_NAMES = [
  'Patel', 'Shah', 'Mehta', 'Sharma', 'Iyer', 'Nair', 'Reddy', 'Gupta', 'Singh', 'Khan', 'Smith', 'Brown',
  'Wilson', 'Taylor', 'Clarke', 'Evans', 'Desai', 'Joshi', 'Rao', 'Kapoor',
];
const COMPANIES = ['Hodusoft', 'Ecosmob', 'Acme Corp', 'Globex'];
const IN_CITIES = ['Ahmedabad', 'Mumbai', 'Delhi', 'Pune', 'Surat', 'Chennai'];
const US_AREAS = ['212', '312', '415', '617', '702', '818', '206'];
const US_CELL_AREAS = ['646', '917', '628', '857', '725', '747', '425'];

/** Multiplying by a number coprime with the modulus permutes [0, modulus): unique inputs give unique outputs. */
const SCRAMBLE = 7919;

function scramble(k: number, modulus: number, offset: number): number {
  return (k * SCRAMBLE + offset) % modulus;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** An Indian 10-digit mobile written in one of the four forms people use. */
function indianNumber(lead: string, nine: string, form: number): string {
  const ten = lead + nine;
  switch (form) {
    case 0:
      return `+91 ${ten.slice(0, 5)} ${ten.slice(5)}`;
    case 1:
      return `0${ten}`;
    case 2:
      return `0091${ten}`;
    default:
      return ten;
  }
}

function usNumber(area: string, seven: number, form: number): string {
  const exchange = String(200 + Math.floor(seven / 10_000));
  const line = pad(seven % 10_000, 4);
  switch (form) {
    case 0:
      return `(${area}) ${exchange}-${line}`;
    case 1:
      return `+1 ${area} ${exchange} ${line}`;
    default:
      return `${area}-${exchange}-${line}`;
  }
}

/**
 * n distinct contacts in the manual's format, with numbers unique across the whole list (for n up to
 * several million): 60 % Indian, 30 % US, 10 % UK, in mixed writing styles. Deterministic for a seed.
 */
export function generateContacts(n: number, seed = 1): PhonebookEntry[] {
  const offset = Math.abs(Math.trunc(seed)) * 104_729;
  const contacts = new Array<PhonebookEntry>(n);
  for (let i = 0; i < n; i++) {
    const country = i % 10;
    // k is unique within one country bucket, so numbers built from it never repeat.
    const k = Math.floor(i / 10) * 10 + country;
    const first = FIRST_NAMES[i % FIRST_NAMES.length] ?? 'Alex';
    const last = LAST_NAMES[Math.floor(i / FIRST_NAMES.length) % LAST_NAMES.length] ?? 'Doe';
    const form = Math.floor(i / 10) % 4;
    let phone: string;
    let cell: string;
    let city: string;
    if (country < 6) {
      phone = indianNumber('9', pad(scramble(k, 1_000_000_000, offset), 9), form);
      cell = indianNumber('8', pad(scramble(k, 1_000_000_000, offset + 7), 9), (form + 1) % 4);
      city = IN_CITIES[i % IN_CITIES.length] ?? 'Mumbai';
    } else if (country < 9) {
      const slot = Math.floor(k / US_AREAS.length);
      phone = usNumber(US_AREAS[k % US_AREAS.length] ?? '415', scramble(slot, 8_000_000, offset), form % 3);
      cell = usNumber(US_CELL_AREAS[k % US_CELL_AREAS.length] ?? '646', scramble(slot, 8_000_000, offset + 3), (form + 1) % 3);
      city = 'New York';
    } else {
      phone = `+44 20 7${pad(scramble(k, 10_000_000, offset), 7).replace(/^(\d{3})/, '$1 ')}`;
      cell = `077${pad(scramble(k, 100_000_000, offset + 11), 8)}`;
      city = 'London';
    }
    const id = 1000 + i;
    contacts[i] = {
      'Phonebook ID': String(id),
      'First Name': first,
      'Last Name': last,
      'Display Name': `${first} ${last}`,
      Extension: '',
      'Phone Number': phone,
      'Cell Number': cell,
      'Email ID': `${first}.${last}.${id}@example.com`.toLowerCase(),
      'Phone Group': String(1 + (i % 5)),
      'Custom Details': { Company: COMPANIES[i % COMPANIES.length] ?? 'Acme Corp', City: city },
    };
  }
  return contacts;
}
