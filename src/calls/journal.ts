/**
 * The call journal (docs/calls.md): completed calls, newest first, found by number (every written form, as
 * phonebook lookups match), by extension and by time. Redis keeps CALL_JOURNAL_DAYS; memory the last 10,000.
 */
import type { CallRecord, CallVia, Contact } from '../core/event.js';
import { readNumber, keysOf, type CountryCode } from '../core/phone-number.js';
import type { SentEvent } from './model.js';
import { sameNumber } from './numbers.js';

export interface JournalEntry {
  sessionId: string;
  callId: string | null;
  from: string;
  fromRaw: string;
  fromName: string | null;
  direction: 'inbound' | 'internal';
  contact: Contact | null;
  /** Every extension the call rang on, in order. */
  extensions: string[];
  answeredBy: string | null;
  /** The ring group or queue it came through; null when unknown (absent in entries journaled before it existed). */
  via?: CallVia | null;
  outcome: 'answered' | 'missed' | 'unknown';
  cdr: CallRecord;
  events: SentEvent[];
}

export interface JournalQuery {
  number?: string;
  extension?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  until?: number;
  limit: number;
  cursor?: string;
}

export interface JournalPage {
  calls: JournalEntry[];
  nextCursor: string | null;
}

export interface CallJournal {
  /** Adds or replaces the entry (the recording arrives after completion). */
  put(entry: JournalEntry): Promise<void>;
  get(sessionId: string): Promise<JournalEntry | null>;
  list(query: JournalQuery): Promise<JournalPage>;
  close(): Promise<void>;
}

/** The entry's place in the journal: when the call started. */
export function entryTime(e: JournalEntry): number {
  return Date.parse(e.cdr.startedAt);
}

/** The index keys a number is found under (src/core/phone-number.ts). */
export function journalNumberKeys(raw: string, country: CountryCode): string[] {
  return keysOf(readNumber(raw, country));
}

/** The key to search a number by: its E.164 form when it has one, else its last digits or short form. */
export function searchKey(raw: string, country: CountryCode): string | null {
  const keys = journalNumberKeys(raw, country);
  return keys[0] ?? null;
}

/** The filters applied after the index narrowed the candidates. */
export function matchesQuery(e: JournalEntry, q: JournalQuery, country: CountryCode): boolean {
  const t = entryTime(e);
  if (q.since !== undefined && t < q.since) return false;
  if (q.until !== undefined && t > q.until) return false;
  if (q.extension !== undefined && !e.extensions.includes(q.extension) && e.answeredBy !== q.extension) return false;
  if (q.number !== undefined && !sameNumber(e.fromRaw, q.number, country) && !sameNumber(e.from, q.number, country)) return false;
  return true;
}

/** Cursors are opaque to clients: the time and id of the last entry of the page. */
export function encodeCursor(e: JournalEntry): string {
  return encodePosition(entryTime(e), e.sessionId);
}

/** A cursor for a place in the journal (the entry there need not have matched the query). */
export function encodePosition(time: number, sessionId: string): string {
  return Buffer.from(JSON.stringify([time, sessionId])).toString('base64url');
}

export function decodeCursor(cursor: string): { time: number; sessionId: string } | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'string') return { time: v[0], sessionId: v[1] };
  } catch {
    return null;
  }
  return null;
}

/** Newest first; ties by session id, so a cursor never skips or repeats an entry. */
function newerFirst(a: JournalEntry, b: JournalEntry): number {
  return entryTime(b) - entryTime(a) || (a.sessionId < b.sessionId ? 1 : a.sessionId > b.sessionId ? -1 : 0);
}

function afterCursor(e: JournalEntry, c: { time: number; sessionId: string }): boolean {
  const t = entryTime(e);
  return t < c.time || (t === c.time && e.sessionId < c.sessionId);
}

export class MemoryCallJournal implements CallJournal {
  private readonly entries = new Map<string, JournalEntry>();

  constructor(
    private readonly country: CountryCode,
    private readonly maxEntries = 10_000,
  ) {}

  async put(entry: JournalEntry): Promise<void> {
    this.entries.delete(entry.sessionId);
    this.entries.set(entry.sessionId, structuredClone(entry));
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  async get(sessionId: string): Promise<JournalEntry | null> {
    const e = this.entries.get(sessionId);
    return e ? structuredClone(e) : null;
  }

  async list(q: JournalQuery): Promise<JournalPage> {
    const cursor = q.cursor ? decodeCursor(q.cursor) : null;
    const all = [...this.entries.values()]
      .filter((e) => matchesQuery(e, q, this.country) && (!cursor || afterCursor(e, cursor)))
      .sort(newerFirst);
    const calls = all.slice(0, q.limit).map((e) => structuredClone(e));
    const last = calls[calls.length - 1];
    return { calls, nextCursor: all.length > q.limit && last ? encodeCursor(last) : null };
  }

  async close(): Promise<void> {}
}
