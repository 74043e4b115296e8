/**
 * Turns events in the log into delivery jobs, exactly once per (event, endpoint), crash-safe.
 *
 * One instance at a time is the dispatcher (the `webhooks:dispatcher` leader lease, extended while held; another
 * instance takes over when it lapses). It keeps a cursor — the id of the last event it has enqueued deliveries for — in the shared
 * key-value store, and reads the log from there (`readAfter`), so an event appended by an instance that died
 * before anyone enqueued for it is picked up by whoever dispatches next, after a restart as well. For each
 * event it creates the delivery records and adds the jobs, then advances the cursor. If it dies between the
 * two, the next dispatcher repeats the batch: records are created only if absent and job ids are
 * deterministic, so the repeat adds nothing.
 *
 * Every instance's log subscription (and the resilient log's signal for its outage events reaching the shared
 * stream) only wakes the dispatcher; events are never enqueued from it directly.
 *
 * With Redis it reads the shared stream itself (`sharedLog`), not the resilient log: when a read of the stream
 * is slow, that one serves it from this instance's ring of recent events, which cannot vouch for events before
 * the instance started (or seen while its tail lagged); its "incomplete" would read here as a stream trimmed
 * past the cursor, and the events in between, still in the stream, would be skipped. A failed read is tried again.
 */
import type { EventLog, KeyValueStore, Lock } from '../core/ports.js';
import type { StoredEvent } from '../core/event.js';
import { LeaderLease } from '../lease/leader-lease.js';
import type { Logger } from '../logger.js';
import { deliveryIdFor, type DeliveryJob, type DeliveryQueue, type DeliveryRecord, type DeliveryStore, type EndpointStore, type WebhookEndpoint } from './types.js';
import { errForLog } from '../events/redis-timeouts.js';

export const CURSOR_KEY = 'webhooks:cursor';
export const DISPATCH_LOCK = 'webhooks:dispatcher';
/** While no endpoint is active, how long the dispatcher goes without looking again (its own changes excepted). */
export const NO_ENDPOINT_RECHECK_MS = 1000;

/**
 * Says that events the log did not publish to its listeners can now be read from it: the resilient log's
 * events from a Redis outage, read back from the shared stream (src/events/outage-echoes.ts).
 */
export interface SharedLaterSignal {
  onSharedLater(listener: () => void): () => void;
}

/** What the dispatcher reads: the shared log's replay and its end. */
export type SharedLogReader = Pick<EventLog, 'readAfter' | 'lastId'>;

export interface DispatcherOptions {
  /** Its subscription wakes the dispatcher; it is also what is read when there is no `sharedLog`. */
  eventLog: EventLog;
  /** The shared stream itself (with Redis): read from the cursor, and for the log's end. Default: eventLog. */
  sharedLog?: SharedLogReader | null;
  /** Wakes the dispatcher besides the log's subscription; none in memory mode. */
  sharedLater?: SharedLaterSignal | null;
  kv: KeyValueStore;
  lock: Lock;
  endpoints: EndpointStore;
  deliveries: DeliveryStore;
  queue: DeliveryQueue;
  logger: Logger;
  /** Lock lifetime; a dead dispatcher is replaced within this. Default 10,000 ms. */
  lockTtlMs?: number;
  /** Events read per batch. Default 200. */
  batchSize?: number;
}

export class WebhookDispatcher {
  private readonly lease: LeaderLease;
  private unsubscribe: (() => void) | null = null;
  private unsubscribeSharedLater: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  /** Until then no endpoint is active (as far as this instance knows): a wake-up costs no Redis round trip. */
  private noEndpointsUntil = 0;
  /** Counts this instance's endpoint changes, so that a look begun before one cannot hide it. */
  private endpointChanges = 0;
  private recheckTimer: NodeJS.Timeout | null = null;
  private readonly lockTtlMs: number;
  private readonly batchSize: number;
  private readonly log: SharedLogReader;

  constructor(private readonly opts: DispatcherOptions) {
    this.log = opts.sharedLog ?? opts.eventLog;
    this.lockTtlMs = opts.lockTtlMs ?? 10_000;
    this.batchSize = opts.batchSize ?? 200;
    this.lease = new LeaderLease({
      lock: opts.lock,
      name: DISPATCH_LOCK,
      ttlMs: this.lockTtlMs,
      onAcquired: () => opts.logger.debug('this instance dispatches webhooks'),
      onLost: () => opts.logger.info('lost the webhook dispatcher lock'),
      onError: (err) => opts.logger.warn({ err: errForLog(err) }, 'webhook dispatcher lock failed'),
    });
  }

  async start(): Promise<void> {
    this.unsubscribe = this.opts.eventLog.subscribe(() => this.kick());
    this.unsubscribeSharedLater = this.opts.sharedLater?.onSharedLater(() => this.kick()) ?? null;
    await this.tick();
    // The first catch-up (and, on a first start, the cursor) is in place before start() resolves.
    await this.idle();
    this.timer = setInterval(() => void this.tick(), Math.max(100, Math.floor(this.lockTtlMs / 3)));
  }

  /** Whether this instance is the dispatcher now. */
  get leading(): boolean {
    return this.lease.held;
  }

  /** Acquires or extends the lease, then catches up (also covers a missed wake-up). */
  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (await this.lease.hold()) this.kick();
  }

  /** Drains the log from the cursor when this instance dispatches; coalesces wake-ups. */
  kick(): void {
    if (!this.leading || this.stopped) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = (async () => {
      do {
        this.again = false;
        try {
          await this.drain();
        } catch (err) {
          this.opts.logger.warn({ err: errForLog(err) }, 'webhook dispatch failed; will retry');
        }
      } while (this.again && this.leading && !this.stopped);
      this.draining = null;
    })();
  }

  /**
   * An endpoint was created, enabled or removed through this instance: look at the endpoints again now
   * (other instances' changes are seen within NO_ENDPOINT_RECHECK_MS).
   */
  endpointsChanged(): void {
    this.endpointChanges++;
    this.noEndpointsUntil = 0;
    this.kick();
  }

  /** Resolves when the dispatcher has caught up with the log (for tests and benchmarks). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async cursor(): Promise<string> {
    const saved = await this.opts.kv.get(CURSOR_KEY);
    if (saved) return saved;
    // First start: deliver what is appended from now on.
    const start = (await this.log.lastId()) ?? '0-0';
    await this.opts.kv.set(CURSOR_KEY, start);
    return start;
  }

  private async drain(): Promise<void> {
    if (Date.now() < this.noEndpointsUntil) {
      this.scheduleRecheck();
      return;
    }
    if (this.noEndpointsUntil !== 0) {
      // No endpoint at the last look: skip to the end of the log without reading it. The log's end is read
      // before the endpoints, so every event skipped was accepted before any endpoint now active was created.
      const changesBefore = this.endpointChanges;
      const last = await this.log.lastId();
      if (!this.leading || this.stopped) return;
      if (!(await this.hasActiveEndpoint())) {
        if (last) await this.opts.kv.set(CURSOR_KEY, last);
        if (changesBefore === this.endpointChanges) this.noEndpointsUntil = Date.now() + NO_ENDPOINT_RECHECK_MS;
        return;
      }
      // An endpoint appeared: it gets the events from the cursor on (at most one recheck interval before it existed).
      this.noEndpointsUntil = 0;
    }
    const changes = this.endpointChanges;
    let cursor = await this.cursor();
    for (;;) {
      if (!this.leading || this.stopped) return;
      const { events, complete } = await this.log.readAfter(cursor, this.batchSize);
      if (!complete) {
        this.opts.logger.warn({ cursor }, 'webhook dispatcher fell behind the event log; some events were trimmed before delivery');
      }
      if (events.length === 0) {
        if (!complete) {
          const last = await this.log.lastId();
          if (last) await this.opts.kv.set(CURSOR_KEY, last);
        }
        return;
      }
      const endpoints = (await this.opts.endpoints.list()).filter((e) => e.status === 'active');
      if (endpoints.length > 0) await this.enqueueFor(events, endpoints);
      cursor = (events[events.length - 1] as StoredEvent).id;
      await this.opts.kv.set(CURSOR_KEY, cursor);
      if (endpoints.length === 0 && changes === this.endpointChanges) this.noEndpointsUntil = Date.now() + NO_ENDPOINT_RECHECK_MS;
      if (events.length < this.batchSize) return;
    }
  }

  private async hasActiveEndpoint(): Promise<boolean> {
    return (await this.opts.endpoints.list()).some((e) => e.status === 'active');
  }

  /** Events that arrive while no endpoint is known only wake the dispatcher again when the recheck is due. */
  private scheduleRecheck(): void {
    if (this.recheckTimer || this.stopped) return;
    this.recheckTimer = setTimeout(() => {
      this.recheckTimer = null;
      this.kick();
    }, Math.max(0, this.noEndpointsUntil - Date.now()) + 5);
    this.recheckTimer.unref();
  }

  private async enqueueFor(events: StoredEvent[], endpoints: WebhookEndpoint[]): Promise<void> {
    const now = new Date().toISOString();
    const pairs: Array<{ event: StoredEvent; endpoint: WebhookEndpoint }> = [];
    for (const event of events) {
      for (const endpoint of endpoints) {
        if (endpoint.events === null || endpoint.events.includes(event.type)) pairs.push({ event, endpoint });
      }
    }
    const jobs = await Promise.all(
      pairs.map(async ({ event, endpoint }): Promise<DeliveryJob | null> => {
        const id = deliveryIdFor(event.id, endpoint.id);
        const record: DeliveryRecord = {
          id,
          endpointId: endpoint.id,
          eventId: event.id,
          eventType: event.type,
          status: 'pending',
          attempts: [],
          lastStatusCode: null,
          lastError: null,
          nextAttemptAt: now,
          manualRetries: 0,
          createdAt: now,
          updatedAt: now,
          body: event.json,
        };
        const existing = await this.opts.deliveries.createIfAbsent(record);
        // Already delivered or given up on (a repeated batch): nothing to add.
        if (existing && existing.status !== 'pending') return null;
        return { jobId: id, deliveryId: id, endpointId: endpoint.id, eventId: event.id, body: event.json, attempt: 0 };
      }),
    );
    await this.opts.queue.enqueue(jobs.filter((j): j is DeliveryJob => j !== null));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribeSharedLater?.();
    if (this.timer) clearInterval(this.timer);
    if (this.recheckTimer) clearTimeout(this.recheckTimer);
    await this.idle();
    await this.lease.release();
  }
}
