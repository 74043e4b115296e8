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
 * When Redis answers again the buffer is appended to the stream in order (APPEND_BUFFERED_SCRIPT), each event
 * under a new stream id, or not at all when its dedupe key shows it is there already; then the log goes back
 * to shared mode. Appends that arrive meanwhile join the buffer behind.
 * When this instance's tail reads one of its own buffered events back it marks it `echo`: its listeners already
 * had it, and the hub does not send it again.
 */
import { ExpiringMap } from '../store/expiring-map.js';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { compareEventIds, parseEventId, type NewCallEvent, type StoredEvent } from '../core/event.js';
import type { AppendResult, DedupeRule, EventLog, ReplayResult } from '../core/ports.js';
import type { Logger } from '../logger.js';
import { Fanout, type EventListener } from './fanout.js';
import type { BufferedAppend, BufferedOutcome, RedisEventLog } from './redis-event-log.js';
import { serializeEventBody, storedEvent } from './serialize.js';
import { BridgeError } from '../errors.js';

export interface ResilientEventLogOptions {
  inner: RedisEventLog;
  /** The command connection the inner log uses: its status says whether Redis is reachable. */
  redis: Redis;
  logger: Logger;
  /** Default: random. */
  instanceId?: string;
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

interface Buffered extends BufferedAppend {
  /** When its duplicate window ends (ms); 0: none. */
  dedupeUntil: number;
}


class TimeoutError extends Error {}

const DEFAULTS = {
  appendTimeoutMs: 1000,
  readTimeoutMs: 2000,
  maxBuffered: 10_000,
  recentEvents: 5_000,
  maxDedupeKeys: 20_000,
  flushBatch: 200,
  retryIntervalMs: 500,
};
/** At most this long a flush waits for appends that timed out to settle (they were sent; Redis may still answer). */
const LATE_APPEND_WAIT_MS = 5000;

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
  private readonly buffer: Buffered[] = [];
  /** Origin tag -> provisional id, of events handed to listeners locally whose shared copy has not been read back yet. */
  private readonly pendingEcho: ExpiringMap<string>;
  private readonly lateAppends = new Set<Promise<unknown>>();
  private readonly dedupe: ExpiringMap<string>;
  private recent: StoredEvent[] = [];
  /** Events at or below this id may be missing from `recent`. */
  private recentFloor = '0-0';

  private outageSince: number | null = null;
  private flushing: Promise<void> | null = null;
  /** The last buffered-append command sent; a flush never sends another while it is unanswered. */
  private flushCommand: Promise<unknown> | null = null;
  private flushErrorLogged = false;
  private retryTimer: NodeJS.Timeout | null = null;
  /** When Redis last answered an append (ms), to tell a busy Redis from a gone one. */
  private lastAnswerAt: number | null = null;
  private closed = false;
  private readonly counters = { degradedEvents: 0, refused: 0, flushed: { shared: 0, duplicate: 0 } };

  constructor(opts: ResilientEventLogOptions) {
    this.inner = opts.inner;
    this.redis = opts.redis;
    this.logger = opts.logger.child({ component: 'event-log' });
    this.instanceId = opts.instanceId ?? randomBytes(6).toString('hex');
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
    this.pendingEcho = new ExpiringMap<string>({ maxKeys: this.o.maxBuffered * 2, now: this.now });
    this.fanout = new Fanout(this.logger);
    this.unsubscribeInner = this.inner.subscribe((event) => this.onShared(event));
    this.redis.on('close', this.onConnectionLost);
    this.redis.on('ready', this.onConnectionReady);
  }

  /** Learns where the stream ends, so local ids start above it and replay knows what it can vouch for. */
  async start(): Promise<void> {
    await this.inner.start();
    try {
      const lastId = await withTimeout(this.inner.lastId(), this.o.readTimeoutMs);
      if (lastId) {
        this.observe(lastId);
        this.recentFloor = lastId;
      }
    } catch (err) {
      this.logger.debug({ err }, 'could not read the newest event id at start');
    }
  }

  stats(): ResilientEventLogStats {
    return {
      mode: this.mode(),
      redisUp: this.redis.status === 'ready',
      degradedSince: this.outageSince === null ? null : new Date(this.outageSince).toISOString(),
      buffered: this.buffer.length,
      degradedEvents: this.counters.degradedEvents,
      refused: this.counters.refused,
      flushed: { ...this.counters.flushed },
    };
  }

  mode(): EventLogMode {
    return this.outageSince !== null || this.buffer.length > 0 ? 'degraded' : 'shared';
  }

  async append(event: NewCallEvent, dedupe: DedupeRule | null): Promise<AppendResult> {
    if (this.closed) throw new Error('event log is closed');
    const origin = `${this.instanceId}/${++this.originSeq}`;
    if (this.mode() === 'shared' && this.redis.status === 'ready') {
      const sent = this.inner.appendTagged(event, dedupe, origin);
      try {
        const result = await this.awaitAppend(sent);
        this.lastAnswerAt = this.now();
        this.observe(result.id);
        if (dedupe) this.dedupe.set(dedupe.key, result.id, dedupe.ttlMs);
        return result;
      } catch (err) {
        if (!isUnavailable(err)) throw err;
        this.enterOutage(err);
        // Sent, unanswered: Redis may still take it. Then it is in the stream already; see onLateAppend.
        if (err instanceof TimeoutError) this.trackLate(sent, origin);
      }
    }
    return this.appendLocal(event, dedupe, origin);
  }

  async readAfter(afterId: string, limit: number): Promise<ReplayResult> {
    if (this.buffer.length > 0 && this.redis.status === 'ready') {
      // Redis is back and the buffer is on its way: read the stream once it holds everything we delivered.
      this.scheduleFlush();
      if (this.flushing) await withTimeout(this.flushing, this.o.readTimeoutMs).catch(() => undefined);
    }
    if (this.mode() === 'shared' && this.redis.status === 'ready') {
      try {
        return await withTimeout(this.inner.readAfter(afterId, limit), this.o.readTimeoutMs);
      } catch (err) {
        if (!isUnavailable(err)) throw err;
        // A slow read is served locally this once; only a lost connection makes the whole log degraded.
        if (!(err instanceof TimeoutError)) this.enterOutage(err);
      }
    }
    return this.readLocal(afterId, limit);
  }

  async lastId(): Promise<string | null> {
    if (this.mode() === 'shared' && this.redis.status === 'ready') {
      try {
        return await withTimeout(this.inner.lastId(), this.o.readTimeoutMs);
      } catch (err) {
        if (!isUnavailable(err)) throw err;
        if (!(err instanceof TimeoutError)) this.enterOutage(err);
      }
    }
    return this.last[0] === 0n && this.last[1] === 0n ? null : `${this.last[0]}-${this.last[1]}`;
  }

  subscribe(listener: EventListener): () => void {
    return this.fanout.add(listener);
  }

  /** Gives buffered events one last chance (at most flushTimeoutMs) to reach the stream, then stops. */
  async close(flushTimeoutMs = 2000): Promise<void> {
    if (this.closed) return;
    if (this.buffer.length > 0 && this.redis.status === 'ready') {
      await withTimeout(this.flush(), flushTimeoutMs).catch(() => undefined);
    }
    this.closed = true;
    this.stopRetrying();
    this.redis.off('close', this.onConnectionLost);
    this.redis.off('ready', this.onConnectionReady);
    this.unsubscribeInner();
    if (this.buffer.length > 0) {
      this.logger.error(
        { unshared: this.buffer.length, firstId: this.buffer[0]?.id },
        'closing with events accepted during the Redis outage that never reached the shared log; other instances and replays will not have them',
      );
    }
    this.fanout.clear();
    this.dedupe.clear();
    this.recent = [];
  }

  // ---- local (degraded) operation -------------------------------------------------------------------------

  private appendLocal(event: NewCallEvent, dedupe: DedupeRule | null, origin: string): AppendResult {
    const now = this.now();
    if (dedupe) {
      const seen = this.dedupe.get(dedupe.key);
      if (seen !== undefined) return { id: seen, duplicate: true };
    }
    if (this.buffer.length >= this.o.maxBuffered) {
      this.counters.refused++;
      throw new EventLogUnavailableError(`Redis is unreachable and ${this.buffer.length} events already wait for it`);
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
    // Tags whose echo never comes (a twin accepted elsewhere) age out past the map's cap.
    this.pendingEcho.set(origin, id, null);
    if (dedupe) this.dedupe.set(dedupe.key, id, dedupe.ttlMs);
    this.counters.degradedEvents++;
    this.keepRecent(stored);
    this.fanout.publish(stored);
    this.scheduleFlush();
    return { id, duplicate: false };
  }

  private readLocal(afterId: string, limit: number): ReplayResult {
    const parsed = parseEventId(afterId);
    const newest = `${this.last[0]}-${this.last[1]}`;
    // Only what this instance saw: complete when nothing after afterId can have fallen out of the ring.
    if (!parsed || compareEventIds(afterId, newest) > 0) return { events: [], complete: false };
    const complete = compareEventIds(afterId, this.recentFloor) >= 0;
    const events = this.recent.filter((e) => compareEventIds(e.id, afterId) > 0).sort((a, b) => compareEventIds(a.id, b.id));
    return { events: events.slice(0, Math.max(0, limit)), complete };
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
  private async awaitAppend(sent: Promise<AppendResult>): Promise<AppendResult> {
    for (;;) {
      try {
        return await withTimeout(sent, this.o.appendTimeoutMs);
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

  private keepRecent(event: StoredEvent): void {
    this.recent.push(event);
    if (this.recent.length >= this.o.recentEvents * 2) {
      const dropped = this.recent.splice(0, this.recent.length - this.o.recentEvents);
      for (const e of dropped) if (compareEventIds(e.id, this.recentFloor) > 0) this.recentFloor = e.id;
    }
  }

  // ---- the shared stream ----------------------------------------------------------------------------------

  private onShared(event: StoredEvent): void {
    this.observe(event.id);
    const provisionalId = event.origin === undefined ? undefined : this.pendingEcho.get(event.origin);
    if (event.origin !== undefined && provisionalId !== undefined) {
      // Delivered here during the outage under its provisional id; from now on replays know it by its shared id.
      this.pendingEcho.delete(event.origin);
      const { origin: _origin, ...shared } = event;
      const at = this.recent.findLastIndex((e) => e.id === provisionalId);
      if (at >= 0) this.recent[at] = shared;
      else this.keepRecent(shared);
      this.fanout.publish({ ...shared, echo: true });
      return;
    }
    this.keepRecent(event);
    this.fanout.publish(event);
  }

  /** An append that timed out but was sent: if Redis takes it after all, it must not be added a second time. */
  private trackLate(sent: Promise<AppendResult>, origin: string): void {
    const settled = sent.then(
      (result) => {
        const i = this.buffer.findIndex((b) => b.origin === origin);
        if (i < 0) return;
        this.buffer.splice(i, 1);
        this.observe(result.id);
        if (result.duplicate) this.pendingEcho.delete(origin);
        this.logger.info({ eventId: result.id }, 'an append that timed out reached the shared log after all');
        if (this.buffer.length === 0 && this.redis.status === 'ready') this.scheduleFlush();
      },
      () => undefined,
    );
    this.lateAppends.add(settled);
    void settled.finally(() => this.lateAppends.delete(settled));
  }

  // ---- outage and recovery --------------------------------------------------------------------------------

  private readonly onConnectionLost = (): void => {
    if (!this.closed) this.enterOutage(new Error('connection to Redis closed'));
  };

  private readonly onConnectionReady = (): void => {
    if (!this.closed && this.outageSince !== null) this.scheduleFlush();
  };

  private enterOutage(err: unknown): void {
    if (this.outageSince === null) {
      this.outageSince = this.now();
      this.logger.warn(
        { err: describe(err) },
        'Redis is unreachable: the event log is degraded; callbacks are accepted and sent to this instance\'s agents only, and shared when Redis is back',
      );
    }
    if (!this.retryTimer && !this.closed) {
      this.retryTimer = setInterval(() => {
        if (this.redis.status === 'ready') this.scheduleFlush();
      }, this.o.retryIntervalMs);
      this.retryTimer.unref();
    }
  }

  private stopRetrying(): void {
    if (this.retryTimer) clearInterval(this.retryTimer);
    this.retryTimer = null;
  }

  private scheduleFlush(): void {
    if (this.flushing || this.closed || this.redis.status !== 'ready') return;
    this.flushing = this.flush().finally(() => {
      this.flushing = null;
    });
  }

  private async flush(): Promise<void> {
    try {
      if (this.lateAppends.size > 0) {
        await withTimeout(Promise.allSettled([...this.lateAppends]), LATE_APPEND_WAIT_MS).catch(() => undefined);
      }
      if (this.flushCommand) await withTimeout(this.flushCommand, LATE_APPEND_WAIT_MS);
      while (this.buffer.length > 0 && this.redis.status === 'ready') {
        const batch = this.buffer.slice(0, this.o.flushBatch);
        const now = this.now();
        const command = this.inner.appendBuffered(batch.map((b) => ({ ...b, dedupeTtlMs: b.dedupeUntil > 0 ? b.dedupeUntil - now : 0 })));
        const tracked = command.then(
          () => undefined,
          () => undefined,
        );
        this.flushCommand = tracked;
        void tracked.then(() => {
          if (this.flushCommand === tracked) this.flushCommand = null;
        });
        // A timed-out batch may still be applied later: sending it again is harmless, its dedupe keys make it a no-op.
        const results = await withTimeout(command, Math.max(2000, this.o.readTimeoutMs));
        results.forEach((r, i) => {
          const entry = batch[i];
          this.counters.flushed[r.outcome]++;
          this.observe(r.id);
          if (entry) this.logger.debug({ provisionalId: entry.id, sharedId: r.id, outcome: r.outcome }, 'event from the outage shared');
        });
        // Appends made while the batch was in flight were pushed behind it: the batch is still the head.
        this.buffer.splice(0, batch.length);
      }
      if (this.buffer.length === 0 && this.redis.status === 'ready' && this.outageSince !== null) this.exitOutage();
    } catch (err) {
      if (!isUnavailable(err) && !this.flushErrorLogged) {
        this.flushErrorLogged = true;
        this.logger.error({ err }, 'sharing the events accepted during the Redis outage failed; retrying');
      }
      this.enterOutage(err);
    }
  }

  private exitOutage(): void {
    const since = this.outageSince ?? this.now();
    this.outageSince = null;
    this.flushErrorLogged = false;
    this.stopRetrying();
    this.logger.info(
      { degradedForMs: this.now() - since, flushed: this.counters.flushed, refused: this.counters.refused },
      'Redis is reachable again: the event log is shared again',
    );
  }
}

/** Connectivity, not a refusal by a working Redis: no connection, no answer in time, or a server that cannot serve yet. */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof TimeoutError) return true;
  if (!(err instanceof Error)) return false;
  if (err.name !== 'ReplyError') return true;
  return /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN)\b/.test(err.message);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Races `p` against a timer; `p` keeps a rejection handler so a late failure is never unhandled. A busy event
 * loop runs due timers before it reads the sockets, so when the timer fires the answer may be waiting unread:
 * before giving up, let the loop read its sockets (setImmediate runs after the poll phase) and look again.
 * Plain timers, not an AbortController: every append runs this, and aborting a timers/promises delay builds an
 * AbortError with its stack each time (a few % of a callback's CPU in the profile).
 */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      setImmediate(() =>
        setImmediate(() => {
          // Settled after all: the race has its outcome already.
          if (!settled) reject(new TimeoutError(`no answer from Redis within ${ms} ms`));
        }),
      );
    }, ms);
    p.then(
      (value) => {
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        settled = true;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
