/**
 * The in-memory event log (no REDIS_URL): a ring of the newest events with ids shaped like Redis stream ids
 * (`0000000000012-0`), and a bounded dedupe map. One process only; nothing survives a restart.
 *
 * The bridge starts the counter at the process's start time in ms (`firstId`), so ids keep growing across a
 * restart: a client resuming with an id from before it is older than every new event and is replayed all of
 * them, instead of skipping the new ones whose counter is not above its id (those calls never popped). That
 * holds unless the earlier process appended more than one event per ms of its whole life.
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
  /** The counter before the first event (its id is `firstId + 1`). Default 0; the bridge passes its start time in ms. */
  firstId?: number;
  now?: () => number;
}


export function memoryEventId(counter: number): string {
  return `${String(counter).padStart(13, '0')}-0`;
}

export class MemoryEventLog implements EventLog {
  private readonly maxEvents: number;
  private readonly now: () => number;
  private readonly ring: Array<StoredEvent | undefined>;
  /** The counter before the first event: ids issued by an earlier process are at most this. */
  private readonly base: number;
  /** Counter of the newest event (base: none yet). Event n lives in ring[n % maxEvents]. */
  private lastCounter: number;
  private retained = 0;
  /** Dedupe key -> the first event's id, while the key's window lasts. */
  private readonly dedupe: ExpiringMap<string>;
  private readonly fanout: Fanout;
  private closed = false;

  constructor(opts: MemoryEventLogOptions = {}) {
    this.maxEvents = Math.max(1, Math.floor(opts.maxEvents ?? 10_000));
    this.now = opts.now ?? Date.now;
    this.base = Math.max(0, Math.floor(opts.firstId ?? 0));
    this.lastCounter = this.base;
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
    const counter = ++this.lastCounter;
    const stored = storedEvent(memoryEventId(counter), event.data.extension, event.type, serializeEventBody(event));
    this.ring[counter % this.maxEvents] = stored;
    this.retained = Math.min(this.retained + 1, this.maxEvents);
    if (dedupe) this.dedupe.set(dedupe.key, stored.id, dedupe.ttlMs);
    this.fanout.publish(stored);
    return { id: stored.id, duplicate: false };
  }

  async readAfter(afterId: string, limit: number): Promise<ReplayResult> {
    const parsed = parseEventId(afterId);
    // Malformed, or newer than anything this log issued (e.g. from before a restart): nothing to vouch for.
    if (!parsed || compareEventIds(afterId, memoryEventId(this.lastCounter)) > 0) return { events: [], complete: false };
    const firstCounter = this.lastCounter - this.retained + 1;
    // Same rule as the Redis log: nothing trimmed yet, or the client already has the oldest event kept. An id
    // from before this process (below base) is older than every event here: all of them follow it.
    const complete = firstCounter === this.base + 1 || compareEventIds(afterId, memoryEventId(firstCounter)) >= 0;
    // afterId <= lastCounter here, so its counter part is a safe integer; `n-5` still sorts before `(n+1)-0`.
    const from = Math.max(firstCounter, Number(parsed[0]) + 1);
    const events: StoredEvent[] = [];
    for (let c = from; c <= this.lastCounter && events.length < limit; c++) {
      const e = this.ring[c % this.maxEvents];
      if (e) events.push(e);
    }
    return { events, complete };
  }

  async lastId(): Promise<string | null> {
    return this.lastCounter === this.base ? null : memoryEventId(this.lastCounter);
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
