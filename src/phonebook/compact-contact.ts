/**
 * One phonebook contact as one string: a JSON array of its fields in a fixed order. 100,000 contacts held as
 * objects (ten properties, ten strings and a custom-field object each) cost several times what one compact
 * string each costs; the index decodes a contact only when it matches a caller, and the shared snapshot is
 * these strings joined.
 */
import type { PhonebookContact } from '../core/event.js';

export function encodeContact(c: PhonebookContact): string {
  return JSON.stringify([
    c.phonebookId,
    c.displayName,
    c.firstName,
    c.lastName,
    c.email,
    c.extension,
    c.phoneNumber,
    c.cellNumber,
    c.phoneGroup,
    c.customFields,
  ]);
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** The contact of an encoded array (as JSON.parse gives it); null when it is not one. */
export function contactFromArray(v: unknown): PhonebookContact | null {
  if (!Array.isArray(v) || v.length < 10) return null;
  const custom: unknown = v[9];
  const customFields: Record<string, string> = {};
  if (typeof custom === 'object' && custom !== null && !Array.isArray(custom)) {
    for (const [name, value] of Object.entries(custom)) if (typeof value === 'string') customFields[name] = value;
  }
  return {
    phonebookId: str(v[0]),
    displayName: str(v[1]),
    firstName: str(v[2]),
    lastName: str(v[3]),
    email: str(v[4]),
    extension: str(v[5]),
    phoneNumber: str(v[6]),
    cellNumber: str(v[7]),
    phoneGroup: str(v[8]),
    customFields,
  };
}

export function decodeContact(entry: string): PhonebookContact | null {
  try {
    return contactFromArray(JSON.parse(entry));
  } catch {
    return null;
  }
}
