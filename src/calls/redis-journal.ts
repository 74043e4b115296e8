/**
 * The journal in Redis: one key per entry (expiring after CALL_JOURNAL_DAYS) and sorted sets by start time
 * (all calls, per number key, per extension) trimmed to the same window on every write.
 */
import type { Redis } from 'ioredis';
import type { CountryCode } from '../core/phone-number.js';
import {
  decodeCursor,
  encodeCursor,
  entryTime,
  journalNumberKeys,
  matchesQuery,
  searchKey,
  type CallJournal,
  type JournalEntry,
  type JournalPage,
  type JournalQuery,
} from './journal.js';

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
    let skipUntilPast = cursor;
    // Read in batches until the page is full: the other filters are applied to what the index gives.
    for (let round = 0; round < 50; round++) {
      const ids = await this.redis.zrevrangebyscore(index, max, min, 'LIMIT', 0, batch);
      if (ids.length === 0) break;
      const jsons = await this.redis.mget(ids.map((id) => this.entryKey(id)));
      let lastTime: number | null = null;
      let lastId = '';
      for (const json of jsons) {
        if (!json) continue;
        const e = JSON.parse(json) as JournalEntry;
        lastTime = entryTime(e);
        lastId = e.sessionId;
        if (skipUntilPast) {
          const t = entryTime(e);
          if (t > skipUntilPast.time || (t === skipUntilPast.time && e.sessionId >= skipUntilPast.sessionId)) continue;
        }
        if (matchesQuery(e, q, this.country) && !out.some((o) => o.sessionId === e.sessionId)) out.push(e);
      }
      if (out.length > q.limit || ids.length < batch || lastTime === null) break;
      // Continue from the last time read (inclusive: ties are skipped by the id check above).
      skipUntilPast = { time: lastTime, sessionId: lastId };
      max = String(lastTime);
    }
    out.sort((a, b) => entryTime(b) - entryTime(a) || (a.sessionId < b.sessionId ? 1 : -1));
    const calls = out.slice(0, q.limit);
    const last = calls[calls.length - 1];
    return { calls, nextCursor: out.length > q.limit && last ? encodeCursor(last) : null };
  }

  async close(): Promise<void> {}
}
