/**
 * The PBX's ringing callback (CONTRACT 3) read into one canonical shape, and the duplicate rule for it.
 * Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import { CallbackError } from '../errors.js';
import type { CallState } from './event.js';
import type { DedupeRule } from './ports.js';

/** The callback's fields the bridge reads; a site may add names for each (PBX_CALLBACK_FIELDS). */
export const CANONICAL_CALLBACK_FIELDS = ['extension', 'from', 'fromName', 'callId', 'state'] as const;
export type CanonicalCallbackField = (typeof CANONICAL_CALLBACK_FIELDS)[number];
/** A site's extra field names per canonical field, tried before the built-in aliases. */
export type CallbackFieldMap = Partial<Record<CanonicalCallbackField, string[]>>;

export interface NormalizedCallback {
  extension: string;
  /** The caller exactly as the PBX sent it (trimmed, control characters removed): the event's `fromRaw`. */
  from: string;
  fromName: string | null;
  callId: string | null;
  state: CallState;
  /**
   * Values that may name the ring group or queue the call came through (docs/calls.md, "Through which
   * group"): a group-like field, or another extension alias whose value is not the extension. Only hints:
   * the call tracker keeps those that are a ring group's or queue's number or name. Never refused.
   */
  viaHints?: string[];
}

/** The contract's aliases, in precedence order: the first listed name that carries a value wins. */
export const CALLBACK_FIELD_ALIASES: Readonly<Record<CanonicalCallbackField, readonly string[]>> = {
  extension: [
    'extension_number', 'extension', 'ext', 'ext_number', 'exten', 'callee', 'callee_number', 'called',
    'called_number', 'destination', 'destination_number', 'dst', 'to', 'Caller-Destination-Number',
  ],
  from: [
    'caller', 'caller_number', 'caller_id', 'callerid', 'caller_id_number', 'callerid_number', 'cid', 'cid_number',
    'from', 'src', 'source', 'ani', 'number', 'Caller-Caller-ID-Number',
  ],
  fromName: ['caller_name', 'callerid_name', 'caller_id_name', 'cid_name', 'from_name', 'Caller-Caller-ID-Name'],
  callId: ['call_id', 'callid', 'uniqueid', 'unique_id', 'uuid', 'Unique-ID', 'Channel-Call-UUID'],
  state: ['event', 'event_type', 'status', 'state', 'call_state', 'Event-Name', 'Answer-State'],
};

/** Field names that may carry the ring group / queue / dialled number (normalized as field names are). */
const VIA_FIELD_NAMES = [
  'ring_group', 'ring_group_number', 'ring_group_extension', 'ringgroup', 'ring_group_name', 'queue', 'queue_number',
  'queue_extension', 'queue_name', 'did', 'did_number', 'dialed_number', 'dialled_number', 'dnis', 'group', 'group_number',
].map(normalizeFieldName);
const MAX_VIA_HINTS = 8;

const CANONICAL_ORDER: readonly CanonicalCallbackField[] = CANONICAL_CALLBACK_FIELDS;

export const DUPLICATE_WINDOW_WITH_CALL_ID_MS = 24 * 60 * 60 * 1000;
export const DUPLICATE_WINDOW_WITHOUT_CALL_ID_MS = 10_000;

const MAX = { extension: 32, from: 64, fromName: 128, callId: 128 } as const;
const EXTENSION_PATTERN = /^(?=.*\d)[0-9+*#]+$/;

/** Field names compare without regard to case, `-` or `_`. */
export function normalizeFieldName(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

/**
 * normalizeFieldName of the names a PBX sends, remembered: every callback carries the same few names. Bounded
 * (names are the sender's choice): past the bound, new names are normalized every time.
 */
const normalizedNames = new Map<string, string>();
const MAX_REMEMBERED_NAMES = 1_000;

function normalizedName(name: string): string {
  let n = normalizedNames.get(name);
  if (n === undefined) {
    n = normalizeFieldName(name);
    if (normalizedNames.size < MAX_REMEMBERED_NAMES && name.length <= 64) normalizedNames.set(name, n);
  }
  return n;
}

/**
 * C0/C1 control characters and the Unicode bidi overrides (which can make a caller name display as
 * something else) are removed from every value.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function stripControlCharacters(value: string): string {
  return value.replace(UNSAFE_CHARS, '');
}

/**
 * Maps a state value. Case-insensitive; `*` in the contract is a prefix match. Returns null when the
 * value is not one the contract names.
 */
export function mapCallState(value: string): CallState | null {
  const v = value.trim().toLowerCase();
  if (v.startsWith('ring') || v === 'early' || v.startsWith('channel_progress')) return 'ringing';
  if (v.startsWith('answer') || v === 'channel_answer') return 'answered';
  if (v.startsWith('hangup') || v.startsWith('end') || v.startsWith('channel_hangup')) return 'ended';
  return null;
}

/**
 * Result words of HoduPBX-style answers (`{"status":"SUCCESS","data":{…}}`). A callback shaped like an
 * API answer carries them in `status`; they say nothing about the call, so they count as "no state".
 */
const RESULT_WORDS = new Set(['success', 'failed', 'failure', 'ok', 'error']);

interface FieldValue {
  /** The name as the PBX sent it, for messages. */
  name: string;
  value: unknown;
}

type FieldTable = Record<CanonicalCallbackField, string[]>;

/** Tables built per (never mutated) site field map: fieldTable() is read on every callback. */
const fieldTables = new WeakMap<CallbackFieldMap, FieldTable>();

/**
 * Site names first, then the built-in aliases, all in normalized form. A name the site assigned to one
 * field is taken out of the other fields' built-in aliases (a site mapping `number` to `extension`
 * means `number` is not the caller there).
 */
function fieldTable(extraNames: CallbackFieldMap): FieldTable {
  let table = fieldTables.get(extraNames);
  if (!table) fieldTables.set(extraNames, (table = buildFieldTable(extraNames)));
  return table;
}

function buildFieldTable(extraNames: CallbackFieldMap): FieldTable {
  const claimed = new Map<string, CanonicalCallbackField>();
  for (const field of CANONICAL_ORDER) {
    for (const name of extraNames[field] ?? []) {
      const n = normalizeFieldName(name);
      if (!claimed.has(n)) claimed.set(n, field);
    }
  }
  const table = {} as FieldTable;
  for (const field of CANONICAL_ORDER) {
    const names = [
      ...(extraNames[field] ?? []).map(normalizeFieldName),
      ...CALLBACK_FIELD_ALIASES[field].map(normalizeFieldName).filter((n) => (claimed.get(n) ?? field) === field),
    ];
    table[field] = [...new Set(names)];
  }
  return table;
}

/**
 * Indexes the fields by normalized name. Fields nested under a `data` object are merged over the top
 * level ones (the top level is then the envelope). When two names normalize alike, the later one wins.
 */
function indexFields(fields: Record<string, unknown>): Map<string, FieldValue> {
  const index = new Map<string, FieldValue>();
  addFields(index, fields);
  const data = fields['data'];
  if (isPlainObject(data)) addFields(index, data);
  return index;
}

function addFields(index: Map<string, FieldValue>, record: Record<string, unknown>): void {
  for (const name of Object.keys(record)) index.set(normalizedName(name), { name, value: record[name] });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function quoted(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
}

/** A field's value as a clean string; '' when absent or empty. Arrays, objects and booleans are refused. */
function scalar(field: FieldValue): string {
  const { value } = field;
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return stripControlCharacters(value).trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new CallbackError('CALLBACK_ERR_BAD_FIELD', `${quoted(field.name)} must be a string or a number`);
}

/** The first candidate name with a non-empty value, in precedence order. */
function pick(index: Map<string, FieldValue>, names: readonly string[]): { name: string; value: string } | null {
  for (const n of names) {
    const field = index.get(n);
    if (!field) continue;
    const value = scalar(field);
    if (value !== '') return { name: field.name, value };
  }
  return null;
}

function missingMessage(label: string, names: readonly string[], extraNames: readonly string[]): string {
  const shown = [...extraNames, ...names.filter((n) => !extraNames.includes(n)).slice(0, 6)];
  return `${label} is missing: send one of ${shown.join(', ')}, …`;
}

/**
 * State: every state name present is read in precedence order and the first recognised value wins, so
 * noise in one alias (`"status":"SUCCESS"`) never hides a real state in another. Result words in any
 * alias count as absent. No state at all means ringing. A state value that is present but recognised
 * by no alias is refused (400 naming the field): guessing "ringing" would pop a screen for a hangup.
 */
function readState(index: Map<string, FieldValue>, names: readonly string[]): CallState {
  let unknown: FieldValue | null = null;
  for (const n of names) {
    const field = index.get(n);
    if (!field) continue;
    const value = scalar(field);
    if (value === '' || RESULT_WORDS.has(value.toLowerCase())) continue;
    const state = mapCallState(value);
    if (state) return state;
    unknown ??= field;
  }
  if (unknown) {
    throw new CallbackError(
      'CALLBACK_ERR_BAD_FIELD',
      `state ${quoted(unknown.name)} has an unknown value: expected ring*, early, answer*, hangup*, end* or CHANNEL_PROGRESS*, CHANNEL_ANSWER, CHANNEL_HANGUP*`,
    );
  }
  return 'ringing';
}

/**
 * Reads a callback's fields (body merged over query by the caller; `data` merged here). Throws
 * CallbackError naming the field that is missing or wrong.
 */
export function normalizeCallback(fields: Record<string, unknown>, extraNames: CallbackFieldMap): NormalizedCallback {
  const table = fieldTable(extraNames);
  const index = indexFields(fields);

  const extension = pick(index, table.extension);
  if (!extension) {
    throw new CallbackError(
      'CALLBACK_ERR_NO_EXTENSION',
      missingMessage('extension', CALLBACK_FIELD_ALIASES.extension, extraNames.extension ?? []),
    );
  }
  if (extension.value.length > MAX.extension || !EXTENSION_PATTERN.test(extension.value)) {
    throw new CallbackError(
      'CALLBACK_ERR_BAD_FIELD',
      `extension ${quoted(extension.name)} must be digits (with +, * or # allowed), at most ${MAX.extension} characters`,
    );
  }

  const from = pick(index, table.from);
  if (!from) {
    throw new CallbackError('CALLBACK_ERR_NO_CALLER', missingMessage('caller (from)', CALLBACK_FIELD_ALIASES.from, extraNames.from ?? []));
  }
  // Any printable caller is accepted: real PBXs send "anonymous", "Restricted", SIP users.
  if (from.value.length > MAX.from) {
    throw new CallbackError('CALLBACK_ERR_BAD_FIELD', `caller ${quoted(from.name)} is longer than ${MAX.from} characters`);
  }

  // A long display name is cut, not refused: it is display only and never worth losing a call over.
  const fromName = pick(index, table.fromName)?.value.slice(0, MAX.fromName) ?? null;

  // A call id is refused rather than cut: two different ids cut alike would be taken for one call.
  const callId = pick(index, table.callId);
  if (callId && callId.value.length > MAX.callId) {
    throw new CallbackError('CALLBACK_ERR_BAD_FIELD', `call id ${quoted(callId.name)} is longer than ${MAX.callId} characters`);
  }

  const viaHints = readViaHints(index, table.extension, extension.value);
  return {
    extension: extension.value,
    from: from.value,
    fromName,
    callId: callId?.value ?? null,
    state: readState(index, table.state),
    ...(viaHints.length > 0 ? { viaHints } : {}),
  };
}

/**
 * Group-like fields first, then the other extension aliases carrying something else than the extension
 * (`extension_number=101` with `callee=5000`). Which one is the extension is unchanged: this only reads
 * what the extension's precedence left over. Values that are not plain short text are skipped, not refused.
 */
function readViaHints(index: Map<string, FieldValue>, extensionNames: readonly string[], extension: string): string[] {
  const hints: string[] = [];
  addViaHints(hints, index, VIA_FIELD_NAMES, extension);
  if (hints.length < MAX_VIA_HINTS) addViaHints(hints, index, extensionNames, extension);
  return hints;
}

function addViaHints(hints: string[], index: Map<string, FieldValue>, names: readonly string[], extension: string): void {
  for (const n of names) {
    const field = index.get(n);
    if (!field || (typeof field.value !== 'string' && typeof field.value !== 'number')) continue;
    const value = scalar(field);
    if (value === '' || value === extension || value.length > MAX.fromName || hints.includes(value)) continue;
    hints.push(value);
    if (hints.length >= MAX_VIA_HINTS) return;
  }
}

/**
 * The same callback again: with a call id, the same id, extension and state (kept a day, as long as
 * a PBX might retry); without one, the same fields within 10 s (CONTRACT 3).
 */
export function dedupeRule(cb: NormalizedCallback): DedupeRule {
  if (cb.callId !== null) {
    return { key: `c:${cb.callId}:${cb.extension}:${cb.state}`, ttlMs: DUPLICATE_WINDOW_WITH_CALL_ID_MS };
  }
  // JSON array rather than a joined string, so no value can make two different tuples hash alike.
  const digest = createHash('sha1')
    .update(JSON.stringify([cb.extension, cb.from, cb.fromName, cb.state]))
    .digest('hex');
  return { key: `f:${digest}`, ttlMs: DUPLICATE_WINDOW_WITHOUT_CALL_ID_MS };
}
