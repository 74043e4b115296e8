/**
 * The narrow ports the core needs from the outside world. Each has a Redis and a memory implementation
 * that pass one shared contract suite (test/integration/*-contract.test.ts).
 */
import type { NewCallEvent, PhonebookContact, StoredEvent } from './event.js';

export interface DedupeRule {
  /** Same key within ttlMs: the append is a duplicate and returns the first event's id. */
  key: string;
  ttlMs: number;
}

export interface AppendResult {
  id: string;
  duplicate: boolean;
  /** True when the log wrote the append's note (see AppendNote) with the event; otherwise the caller writes it. */
  noted?: boolean;
  /**
   * The new event's envelope as the log keeps it and sends it (an in-process log): lets the caller keep those
   * bytes instead of serializing the same data again. Unset for a duplicate and for logs elsewhere.
   */
  json?: string;
}

/**
 * A record a log that shares the caller's store may write beside the event, in the same step, once it has the
 * event's id: field `<fieldPrefix><id>` = value of the hash `key`, when that hash exists. Saves the caller a
 * round trip after the append; a log that cannot write it ignores it (AppendResult.noted stays unset).
 */
export interface AppendNote {
  key: string;
  fieldPrefix: string;
  value: string;
}

/**
 * The call tracker's group claim (src/calls/redis-store.ts) made in the same step as the append of the call's
 * first event: `groupKey` is set to `owner` (ttl groupTtlMs) when it is free or names `stale`; the record
 * `recordKey` (a hash {v: 1, json}) is written when absent, with its ttl, and `owner` joins `indexKey` at 0.
 * When the key names another owner, nothing is claimed and nothing is appended.
 */
export interface AppendClaim {
  groupKey: string;
  owner: string;
  groupTtlMs: number;
  stale: string | null;
  recordKey: string;
  recordJson: string;
  recordTtlMs: number;
  indexKey: string;
}

/** An appendClaimed outcome: appended (or found a duplicate, then nothing was claimed), or the group is `owner`'s. */
export type ClaimedAppend = { result: AppendResult } | { owner: string };

export interface ReplayResult {
  /** Events with an id greater than the one asked for, oldest first. */
  events: StoredEvent[];
  /** false when events after the asked id may have been trimmed already (the id is older than the log keeps). */
  complete: boolean;
}

/** The ordered event log every consumer reads: one Redis Stream, or an in-memory ring. */
export interface EventLog {
  /** Appends atomically with its duplicate check: two concurrent appends with one dedupe key yield one event. */
  append(event: NewCallEvent, dedupe: DedupeRule | null, note?: AppendNote | null): Promise<AppendResult>;
  /**
   * append() behind a claim, both in one atomic step (a log that shares the call store's Redis). null: the
   * shared log cannot be reached right now, nothing was sent (the caller goes on without the claim).
   */
  appendClaimed?(event: NewCallEvent, dedupe: DedupeRule | null, claim: AppendClaim, note: AppendNote | null): Promise<ClaimedAppend | null>;
  /** Events after `afterId`, oldest first, at most `limit`. */
  readAfter(afterId: string, limit: number): Promise<ReplayResult>;
  /** The newest event id, or null when the log is empty. */
  lastId(): Promise<string | null>;
  /** Every event appended from now on, by any instance, in id order. Returns the unsubscribe function. */
  subscribe(listener: (event: StoredEvent) => void): () => void;
  close(): Promise<void>;
}

/** A phonebook entry as the PBX client returns it (the manual's "Phonebook ID", "First Name", … mapped). */
export type PbxContact = PhonebookContact;

export interface PbxCustomField {
  name: string;
  type: string;
  /** The manual's "Field Required": createNumber refuses a contact without it. */
  required?: boolean;
  /** "List of Items" of a drop-down list, split on commas. */
  items?: string[];
  /** "Field Length" when above 0. */
  maxLength?: number;
}

/** What createNumber takes (manual section 10): first and last name, and one of extension, phone, cell. */
export interface PbxNewContact {
  firstName: string;
  lastName: string;
  displayName?: string;
  extension?: string;
  phoneNumber?: string;
  cellNumber?: string;
  email?: string;
  phoneGroup?: string;
  customFields?: Record<string, string>;
}

export interface PbxExtension {
  id: string;
  /** The manual's ext_name, e.g. "102_name-102". */
  name: string;
  /** The extension number, read from the part of ext_name after the last '-'. */
  number: string;
}

/** The HoduPBX calls the bridge makes. Implementations throw PbxError (src/errors.ts). */
export interface PbxApi extends PbxCallApi {
  crmSubscribe(extension: string, webPassword: string): Promise<void>;
  crmUnSubscribe(extension: string, webPassword: string): Promise<void>;
  /**
   * The whole phonebook. With `onBatch`, contacts are handed over a few hundred at a time as they are read
   * (100,000 of them as objects at once are most of a refresh's memory) and the list returned holds only
   * those not handed over (none, or all of them for an implementation that does not stream).
   */
  getPhoneNumber(onBatch?: (contacts: PbxContact[]) => Promise<void>): Promise<PbxContact[]>;
  getPhonebookCustomFields(): Promise<PbxCustomField[]>;
  getExtensions(): Promise<PbxExtension[]>;
  /**
   * Adds a phonebook entry (createNumber). Resolves with the new entry's Phonebook ID when the answer carries
   * one (the manual's does not), else null. A refusal is PBX_ERR_REJECTED carrying the manual's code
   * (src/pbx/refusals.ts tells "already exists" apart).
   */
  createNumber(contact: PbxNewContact): Promise<{ phonebookId: string | null }>;
}

/** A short-lived lock shared by all instances (one phonebook refresh at a time, one subscription leader). */
export interface Lock {
  /** Returns a token when acquired, null when someone else holds it. */
  acquire(name: string, ttlMs: number): Promise<string | null>;
  /** Extends a lock still held with that token; false when it was lost. */
  extend(name: string, token: string, ttlMs: number): Promise<boolean>;
  release(name: string, token: string): Promise<void>;
}

/** A small shared key-value store for versioned snapshots, counters and short lists. */
export interface KeyValueStore {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  del(key: string): Promise<void>;
  /** Increments a counter that expires ttlMs after its first increment; returns the new value. */
  incrWithTtl(key: string, ttlMs: number): Promise<number>;
  /**
   * Prepends to a list and keeps only the newest maxLength items. Several values (oldest first) go in one
   * write; the last one ends up first in the list.
   */
  pushCapped(key: string, value: string | readonly string[], maxLength: number): Promise<void>;
  /** The list, newest first. */
  list(key: string): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * The PBX calls the call tracker makes (docs/calls.md). Rows carry what the manual shows and, when present,
 * the extra fields integrators report; `-`, `N/A` and empty strings are read as null.
 */
export interface PbxActiveCall {
  /** caller_number */
  callerNumber: string;
  /** callee_number: an extension, or a ring group's / queue's number on some PBXs */
  calleeNumber: string;
  /** start_time as written, in the PBX's local time ("YYYY-MM-DD HH:mm:ss"), or null */
  startTime: string | null;
  /** Every field of the row as the PBX wrote it, for operators. */
  raw: Record<string, string>;
}

export interface PbxCallLogQuery {
  /** YYYY-MM-DD in the PBX's local time */
  startDate: string;
  endDate: string;
  /** An extension or external number (optional in the manual). */
  number?: string;
}

export interface PbxCallLogRow {
  /** start_date / end_date as written, PBX local time */
  startDate: string | null;
  endDate: string | null;
  caller: string | null;
  callee: string | null;
  forward: string | null;
  /** The extra fields integrators report; null when the row does not carry them. */
  callId: string | null;
  uniqueToken: string | null;
  direction: string | null;
  callerName: string | null;
  calleeName: string | null;
  did: string | null;
  answerTime: string | null;
  callStatus: string | null;
  hangupBy: string | null;
  recordingPath: string | null;
  raw: Record<string, string>;
}

/** A ring group or a queue (getRingGroup / getQueue), so a pop can say "via Sales (5000)". */
export interface PbxCallGroup {
  kind: 'ring_group' | 'queue';
  id: string;
  name: string;
  number: string;
}

export interface PbxCallApi {
  activeCalls(): Promise<PbxActiveCall[]>;
  /** The manual's "No Call Log Details Found" is an empty list (src/pbx/ reads the PBX's status codes). */
  callLog(query: PbxCallLogQuery): Promise<PbxCallLogRow[]>;
  /** null while the PBX answers "No Recording Found" (not yet). */
  recordingPath(callId: string): Promise<string | null>;
  /** "Data Not Found" is an empty list. */
  getRingGroups(): Promise<PbxCallGroup[]>;
  getQueues(): Promise<PbxCallGroup[]>;
}
