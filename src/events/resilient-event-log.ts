/**
 * The event log the bridge uses with REDIS_URL: the shared Redis Stream (RedisEventLog), and a degraded mode
 * for when Redis cannot be reached.
 *
 * Shared mode: appends go to the stream (each tagged with this instance's origin tag, field `o`), every
 * instance's tail reads them, replay reads the stream.
 *
 * Degraded mode (Redis unreachable, or an append got no answer within appendTimeoutMs):
 * - an append is accepted locally: it gets a provisional id in the stream-id format that continues the newest
 *   id this instance has seen or issued (`<lastMs>-<lastSeq+1>`, see nextLocalId), goes to this instance's
 *   listeners at once, and waits in a bounded buffer; a full buffer refuses appends (the callback answers 503,
 *   the PBX may retry) instead of dropping accepted events;
 * - duplicates are caught by a local map that also remembers this instance's recent shared appends;
 * - readAfter serves a bounded ring of the recent events this instance saw or accepted;
 * - the outage is logged once, when it starts, and once when it ends.
 * When Redis answers again the buffer is appended to the stream in order (outage-buffer.ts), each event under
 * a new stream id, or not at all when its dedupe key shows it is there already; then the log goes back to
 * shared mode. Appends that arrive meanwhile join the buffer behind.
 * When this instance's tail reads one of its own buffered events back (by its origin tag) it is not handed to
 * the listeners again, they had it: replays know it by its shared id from then on, and `onSharedLater`
 * listeners (the webhook dispatcher, which reads the shared log) are told it is there.
 * Split by job: outage-watch.ts (is there an outage), outage-buffer.ts (the buffer and its flush),
 * outage-echoes.ts (its events coming back), recent-events.ts (replay), redis-timeouts.ts (slow vs gone).
 */
import { ExpiringMap } from '../store/expiring-map.js';
import type { Redis } from 'ioredis';
import { parseEventId, type NewCallEvent, type StoredEvent } from '../core/event.js';
import type { AppendClaim, AppendNote, AppendResult, ClaimedAppend, DedupeRule, EventLog, ReplayResult } from '../core/ports.js';
import type { Logger } from '../logger.js';
import { Fanout, type EventListener } from './fanout.js';
import { OutageBuffer } from './outage-buffer.js';
import { OutageEchoes } from './outage-echoes.js';
import { OutageWatch } from './outage-watch.js';
import { RecentEvents } from './recent-events.js';
import type { BufferedOutcome, RedisEventLog } from './redis-event-log.js';
import { isUnavailable } from './redis-timeouts.js';
import { TimeoutError, withTimeout } from '../timeouts.js';
import { serializeEventBody, storedEvent } from './serialize.js';
import type { TaggedEvent } from './tagged-event.js';
import { BridgeError } from '../errors.js';

export interface ResilientEventLogOptions {
  inner: RedisEventLog;
  /** The command connection the inner log uses: its status says whether Redis is reachable. */
  redis: Redis;
  logger: Logger;
  /** This process's id, the first half of each origin tag; made once per process by whoever starts it. */
  instanceId: string;
  /** An append with no answer within this goes local. Default 1000 ms. */
  appendTimeoutMs?: number;
  /** A replay read with no answer within this is served locally. Default 2000 ms. */
  readTimeoutMs?: number;
  /** Events accepted during an outage and not yet shared; past it appends are refused. Default 10,000. */
  maxBuffered?: number;
  /** Recent events kept for replay during an outage. Default 5,000. */
  recentEvents?: number;
  /** Dedupe keys remembered locally. Default 20,000. */
  maxDedupeKeys?: number;
  /** Buffered events appended per round trip when Redis is back. Default 200. */
  flushBatch?: number;
  /** How often an outage checks whether Redis is back (besides the connection's `ready` event). Default 500 ms. */
  retryIntervalMs?: number;
  now?: () => number;
}

export type EventLogMode = 'shared' | 'degraded';

export interface ResilientEventLogStats {
  mode: EventLogMode;
  redisUp: boolean;
  /** Since when the log is degraded (ISO), or null. */
  degradedSince: string | null;
  /** Events accepted during outages and not yet in the shared log. */
  buffered: number;
  /** Events accepted locally because Redis could not be reached (counter). */
  degradedEvents: number;
  /** Appends refused because the outage buffer was full (counter). */
  refused: number;
  /** Buffered events written to the shared log, by outcome (counters). */
  flushed: Record<BufferedOutcome, number>;
}

export class EventLogUnavailableError extends BridgeError {
  constructor(message: string) {
    super('EVENT_LOG_ERR_BUFFER_FULL', message);
  }
}

const DEFAULTS = {
  appendTimeoutMs: 1000,
  readTimeoutMs: 2000,
  maxBuffered: 10_000,
  recentEvents: 5_000,
  maxDedupeKeys: 20_000,
  flushBatch: 200,
  retryIntervalMs: 500,
};

export class ResilientEventLog implements EventLog {
  readonly instanceId: string;
  private readonly inner: RedisEventLog;
  private readonly redis: Redis;
  private readonly logger: Logger;
  private readonly o: typeof DEFAULTS;
  private readonly now: () => number;
  private readonly fanout: Fanout;
  private readonly unsubscribeInner: () => void;

  /** The highest id seen (stream) or issued (locally), as [ms, seq]. */
  private last: [bigint, bigint] = [0n, 0n];
  private originSeq = 0;
  private readonly buffer: OutageBuffer;
  private readonly echoes: OutageEchoes;
  private readonly dedupe: ExpiringMap<string>;
  private readonly recent: RecentEvents;

  private readonly outage: OutageWatch;
  private flushing: Promise<void> | null = null;
  private flushErrorLogged = false;
  /** When Redis last answered an append (ms), to tell a busy Redis from a gone one. */
  private lastAnswerAt: number | null = null;
  private closed = false;
  private readonly counters = { degradedEvents: 0, refused: 0 };

  constructor(opts: ResilientEventLogOptions) {
    this.inner = opts.inner;
    this.redis = opts.redis;
    this.logger = opts.logger.child({ component: 'event-log' });
    this.instanceId = opts.instanceId;
    this.o = {
      appendTimeoutMs: opts.appendTimeoutMs ?? DEFAULTS.appendTimeoutMs,
      readTimeoutMs: opts.readTimeoutMs ?? DEFAULTS.readTimeoutMs,
      maxBuffered: Math.max(1, opts.maxBuffered ?? DEFAULTS.maxBuffered),
      recentEvents: Math.max(1, opts.recentEvents ?? DEFAULTS.recentEvents),
      maxDedupeKeys: Math.max(1, opts.maxDedupeKeys ?? DEFAULTS.maxDedupeKeys),
      flushBatch: Math.max(1, opts.flushBatch ?? DEFAULTS.flushBatch),
      retryIntervalMs: Math.max(10, opts.retryIntervalMs ?? DEFAULTS.retryIntervalMs),
    };
    this.now = opts.now ?? Date.now;
    this.dedupe = new ExpiringMap<string>({ maxKeys: this.o.maxDedupeKeys, now: this.now });
    this.echoes = new OutageEchoes(this.o.maxBuffered * 2, this.now, this.logger);
    this.recent = new RecentEvents(this.o.recentEvents);
    this.buffer = new OutageBuffer({
      inner: this.inner,
      logger: this.logger,
      flushBatch: this.o.flushBatch,
      batchTimeoutMs: Math.max(2000, this.o.readTimeoutMs),
      isReady: () => this.redis.status === 'ready',
      now: this.now,
      onStreamId: (id) => this.observe(id),
    });
    this.fanout = new Fanout(this.logger);
    this.unsubscribeInner = this.inner.subscribe((event) => this.onShared(event));
    this.outage = new OutageWatch({
      redis: this.redis,
      logger: this.logger,
      retryIntervalMs: this.o.retryIntervalMs,
      now: this.now,
      onMaybeBack: () => this.scheduleFlush(),
    });
  }

  /** Learns where the stream ends, so local ids start above it and replay knows what it can vouch for. */
  async start(): Promise<void> {
    await this.inner.start();
    try {
      const lastId = await withTimeout(this.inner.lastId(), this.o.readTimeoutMs, 'Redis');
      if (lastId) {
        this.observe(lastId);
        this.recent.startAfter(lastId);
      }
    } catch (err) {
      this.logger.debug({ err }, 'could not read the newest event id at start');
    }
  }

  stats(): ResilientEventLogStats {
    return {
      mode: this.mode(),
      redisUp: this.redis.status === 'ready',
      degradedSince: this.outage.since === null ? null : new Date(this.outage.since).toISOString(),
      buffered: this.buffer.size,
      degradedEvents: this.counters.degradedEvents,
      refused: this.counters.refused,
      flushed: { ...this.buffer.flushed },
    };
  }

  mode(): EventLogMode {
    return this.outage.since !== null || this.buffer.size > 0 ? 'degraded' : 'shared';
  }

  /** A note goes to the stream with the event (shared mode); an event accepted locally leaves it to the caller. */
  async append(event: NewCallEvent, dedupe: DedupeRule | null, note?: AppendNote | null): Promise<AppendResult> {
    if (this.closed) throw new Error('event log is closed');
    const origin = `${this.instanceId}/${++this.originSeq}`;
    if (this.mode() === 'shared' && this.redis.status === 'ready') {
      const sent = this.inner.appendTagged(event, dedupe, origin, note);
      try {
        const result = await this.awaitAppend(sent);
        this.lastAnswerAt = this.now();
        this.observe(result.id);
        if (dedupe) this.dedupe.set(dedupe.key, result.id, dedupe.ttlMs);
        return result;
      } catch (err) {
        if (!isUnavailable(err)) throw err;
        this.outage.enter(err);
        // Sent, unanswered: Redis may still take it. Then it is in the stream already; see trackLate.
        if (err instanceof TimeoutError) this.trackLate(sent, origin);
      }
    }
    return this.appendLocal(event, dedupe, origin);
  }

  /**
   * append() behind a claim, in shared mode only: null (nothing sent) while the log is degraded. Once sent,
   * it ends as append() does: a lost or frozen Redis makes the event local (under the claim's session id; the
   * claim itself may or may not have been made), one that answers late is not appended a second time.
   */
  async appendClaimed(event: NewCallEvent, dedupe: DedupeRule | null, claim: AppendClaim, note: AppendNote | null): Promise<ClaimedAppend | null> {
    if (this.closed) throw new Error('event log is closed');
    if (this.mode() !== 'shared' || this.redis.status !== 'ready') return null;
    const origin = `${this.instanceId}/${++this.originSeq}`;
    const sent = this.inner.appendClaimed(event, dedupe, claim, note, origin);
    try {
      const outcome = await this.awaitAppend(sent);
      this.lastAnswerAt = this.now();
      if ('result' in outcome) {
        this.observe(outcome.result.id);
        if (dedupe) this.dedupe.set(dedupe.key, outcome.result.id, dedupe.ttlMs);
      }
      return outcome;
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      this.outage.enter(err);
      // A refused claim appended nothing: the local event stays in the buffer, to be shared later.
      if (err instanceof TimeoutError) {
        const appended = sent.then((outcome) => {
          if ('result' in outcome) return outcome.result;
          throw new Error('claim refused');
        });
        this.trackLate(appended, origin);
      }
    }
    return { result: this.appendLocal(event, dedupe, origin) };
  }

  async readAfter(afterId: string, limit: number): Promise<ReplayResult> {
    if (this.buffer.size > 0 && this.redis.status === 'ready') {
      // Redis is back and the buffer is on its way: read the stream once it holds everything we delivered.
      this.scheduleFlush();
      if (this.flushing) await withTimeout(this.flushing, this.o.readTimeoutMs, 'Redis').catch(() => undefined);
    }
    if (this.mode() === 'shared' && this.redis.status === 'ready') {
      try {
        return await withTimeout(this.inner.readAfter(afterId, limit), this.o.readTimeoutMs, 'Redis');
      } catch (err) {
        if (!isUnavailable(err)) throw err;
        // A slow read is served locally this once; only a lost connection makes the whole log degraded.
        if (!(err instanceof TimeoutError)) this.outage.enter(err);
      }
    }
    return this.recent.readAfter(afterId, limit, `${this.last[0]}-${this.last[1]}`);
  }

  async lastId(): Promise<string | null> {
    if (this.mode() === 'shared' && this.redis.status === 'ready') {
      try {
        return await withTimeout(this.inner.lastId(), this.o.readTimeoutMs, 'Redis');
      } catch (err) {
        if (!isUnavailable(err)) throw err;
        if (!(err instanceof TimeoutError)) this.outage.enter(err);
      }
    }
    return this.last[0] === 0n && this.last[1] === 0n ? null : `${this.last[0]}-${this.last[1]}`;
  }

  subscribe(listener: EventListener): () => void {
    return this.fanout.add(listener);
  }

  /**
   * Called when an event this instance accepted during an outage (and handed to its listeners then) is read
   * back from the shared stream. Listeners are not given it again; a reader of the shared log (the webhook
   * dispatcher) can read it there now. Returns the unsubscribe function.
   */
  onSharedLater(listener: () => void): () => void {
    return this.echoes.onSharedLater(listener);
  }

  /** Gives buffered events one last chance (at most flushTimeoutMs) to reach the stream, then stops. */
  async close(flushTimeoutMs = 2000): Promise<void> {
    if (this.closed) return;
    if (this.buffer.size > 0 && this.redis.status === 'ready') {
      await withTimeout(this.flush(), flushTimeoutMs, 'Redis').catch(() => undefined);
    }
    this.closed = true;
    this.outage.close();
    this.unsubscribeInner();
    if (this.buffer.size > 0) {
      this.logger.error(
        { unshared: this.buffer.size, firstId: this.buffer.firstId },
        'closing with events accepted during the Redis outage that never reached the shared log; other instances and replays will not have them',
      );
    }
    this.fanout.clear();
    this.echoes.clear();
    this.dedupe.clear();
    this.recent.clear();
  }

  // ---- local (degraded) operation -------------------------------------------------------------------------

  private appendLocal(event: NewCallEvent, dedupe: DedupeRule | null, origin: string): AppendResult {
    const now = this.now();
    if (dedupe) {
      const seen = this.dedupe.get(dedupe.key);
      if (seen !== undefined) return { id: seen, duplicate: true };
    }
    if (this.buffer.size >= this.o.maxBuffered) {
      this.counters.refused++;
      throw new EventLogUnavailableError(`Redis is unreachable and ${this.buffer.size} events already wait for it`);
    }
    const id = this.nextLocalId();
    const body = serializeEventBody(event);
    const stored: StoredEvent = storedEvent(id, event.data.extension, event.type, body);
    this.buffer.push({
      id,
      body,
      extension: event.data.extension,
      type: event.type,
      dedupeKey: dedupe?.key ?? null,
      dedupeTtlMs: dedupe?.ttlMs ?? 0,
      dedupeUntil: dedupe ? now + dedupe.ttlMs : 0,
      origin,
    });
    this.echoes.expect(origin, id);
    if (dedupe) this.dedupe.set(dedupe.key, id, dedupe.ttlMs);
    this.counters.degradedEvents++;
    this.recent.keep(stored);
    this.fanout.publish(stored);
    this.scheduleFlush();
    return { id, duplicate: false };
  }

  /**
   * Provisional ids continue the newest id this instance knew (`<ms>-<seq+1>`, `<ms>-<seq+2>`, …), not the
   * clock: they sort above everything its agents have seen and below every id the stream will issue later, so
   * an agent that resumes from one, on any instance, is replayed everything appended since, the outage's events
   * included (under their shared ids).
   */
  private nextLocalId(): string {
    const [lastMs, lastSeq] = this.last;
    this.last = [lastMs, lastSeq + 1n];
    return `${this.last[0]}-${this.last[1]}`;
  }

  /**
   * Waits for an append's answer. A slow answer while other appends are still being answered is load (a busy
   * process or a busy Redis), not an outage, and going local then would only add work: keep waiting, one
   * timeout at a time, for as long as Redis keeps answering something. A frozen or lost Redis answers
   * nothing, and the TimeoutError (or the connection error) propagates.
   */
  private async awaitAppend<T>(sent: Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await withTimeout(sent, this.o.appendTimeoutMs, 'Redis');
      } catch (err) {
        if (!(err instanceof TimeoutError) || this.redis.status !== 'ready' || !this.answeredWithin(this.o.appendTimeoutMs)) throw err;
      }
    }
  }

  /** True when some append was answered by Redis within the last `ms`. */
  private answeredWithin(ms: number): boolean {
    return this.lastAnswerAt !== null && this.now() - this.lastAnswerAt < ms;
  }

  private observe(id: string): void {
    const p = parseEventId(id);
    if (p && (p[0] > this.last[0] || (p[0] === this.last[0] && p[1] > this.last[1]))) this.last = p;
  }

  // ---- the shared stream ----------------------------------------------------------------------------------

  private onShared(event: TaggedEvent): void {
    this.observe(event.id);
    const provisionalId = this.echoes.take(event.origin);
    if (provisionalId !== undefined) {
      // Delivered here during the outage under its provisional id; from now on replays know it by its shared id.
      const { origin: _origin, ...shared } = event;
      this.recent.replace(provisionalId, shared);
      this.echoes.announce(event.id);
      return;
    }
    this.recent.keep(event);
    this.fanout.publish(event);
  }

  /** An append that timed out but was sent: if Redis takes it after all, it must not be added a second time. */
  private trackLate(sent: Promise<AppendResult>, origin: string): void {
    this.buffer.trackLate(sent, origin, (result) => {
      this.observe(result.id);
      if (result.duplicate) this.echoes.forget(origin);
      this.logger.info({ eventId: result.id }, 'an append that timed out reached the shared log after all');
      if (this.buffer.size === 0 && this.redis.status === 'ready') this.scheduleFlush();
    });
  }

  // ---- outage and recovery --------------------------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushing || this.closed || this.redis.status !== 'ready') return;
    this.flushing = this.flush().finally(() => {
      this.flushing = null;
    });
  }

  private async flush(): Promise<void> {
    try {
      await this.buffer.flush();
      if (this.buffer.size === 0 && this.redis.status === 'ready' && this.outage.since !== null) {
        this.flushErrorLogged = false;
        this.outage.exit({ flushed: { ...this.buffer.flushed }, refused: this.counters.refused });
      }
    } catch (err) {
      if (!isUnavailable(err) && !this.flushErrorLogged) {
        this.flushErrorLogged = true;
        this.logger.error({ err }, 'sharing the events accepted during the Redis outage failed; retrying');
      }
      this.outage.enter(err);
    }
  }
}
