/**
 * Maps the manual's list entries to the bridge's types. Lenient on purpose: a PBX (PHP behind it) may send
 * numbers as JSON numbers, leave fields out or null, and send an empty "Custom Details" as `[]`.
 */
import type { PbxActiveCall, PbxCallGroup, PbxCallLogRow, PbxContact, PbxCustomField, PbxExtension } from '../core/ports.js';
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
  return { name: text(entry, 'Field Name'), type: text(entry, 'Field Type') };
}

/**
 * The `data` of a list answer as entries. Missing, null or "" means empty; a keyed object (PHP's encoding of
 * an array with gaps) is read as its values; entries that are not objects are skipped. null when `data`
 * has a shape no list could have.
 */
export function listEntries(data: unknown): JsonObject[] | null {
  // PHP back ends also write an empty list as "".
  if (data === undefined || data === null || data === '') return [];
  const items = Array.isArray(data) ? data : isJsonObject(data) ? Object.values(data) : null;
  if (items === null) return null;
  return items.filter(isJsonObject);
}

/**
 * Call rows write an empty value as `-` or `N/A` (integrators report both), or leave it empty: all read as
 * null, so a tracker never takes "-" for a caller or a time.
 */
function optionalText(entry: JsonObject, name: string, aliases?: readonly string[]): string | null {
  const value = scalarToString(field(entry, name, aliases));
  if (value === null || value === '' || value === '-' || value.toUpperCase() === 'N/A') return null;
  return value;
}

/** Every scalar field of a row as written (nested values and nulls left out), for operators. */
function rawRow(entry: JsonObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key in entry) {
    const value = scalarToString(entry[key]);
    if (value !== null) out[key] = value;
  }
  return out;
}

/** activeCalls: `{caller_number, callee_number, start_time}` (manual section "Active Calls"). */
export function mapActiveCall(entry: JsonObject): PbxActiveCall {
  return {
    callerNumber: optionalText(entry, 'caller_number', ['caller']) ?? '',
    calleeNumber: optionalText(entry, 'callee_number', ['callee']) ?? '',
    startTime: optionalText(entry, 'start_time'),
    raw: rawRow(entry),
  };
}

/**
 * callLog: the manual's `tenant_id, start_date, end_date, caller, callee, forward` and charges, plus the
 * extra fields integrators report when a row carries them (docs/simulator.md lists them).
 */
export function mapCallLogRow(entry: JsonObject): PbxCallLogRow {
  return {
    startDate: optionalText(entry, 'start_date'),
    endDate: optionalText(entry, 'end_date'),
    caller: optionalText(entry, 'caller'),
    callee: optionalText(entry, 'callee'),
    forward: optionalText(entry, 'forward'),
    callId: optionalText(entry, 'callid'),
    uniqueToken: optionalText(entry, 'unique_token'),
    direction: optionalText(entry, 'call_direction', ['direction']),
    callerName: optionalText(entry, 'caller_name'),
    calleeName: optionalText(entry, 'callee_name'),
    did: optionalText(entry, 'did'),
    answerTime: optionalText(entry, 'answer_time'),
    callStatus: optionalText(entry, 'call_status'),
    hangupBy: optionalText(entry, 'hangup_by'),
    recordingPath: optionalText(entry, 'call_rec_path', ['recording_path', 'recordingPath']),
    raw: rawRow(entry),
  };
}

/** getRingGroup: `{ring_group_id, ring_group_name, ring_group_extension}`. */
export function mapRingGroup(entry: JsonObject): PbxCallGroup {
  return {
    kind: 'ring_group',
    id: text(entry, 'ring_group_id'),
    name: text(entry, 'ring_group_name'),
    number: text(entry, 'ring_group_extension'),
  };
}

/** getQueue: `{queue_id, queue_name, queue_extension}`. */
export function mapQueue(entry: JsonObject): PbxCallGroup {
  return {
    kind: 'queue',
    id: text(entry, 'queue_id'),
    name: text(entry, 'queue_name'),
    number: text(entry, 'queue_extension'),
  };
}

/**
 * recordingPath's `data`: `{"recordingPath": URL}` in the manual; a bare string is read too. null when it
 * carries no path.
 */
export function recordingPathOf(data: unknown): string | null {
  if (typeof data === 'string') {
    const path = data.trim();
    return path === '' || path === '-' || path.toUpperCase() === 'N/A' ? null : path;
  }
  if (!isJsonObject(data)) return null;
  return optionalText(data, 'recordingPath', ['recording_path', 'path', 'url']);
}
