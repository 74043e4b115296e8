/**
 * The in-memory event log (no REDIS_URL): a ring of the newest events with ids shaped like Redis stream ids,
 * `<epoch>-<seq>` (`1796148375656-12`), and a bounded dedupe map. One process only; nothing survives a restart.
 *
 * The bridge gives the process's start time in ms as the epoch, so ids keep growing across a restart however
 * many events the earlier process issued: a client resuming with an id from before it is older than every new
 * event and is replayed all of them, instead of skipping the new ones whose number is not above its id (those
 * calls would never pop).
 */
import { ExpiringMap } from '../store/expiring-map.js';
import { compareEventIds, parseEventId, type NewCallEvent, type StoredEvent } from '../core/event.js';
import type { AppendResult, DedupeRule, EventLog, ReplayResult } from '../core/ports.js';
import { pino } from 'pino';
import type { Logger } from '../logger.js';
import { Fanout, type EventListener } from './fanout.js';
import { serializeEventBody, storedEvent } from './serialize.js';

export interface MemoryEventLogOptions {
  /** Where listener errors are reported. Default: a disabled logger (pass one in production). */
  logger?: Logger;
  /** How many of the newest events are kept for replay. Default 10,000. */
  maxEvents?: number;
  /** Upper bound on remembered dedupe keys; past it the oldest go first. Default 100,000. */
  maxDedupeKeys?: number;
  /** The ids' first part (`<epoch>-<seq>`; seq counts from 1). Default 0; the bridge passes its start time in ms. */
  epoch?: number;
  now?: () => number;
}


export function memoryEventId(epoch: number, seq: number): string {
  return `${String(epoch).padStart(13, '0')}-${seq}`;
}

export class MemoryEventLog implements EventLog {
  private readonly maxEvents: number;
  private readonly now: () => number;
  private readonly ring: Array<StoredEvent | undefined>;
  /** Every id's first part: ids issued by an earlier process have a smaller one. */
  private readonly epoch: number;
  /** Seq of the newest event (0: none yet). Event n lives in ring[n % maxEvents]. */
  private lastSeq = 0;
  private retained = 0;
  /** Dedupe key -> the first event's id, while the key's window lasts. */
  private readonly dedupe: ExpiringMap<string>;
  private readonly fanout: Fanout;
  private closed = false;

  constructor(opts: MemoryEventLogOptions = {}) {
    this.maxEvents = Math.max(1, Math.floor(opts.maxEvents ?? 10_000));
    this.now = opts.now ?? Date.now;
    this.epoch = Math.max(0, Math.floor(opts.epoch ?? 0));
    this.dedupe = new ExpiringMap<string>({ maxKeys: opts.maxDedupeKeys ?? 100_000, now: this.now });
    this.ring = new Array<StoredEvent | undefined>(this.maxEvents);
    this.fanout = new Fanout(opts.logger ?? pino({ enabled: false }));
  }

  async append(event: NewCallEvent, dedupe: DedupeRule | null): Promise<AppendResult> {
    if (this.closed) throw new Error('event log is closed');
    if (dedupe) {
      const seen = this.dedupe.get(dedupe.key);
      if (seen !== undefined) return { id: seen, duplicate: true };
    }
    const seq = ++this.lastSeq;
    const stored = storedEvent(memoryEventId(this.epoch, seq), event.data.extension, event.type, serializeEventBody(event));
    this.ring[seq % this.maxEvents] = stored;
    this.retained = Math.min(this.retained + 1, this.maxEvents);
    if (dedupe) this.dedupe.set(dedupe.key, stored.id, dedupe.ttlMs);
    this.fanout.publish(stored);
    return { id: stored.id, duplicate: false, json: stored.json };
  }

  async readAfter(afterId: string, limit: number): Promise<ReplayResult> {
    const parsed = parseEventId(afterId);
    // Malformed, or newer than anything this log issued: nothing to vouch for.
    if (!parsed || compareEventIds(afterId, memoryEventId(this.epoch, this.lastSeq)) > 0) return { events: [], complete: false };
    const firstSeq = this.lastSeq - this.retained + 1;
    // An id of an earlier process (a smaller epoch) is older than every event here: all of them follow it.
    const afterSeq = parsed[0] < BigInt(this.epoch) ? 0 : Number(parsed[1]);
    // Same rule as the Redis log: nothing trimmed yet, or the client already has the oldest event kept.
    const complete = firstSeq === 1 || afterSeq >= firstSeq;
    const from = Math.max(firstSeq, afterSeq + 1);
    const events: StoredEvent[] = [];
    for (let n = from; n <= this.lastSeq && events.length < limit; n++) {
      const e = this.ring[n % this.maxEvents];
      if (e) events.push(e);
    }
    return { events, complete };
  }

  async lastId(): Promise<string | null> {
    return this.lastSeq === 0 ? null : memoryEventId(this.epoch, this.lastSeq);
  }

  subscribe(listener: EventListener): () => void {
    return this.fanout.add(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.fanout.clear();
    this.dedupe.clear();
  }
}
