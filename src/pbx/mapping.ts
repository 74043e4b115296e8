/**
 * Maps the manual's list entries to the bridge's types. Lenient on purpose: a PBX (PHP behind it) may send
 * numbers as JSON numbers, leave fields out or null, and send an empty "Custom Details" as `[]`.
 */
import type { PbxContact, PbxCustomField, PbxExtension } from '../core/ports.js';
import { isJsonObject, type JsonObject } from './answer.js';

/** "Phonebook ID", "phonebook_id", "PhonebookId" all read the same. */
function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function scalarToString(value: unknown): string | null {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return null;
}

const NO_ALIASES: readonly string[] = [];

/**
 * Reads a field by its manual name, falling back to a case/space/underscore-insensitive match (only when
 * the exact name is absent, so the usual case costs one property read: phonebooks run to 100k entries).
 */
function field(entry: JsonObject, name: string, aliases: readonly string[] = NO_ALIASES): unknown {
  const exact = entry[name];
  if (exact !== undefined) return exact;
  const wanted = [name, ...aliases].map(normalizeKey);
  for (const key in entry) {
    if (wanted.includes(normalizeKey(key))) return entry[key];
  }
  return undefined;
}

function text(entry: JsonObject, name: string, aliases?: readonly string[]): string {
  return scalarToString(field(entry, name, aliases)) ?? '';
}

/**
 * "Custom Details" is an object of field name -> value in the manual. Scalars are stringified, nested
 * objects and nulls skipped. An array is accepted when it holds `{name, value}`-like pairs (and is the
 * usual PHP encoding of "no custom details" when empty).
 */
export function mapCustomDetails(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(raw)) {
    for (const item of raw) {
      if (!isJsonObject(item)) continue;
      const name = text(item, 'Field Name', ['name', 'key', 'label']);
      const value = scalarToString(field(item, 'Field Value', ['value']));
      if (name !== '' && value !== null) out[name] = value;
    }
    return out;
  }
  if (!isJsonObject(raw)) return out;
  for (const name in raw) {
    const str = scalarToString(raw[name]);
    const key = name.trim();
    if (str !== null && key !== '') out[key] = str;
  }
  return out;
}

export function mapContact(entry: JsonObject): PbxContact {
  const firstName = text(entry, 'First Name');
  const lastName = text(entry, 'Last Name');
  const displayName = text(entry, 'Display Name') || [firstName, lastName].filter((s) => s !== '').join(' ');
  return {
    phonebookId: text(entry, 'Phonebook ID', ['id']),
    firstName,
    lastName,
    displayName,
    extension: text(entry, 'Extension'),
    phoneNumber: text(entry, 'Phone Number'),
    cellNumber: text(entry, 'Cell Number', ['Mobile Number']),
    email: text(entry, 'Email ID', ['Email']),
    phoneGroup: text(entry, 'Phone Group'),
    customFields: mapCustomDetails(field(entry, 'Custom Details', ['Custom Fields'])),
  };
}

/** `{ext_id: "485", ext_name: "102_name-102"}` -> `{id: "485", name: "102_name-102", number: "102"}`. */
export function mapExtension(entry: JsonObject): PbxExtension {
  const name = text(entry, 'ext_name');
  const dash = name.lastIndexOf('-');
  return {
    id: text(entry, 'ext_id'),
    name,
    number: (dash === -1 ? name : name.slice(dash + 1)).trim(),
  };
}

export function mapCustomField(entry: JsonObject): PbxCustomField {
  const field: PbxCustomField = { name: text(entry, 'Field Name'), type: text(entry, 'Field Type') };
  field.required = /^(yes|y|true|1)$/i.test(text(entry, 'Field Required'));
  const items = text(entry, 'List of Items');
  if (items !== '') field.items = items.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const length = Number(text(entry, 'Field Length'));
  if (Number.isInteger(length) && length > 0) field.maxLength = length;
  return field;
}

/**
 * The `data` of a list answer as entries. Missing or null means empty; a keyed object (PHP's encoding of
 * an array with gaps) is read as its values; entries that are not objects are skipped. null when `data`
 * has a shape no list could have.
 */
export function listEntries(data: unknown): JsonObject[] | null {
  if (data === undefined || data === null) return [];
  const items = Array.isArray(data) ? data : isJsonObject(data) ? Object.values(data) : null;
  if (items === null) return null;
  return items.filter(isJsonObject);
}
