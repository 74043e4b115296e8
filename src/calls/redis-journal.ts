/**
 * The journal in Redis: one key per entry (expiring after CALL_JOURNAL_DAYS) and sorted sets by start time
 * (all calls, per number key, per extension) trimmed to the same window on every write.
 */
import type { Redis } from 'ioredis';
import type { CountryCode } from '../core/phone-number.js';
import {
  decodeCursor,
  encodeCursor,
  encodePosition,
  entryTime,
  journalNumberKeys,
  matchesQuery,
  searchKey,
  type CallJournal,
  type JournalEntry,
  type JournalPage,
  type JournalQuery,
} from './journal.js';

/** Index batches one list request reads at most before it answers (a short page, with a cursor to go on). */
const MAX_ROUNDS = 50;

export class RedisCallJournal implements CallJournal {
  private readonly retentionMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly country: CountryCode,
    retentionDays: number,
    private readonly now: () => number = Date.now,
  ) {
    this.retentionMs = retentionDays * 86_400_000;
  }

  private entryKey(id: string): string {
    return `${this.prefix}calls:journal:${id}`;
  }

  private indexKeys(e: JournalEntry): string[] {
    const keys = [`${this.prefix}calls:journal-by:all`];
    for (const k of new Set([...journalNumberKeys(e.fromRaw, this.country), ...journalNumberKeys(e.from, this.country)])) {
      keys.push(`${this.prefix}calls:journal-by:n:${k}`);
    }
    for (const x of new Set([...e.extensions, ...(e.answeredBy ? [e.answeredBy] : [])])) keys.push(`${this.prefix}calls:journal-by:x:${x}`);
    return keys;
  }

  async put(entry: JournalEntry): Promise<void> {
    const t = entryTime(entry);
    const ttl = Math.max(1000, t + this.retentionMs - this.now());
    const oldest = this.now() - this.retentionMs;
    const m = this.redis.multi().set(this.entryKey(entry.sessionId), JSON.stringify(entry), 'PX', ttl);
    for (const k of this.indexKeys(entry)) {
      m.zadd(k, t, entry.sessionId).zremrangebyscore(k, '-inf', `(${oldest}`).pexpire(k, this.retentionMs);
    }
    await m.exec();
  }

  async get(sessionId: string): Promise<JournalEntry | null> {
    const json = await this.redis.get(this.entryKey(sessionId));
    return json ? (JSON.parse(json) as JournalEntry) : null;
  }

  async list(q: JournalQuery): Promise<JournalPage> {
    const index = q.number
      ? `${this.prefix}calls:journal-by:n:${searchKey(q.number, this.country) ?? 'none'}`
      : q.extension
        ? `${this.prefix}calls:journal-by:x:${q.extension}`
        : `${this.prefix}calls:journal-by:all`;
    const cursor = q.cursor ? decodeCursor(q.cursor) : null;
    let max = cursor ? String(cursor.time) : q.until !== undefined ? String(q.until) : '+inf';
    const min = q.since !== undefined ? String(q.since) : '-inf';
    const out: JournalEntry[] = [];
    const batch = Math.max(20, q.limit * 2);
    /** How far down the index this request has looked: entries at or above it were read (or skipped). */
    let readUpTo = cursor;
    /** The index may hold more past readUpTo that this request did not look at (it stopped after MAX_ROUNDS). */
    let cutShort = false;
    // Read in batches until the page is full: the other filters are applied to what the index gives.
    for (let round = 0; ; round++) {
      if (round === MAX_ROUNDS) {
        cutShort = true;
        break;
      }
      const flat = await this.redis.zrevrangebyscore(index, max, min, 'WITHSCORES', 'LIMIT', 0, batch);
      const read = flat.length / 2;
      if (read === 0) break;
      const ids: string[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        const id = flat[i] as string;
        const time = Number(flat[i + 1]);
        // Ties with the place read up to come again (max is inclusive): those at or above it are done.
        if (readUpTo && (time > readUpTo.time || (time === readUpTo.time && id >= readUpTo.sessionId))) continue;
        ids.push(id);
        readUpTo = { time, sessionId: id };
      }
      // A whole batch of ties already read: no way forward by score (more than `batch` calls in one ms).
      if (ids.length === 0) break;
      const jsons = await this.redis.mget(ids.map((id) => this.entryKey(id)));
      for (const json of jsons) {
        if (!json) continue; // expired, its index entry not trimmed yet
        const e = JSON.parse(json) as JournalEntry;
        if (matchesQuery(e, q, this.country) && !out.some((o) => o.sessionId === e.sessionId)) out.push(e);
      }
      if (out.length > q.limit || read < batch) break;
      // Continue from the last place read (inclusive: ties are skipped by the check above).
      max = String((readUpTo as { time: number }).time);
    }
    out.sort((a, b) => entryTime(b) - entryTime(a) || (a.sessionId < b.sessionId ? 1 : -1));
    const calls = out.slice(0, q.limit);
    const last = calls[calls.length - 1];
    if (out.length > q.limit && last) return { calls, nextCursor: encodeCursor(last) };
    // Stopped looking before the index ended: a short page, and the cursor goes on from where it stopped, so
    // that null keeps meaning "nothing more" (a narrow filter over a busy index, e.g. a number on one extension).
    return { calls, nextCursor: cutShort && readUpTo ? encodePosition(readUpTo.time, readUpTo.sessionId) : null };
  }

  async close(): Promise<void> {}
}
