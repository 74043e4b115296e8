/** The event envelope of CONTRACT section 2: what agents and CRM systems receive. */

export const EVENT_TYPES = ['call.ringing', 'call.answered', 'call.ended', 'call.missed', 'call.completed', 'call.recording'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type CallState = 'ringing' | 'answered' | 'ended';

/** How a contact was found (docs/phonebook.md): the same number, or only the same last digits. */
export type ContactMatch = 'exact' | 'suffix';

/** A phonebook entry as the PBX holds it. */
export interface PhonebookContact {
  phonebookId: string;
  displayName: string;
  firstName: string;
  lastName: string;
  email: string;
  extension: string;
  phoneNumber: string;
  cellNumber: string;
  phoneGroup: string;
  customFields: Record<string, string>;
}

/** A phonebook entry as an event carries it: with how it matched the caller. */
export interface Contact extends PhonebookContact {
  match: ContactMatch;
}

export interface ContactSummary {
  phonebookId: string;
  displayName: string;
  match: ContactMatch;
}

export interface CallInfo {
  id: string | null;
  from: string;
  fromRaw: string;
  fromName: string | null;
  to: string;
  direction: 'inbound' | 'internal';
  /** The bridge's id for the whole call, the same on every leg and every event of it (docs/calls.md). */
  sessionId: string;
  /** On call.ended / call.missed: when the call was over, ISO 8601. */
  endedAt?: string;
}

/** The call's journal entry as call.completed carries it (docs/calls.md); unknown values are null. */
export interface CallRecord {
  startedAt: string;
  answeredAt: string | null;
  endedAt: string | null;
  durationS: number | null;
  talkS: number | null;
  answeredBy: string | null;
  caller: string;
  callee: string | null;
  recordingUrl: string | null;
  /** call_log: the PBX's call log had the row; observed: it had none in time, this is what the bridge saw. */
  source: 'call_log' | 'observed';
}

/** The ring group or queue a call came through (docs/calls.md, "Through which group"). */
export interface CallVia {
  kind: 'ring_group' | 'queue';
  name: string;
  number: string;
}

export interface CallEventData {
  extension: string;
  call: CallInfo;
  contact: Contact | null;
  otherContacts: ContactSummary[];
  links: { crm?: string };
  /** call.answered / call.ended: the extension that answered (null on call.ended when the PBX could not say). */
  answeredBy?: string | null;
  /** call.completed */
  cdr?: CallRecord;
  /** call.recording */
  recordingUrl?: string;
  /** Tracked calls: the ring group or queue it came through, null while unknown (docs/calls.md). */
  via?: CallVia | null;
}

/** An event before the event log gave it an id. */
export interface NewCallEvent {
  type: EventType;
  timestamp: string;
  data: CallEventData;
}

export interface CallEvent extends NewCallEvent {
  id: string;
}

/** An event as read back from the log: `json` is the whole envelope serialized once, sent as is to every socket. */
export interface StoredEvent {
  id: string;
  extension: string;
  type: EventType;
  json: string;
}

export function eventTypeForState(state: CallState): EventType {
  switch (state) {
    case 'ringing':
      return 'call.ringing';
    case 'answered':
      return 'call.answered';
    case 'ended':
      return 'call.ended';
  }
}

/**
 * Serializes the envelope with the id first, as in the contract's example. The body without the id is
 * serialized once at acceptance; this only splices the id in, so it never re-serializes the event.
 */
export function envelopeJson(id: string, bodyWithoutId: string): string {
  return `{"id":${JSON.stringify(id)},${bodyWithoutId.slice(1)}`;
}

/**
 * Event ids are Redis stream ids (`<ms>-<seq>`), or the memory log's counter in the same shape.
 * Returns negative, zero or positive like a comparator; an unparsable id sorts before every valid one.
 */
export function compareEventIds(a: string, b: string): number {
  const pa = parseEventId(a);
  const pb = parseEventId(b);
  if (!pa || !pb) return pa ? 1 : pb ? -1 : 0;
  if (pa[0] !== pb[0]) return pa[0] < pb[0] ? -1 : 1;
  if (pa[1] !== pb[1]) return pa[1] < pb[1] ? -1 : 1;
  return 0;
}

export function parseEventId(id: string): [bigint, bigint] | null {
  const m = /^(\d{1,20})-(\d{1,20})$/.exec(id);
  if (!m || m[1] === undefined || m[2] === undefined) return null;
  return [BigInt(m[1]), BigInt(m[2])];
}

export function isEventId(id: string): boolean {
  return parseEventId(id) !== null;
}
