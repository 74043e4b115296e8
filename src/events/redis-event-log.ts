/**
 * The shared event log: one Redis Stream (`<prefix>events`) every instance appends to and tails.
 *
 * Connections are borrowed, never owned: the caller passes `redis` (commands) and `subscriberRedis` (a
 * dedicated connection this log blocks on with XREAD) and quits them itself, after close(). close() ends the
 * tail loop promptly without touching either connection: it sets a stop flag and asks Redis to
 * `CLIENT UNBLOCK` the subscriber connection (over the command connection), so it never waits out BLOCK.
 */
import type { Redis } from 'ioredis';
import { compareEventIds, EVENT_TYPES, parseEventId, type EventType, type NewCallEvent, type StoredEvent } from '../core/event.js';
import type { AppendClaim, AppendNote, AppendResult, ClaimedAppend, DedupeRule, EventLog, ReplayResult } from '../core/ports.js';
import type { Logger } from '../logger.js';
import { Fanout, type EventListener } from './fanout.js';
import type { TaggedEvent } from './tagged-event.js';
import { serializeEventBody, storedEvent } from './serialize.js';
import { RedisStreamTail } from './redis-stream-tail.js';
import { readStreamInfo, type StreamInfo } from './redis-stream-info.js';
import { defineLuaScript } from '../store/lua.js';

export interface RedisEventLogOptions {
  /** Command connection (shared with others). */
  redis: Redis;
  /** Dedicated connection for the blocking tail read; nothing else may use it. */
  subscriberRedis: Redis;
  prefix: string;
  logger: Logger;
  /** Trim target. Default 10,000. */
  maxEvents?: number;
  /** `approximate` (MAXLEN ~, keeps at least maxEvents, cheap; the default) or `exact` (MAXLEN =). */
  trim?: 'approximate' | 'exact';
  /** How long one XREAD blocks. Default 2000 ms. */
  blockMs?: number;
  /** Tail retry backoff while Redis is unreachable. Defaults 100 ms doubling to 5000 ms. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /**
   * After a tail read that brought entries, wait this long before reading again (see RedisStreamTail), so a
   * high append rate does not wake the blocked read once per append for this instance's own entries (their
   * appends deliver them); other instances' events reach this instance's sockets at most this much later.
   * Default 5 ms; 0: read again at once.
   */
  readPauseMs?: number;
}

/**
 * Appends a batch (the appends of one turn of the event loop) in one call, in order.
 * KEYS[1] stream, then 5 per entry i (from k = 2 + 5i): dedupe key, note hash, claim's group key, claim's
 * record, claim's index (the stream key again for each one unused).
 * ARGV: maxlen, trim operator (~ or =), then 12 per entry: dedupe ttl ms (0: none), body, extension, type,
 * origin tag ('' for none), note field prefix, note value ('' for no note), claim owner ('' for no claim), group
 * ttl ms, stale owner, record json, record ttl ms.
 * - A claim (AppendClaim in core/ports.ts; the same rule as the call store's hbCallGroupClaimBatch) comes
 *   first: a group key naming another owner answers {owner, 2, ''} and nothing is written; a duplicate then
 *   answers before anything is claimed.
 * - A note is written as field `<prefix><entry id>` of its hash, only when the hash exists (the call tracker's
 *   record of the ringing event beside its session; see docs/performance.md). When the note's hash is the
 *   claim's new record, both are one HSET (written after the XADD, which gives the note its id).
 * Answers per entry {id, duplicate (0/1; 2: claim refused), the id of the entry just before it ('0-0': none;
 * '' when nothing was appended)}.
 */
export const APPEND_SCRIPT = defineLuaScript(
  'hbEventAppendBatch',
  `
local out = {}
local n = (#ARGV - 2) / 12
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local prev = '0-0'
if newest[1] then prev = newest[1][1] end
for i = 0, n - 1 do
  local b = 2 + i * 12
  local k = 1 + i * 5
  local ttl = tonumber(ARGV[b + 1])
  local owner = ARGV[b + 8]
  local taken = false
  if owner ~= '' then
    local cur = redis.call('GET', KEYS[k + 3])
    if cur and cur ~= ARGV[b + 10] then taken = cur end
  end
  local existing = false
  if not taken and ttl > 0 then existing = redis.call('GET', KEYS[k + 1]) end
  if taken then
    out[#out + 1] = taken
    out[#out + 1] = 2
    out[#out + 1] = ''
  elseif existing then
    out[#out + 1] = existing
    out[#out + 1] = 1
    out[#out + 1] = ''
  else
    local record = false
    if owner ~= '' then
      redis.call('SET', KEYS[k + 3], owner, 'PX', ARGV[b + 9])
      record = redis.call('EXISTS', KEYS[k + 4]) == 0
    end
    local id
    if ARGV[b + 5] ~= '' then
      id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], ARGV[1], '*', 'e', ARGV[b + 2], 'x', ARGV[b + 3], 't', ARGV[b + 4], 'o', ARGV[b + 5])
    else
      id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], ARGV[1], '*', 'e', ARGV[b + 2], 'x', ARGV[b + 3], 't', ARGV[b + 4])
    end
    if ttl > 0 then redis.call('SET', KEYS[k + 1], id, 'PX', ttl) end
    local note = ARGV[b + 7] ~= ''
    if record then
      if note and KEYS[k + 2] == KEYS[k + 4] then
        redis.call('HSET', KEYS[k + 4], 'v', 1, 'json', ARGV[b + 11], ARGV[b + 6] .. id, ARGV[b + 7])
        note = false
      else
        redis.call('HSET', KEYS[k + 4], 'v', 1, 'json', ARGV[b + 11])
      end
      redis.call('PEXPIRE', KEYS[k + 4], ARGV[b + 12])
      redis.call('ZADD', KEYS[k + 5], 0, owner)
    end
    if note and redis.call('EXISTS', KEYS[k + 2]) == 1 then
      redis.call('HSET', KEYS[k + 2], ARGV[b + 6] .. id, ARGV[b + 7])
    end
    out[#out + 1] = id
    out[#out + 1] = 0
    out[#out + 1] = prev
    prev = id
  end
end
return out
`,
  undefined,
  { batchesItself: true },
);

/** The most appends sent in one script call; more in one loop turn go in further calls. */
const MAX_BATCH = 256;

interface QueuedAppend {
  event: NewCallEvent;
  body: string;
  origin: string;
  dedupeKey: string;
  ttl: number;
  note: AppendNote | null;
  claim: AppendClaim | null;
  resolve: (r: ClaimedAppend) => void;
  reject: (err: unknown) => void;
}

/** One event accepted during an outage, as the resilient log hands it back to the stream. */
export interface BufferedAppend {
  /** The provisional id it was delivered under during the outage (for logs only: the stream gives it a new one). */
  id: string;
  body: string;
  extension: string;
  type: EventType;
  dedupeKey: string | null;
  /** What is left of its duplicate window; <= 0: no dedupe key is written. */
  dedupeTtlMs: number;
  origin: string;
}

export type BufferedOutcome = 'shared' | 'duplicate';

/** Redis stream ids are two unsigned 64-bit numbers; anything bigger is an error on the server. */
const MAX_U64 = 2n ** 64n - 1n;

export class RedisEventLog implements EventLog {
  private readonly redis: Redis;
  private readonly streamKey: string;
  private readonly dedupePrefix: string;
  private readonly maxEvents: number;
  private readonly trimOperator: '~' | '=';
  private readonly fanout: Fanout<TaggedEvent>;
  private readonly tail: RedisStreamTail;
  /**
   * The newest id handed to listeners, in stream order: by the tail, or by an append whose entry directly
   * follows it (then the append delivers its own event at once instead of waiting for the tail to read it
   * back, and the tail skips it). null until the tail knows where the stream ends.
   */
  private deliveredUpTo: string | null = null;
  /** Appends of this loop turn, sent together from setImmediate. */
  private queued: QueuedAppend[] = [];

  constructor(opts: RedisEventLogOptions) {
    this.redis = opts.redis;
    this.streamKey = `${opts.prefix}events`;
    this.dedupePrefix = `${opts.prefix}dedupe:`;
    this.maxEvents = Math.max(1, Math.floor(opts.maxEvents ?? 10_000));
    this.trimOperator = opts.trim === 'exact' ? '=' : '~';
    this.fanout = new Fanout<TaggedEvent>(opts.logger);
    this.tail = new RedisStreamTail({
      redis: opts.redis,
      subscriberRedis: opts.subscriberRedis,
      streamKey: this.streamKey,
      logger: opts.logger,
      blockMs: opts.blockMs ?? 2000,
      retryMinMs: opts.retryMinMs ?? 100,
      retryMaxMs: opts.retryMaxMs ?? 5000,
      readPauseMs: opts.readPauseMs ?? 5,
      onPositioned: (id) => {
        this.deliveredUpTo ??= id;
      },
      deliveredUpTo: () => this.deliveredUpTo,
      onEntry: (id, fields) => {
        if (this.deliveredUpTo !== null && compareEventIds(id, this.deliveredUpTo) <= 0) return;
        this.deliveredUpTo = id;
        const event = toStoredEvent(id, fields);
        if (event) this.fanout.publish(event);
        else opts.logger.warn({ eventId: id }, 'skipping a malformed event log entry');
      },
    });
  }

  /** Starts tailing from the stream's current end; resolves once that position is known. Idempotent. */
  start(): Promise<void> {
    return this.tail.start();
  }

  append(event: NewCallEvent, dedupe: DedupeRule | null, note?: AppendNote | null): Promise<AppendResult> {
    return this.appendTagged(event, dedupe, '', note);
  }

  /**
   * append() that also stores `origin` (field `o`) with the entry, so the appending instance can recognise it
   * when its tail reads it. Appends made in one loop turn go to Redis as one script call (see sendQueued).
   */
  appendTagged(event: NewCallEvent, dedupe: DedupeRule | null, origin: string, note?: AppendNote | null): Promise<AppendResult> {
    return this.enqueue(event, dedupe, origin, note ?? null, null).then((r) => {
      if ('result' in r) return r.result;
      throw new Error('unexpected reply from the append script');
    });
  }

  /** appendTagged() behind a claim: both in the same script run, so a new call costs one round trip. */
  appendClaimed(event: NewCallEvent, dedupe: DedupeRule | null, claim: AppendClaim, note: AppendNote | null, origin = ''): Promise<ClaimedAppend> {
    return this.enqueue(event, dedupe, origin, note, claim);
  }

  private enqueue(event: NewCallEvent, dedupe: DedupeRule | null, origin: string, note: AppendNote | null, claim: AppendClaim | null): Promise<ClaimedAppend> {
    return new Promise<ClaimedAppend>((resolve, reject) => {
      this.queued.push({
        event,
        body: serializeEventBody(event),
        origin,
        dedupeKey: dedupe ? this.dedupePrefix + dedupe.key : this.streamKey,
        ttl: dedupe ? Math.max(1, Math.ceil(dedupe.ttlMs)) : 0,
        note,
        claim,
        resolve,
        reject,
      });
      // setImmediate, not nextTick: every callback read in this turn of the loop joins the batch.
      if (this.queued.length === 1) setImmediate(() => this.sendQueued());
    });
  }

  /**
   * Sends what was queued in this loop turn: callbacks read in one poll (or whose claims came back in one
   * reply batch) append together, one round trip and one script run instead of one each.
   */
  private sendQueued(): void {
    const all = this.queued;
    this.queued = [];
    for (let start = 0; start < all.length; start += MAX_BATCH) {
      const batch = all.slice(start, start + MAX_BATCH);
      const keys = [this.streamKey];
      const args: string[] = [String(this.maxEvents), this.trimOperator];
      for (const q of batch) {
        const { note, claim } = q;
        const none = this.streamKey;
        keys.push(q.dedupeKey, note ? note.key : none, claim ? claim.groupKey : none, claim ? claim.recordKey : none, claim ? claim.indexKey : none);
        args.push(String(q.ttl), q.body, q.event.data.extension, q.event.type, q.origin, note?.fieldPrefix ?? '', note?.value ?? '');
        if (claim) {
          const groupTtl = String(Math.max(1, Math.ceil(claim.groupTtlMs)));
          args.push(claim.owner, groupTtl, claim.stale ?? '', claim.recordJson, String(Math.max(1, Math.ceil(claim.recordTtlMs))));
        } else {
          args.push('', '', '', '', '');
        }
      }
      APPEND_SCRIPT.run(this.redis, keys, args).then(
        (reply) => this.settle(batch, reply),
        (err: unknown) => {
          for (const q of batch) q.reject(err);
        },
      );
    }
  }

  private settle(batch: QueuedAppend[], reply: unknown): void {
    if (!Array.isArray(reply) || reply.length !== batch.length * 3) {
      const err = new Error('unexpected reply from the append script');
      for (const q of batch) q.reject(err);
      return;
    }
    batch.forEach((q, i) => {
      const id: unknown = reply[i * 3];
      if (typeof id !== 'string') {
        q.reject(new Error('unexpected reply from the append script'));
        return;
      }
      const flag: unknown = reply[i * 3 + 1];
      if (flag === 2) {
        q.resolve({ owner: id });
        return;
      }
      const duplicate = flag === 1;
      // Everything before this entry was delivered already: deliver it now, in order, without the tail's round trip.
      if (!duplicate && this.deliveredUpTo !== null && reply[i * 3 + 2] === this.deliveredUpTo) {
        this.deliveredUpTo = id;
        const stored: TaggedEvent = storedEvent(id, q.event.data.extension, q.event.type, q.body);
        if (q.origin) stored.origin = q.origin;
        this.fanout.publish(stored);
      }
      q.resolve({ result: q.note && !duplicate ? { id, duplicate, noted: true } : { id, duplicate } });
    });
  }

  /** Appends events accepted during an outage in one atomic step, in order, under new ids. */
  async appendBuffered(entries: BufferedAppend[]): Promise<Array<{ id: string; outcome: BufferedOutcome }>> {
    if (entries.length === 0) return [];
    const keys = [this.streamKey];
    const args = [String(this.maxEvents), this.trimOperator];
    for (const e of entries) {
      const ttl = e.dedupeKey && e.dedupeTtlMs > 0 ? Math.max(1, Math.ceil(e.dedupeTtlMs)) : 0;
      const none = this.streamKey;
      keys.push(ttl > 0 && e.dedupeKey ? this.dedupePrefix + e.dedupeKey : none, none, none, none, none);
      args.push(String(ttl), e.body, e.extension, e.type, e.origin, '', '', '', '', '', '', '');
    }
    // The same script as live appends: under `*` each gets a new id above everything any instance has read, so
    // every tail and every resume sees it; a taken dedupe key means it (or the same callback accepted by another
    // instance) is in the stream already, under that id.
    const reply = await APPEND_SCRIPT.run(this.redis, keys, args);
    if (!Array.isArray(reply) || reply.length !== entries.length * 3) throw new Error('unexpected reply from the append script');
    const out: Array<{ id: string; outcome: BufferedOutcome }> = [];
    for (let i = 0; i < reply.length; i += 3) {
      const id: unknown = reply[i];
      if (typeof id !== 'string') throw new Error('unexpected reply from the append script');
      out.push({ id, outcome: reply[i + 1] === 1 ? 'duplicate' : 'shared' });
    }
    return out;
  }

  async readAfter(afterId: string, limit: number): Promise<ReplayResult> {
    const parsed = parseEventId(afterId);
    if (!parsed || parsed[0] > MAX_U64 || parsed[1] > MAX_U64) return { events: [], complete: false };
    // One transaction, so the range and the trim watermark describe the same moment.
    const count = Math.max(0, Math.floor(limit));
    const tx = this.redis.multi();
    if (count > 0) tx.xrange(this.streamKey, `(${afterId}`, '+', 'COUNT', count);
    const results = await tx.xinfo('STREAM', this.streamKey).exec();
    if (!results) throw new Error('event log read was aborted');
    const rangeResult = count > 0 ? results[0] : undefined;
    const infoResult = results[results.length - 1];
    if (rangeResult?.[0]) throw rangeResult[0];
    const info = readStreamInfo(infoResult);
    const entries = (rangeResult?.[1] ?? []) as Array<[string, string[]]>;
    const events: StoredEvent[] = [];
    for (const [id, fields] of entries) {
      const e = toStoredEvent(id, fields);
      if (e) events.push(e);
    }
    return { events, complete: isComplete(afterId, info) };
  }

  async lastId(): Promise<string | null> {
    const newest = await this.redis.xrevrange(this.streamKey, '+', '-', 'COUNT', 1);
    return newest[0]?.[0] ?? null;
  }

  subscribe(listener: EventListener<TaggedEvent>): () => void {
    const unsubscribe = this.fanout.add(listener);
    // Lazily, for callers that did not await start(); failures are retried and logged by the tail itself.
    void this.tail.start();
    return unsubscribe;
  }

  /** Stops the tail loop and drops listeners. Leaves both connections open: they belong to the caller. */
  async close(): Promise<void> {
    this.fanout.clear();
    await this.tail.stop();
  }

}

/**
 * Whether nothing after `afterId` was trimmed. Redis does not record a trim watermark (max-deleted-entry-id
 * only follows XDEL), so: complete when nothing was ever trimmed, or when the client already has the oldest
 * entry still kept. An id that was itself trimmed counts as older than what the log keeps.
 */
export function isComplete(afterId: string, info: StreamInfo): boolean {
  // An id newer than anything the stream generated (e.g. from before a FLUSHALL) is not ours to vouch for.
  if (compareEventIds(afterId, info.lastGeneratedId) > 0) return false;
  const trimmed = info.entriesAdded === null || info.entriesAdded > info.length;
  if (!trimmed) return true;
  if (info.firstEntryId === null) return compareEventIds(afterId, info.lastGeneratedId) >= 0;
  return compareEventIds(afterId, info.firstEntryId) >= 0;
}

const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);

/** Stream fields: `e` envelope JSON without id, `x` extension, `t` type, optional `o` origin tag. */
export function toStoredEvent(id: string, fields: string[]): TaggedEvent | null {
  let body: string | undefined;
  let extension: string | undefined;
  let type: string | undefined;
  let origin: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1];
    if (fields[i] === 'e') body = value;
    else if (fields[i] === 'x') extension = value;
    else if (fields[i] === 't') type = value;
    else if (fields[i] === 'o') origin = value;
  }
  if (!body?.startsWith('{') || extension === undefined || type === undefined || !EVENT_TYPE_SET.has(type)) return null;
  const event: TaggedEvent = storedEvent(id, extension, type as EventType, body);
  if (origin) event.origin = origin;
  return event;
}
