/**
 * Refuses callbacks with 503 (the PBX retries them) before the bridge's own queues make pops late by seconds
 * (docs/performance.md, "Overload"). Three signals:
 *
 * - callbacks in flight (authenticated, not yet answered) at `maxInFlight`: the event log (Redis) does not keep
 *   up; every further one is refused until one is answered;
 * - the event loop: sampled every 100 ms (utilization and how late the sampling timer fired). Once it has been
 *   over `maxUtilization` or `maxDelayMs` for SUSTAIN_SAMPLES samples in a row while callbacks came at
 *   MIN_ARRIVALS_PER_SAMPLE or more, a share of callbacks is refused (spread evenly, not in bursts), growing while
 *   the loop stays hot and shrinking once it cools: a refusal is far cheaper than an accepted callback (no
 *   normalization, lookup, log append or fan-out), so refusing some keeps the loop able to deliver the rest on
 *   time. A loop made busy by something else (a phonebook refresh, a test harness sharing the process) with few
 *   callbacks is not helped by refusing them, and they are not refused.
 *
 * - the answer time (a CoDel-style sojourn): the least time, over a sample, that an admitted callback spent in
 *   the bridge from its arrival to its answer. A standing queue anywhere on the bridge's path (Redis answering
 *   late, a CPU shared with redis-server, the loop busy) keeps even the quickest answer of a sample slow, while a
 *   burst or one GC pause does not. It sees what the loop signals cannot: a PBX sending over few keep-alive
 *   connections keeps the bridge's in-flight count at its connection count and the backlog in its own queue,
 *   and a bridge waiting on Redis is not busy. Hot like the loop (over `maxAnswerMs` with
 *   MIN_ARRIVALS_PER_SAMPLE callbacks), fed into the same share.
 * - busy connections: the share of a sample during which the PBX's reused keep-alive connections had a callback
 *   in flight (overload-connections.ts). A sender whose fixed pool of connections is always busy queues the
 *   callbacks in its pool while the bridge's answers stay quick and its loop short of the utilization limit;
 *   a refusal frees a connection within the tick that reads it, so refusing drains that pool. Hot when its
 *   average over samples (BUSY_WEIGHT) is over `maxConnectionsBusy` while at least MIN_BUSY_CONNECTIONS are
 *   busy on average (a lone connection is busy much of the time at a modest rate) with MIN_ARRIVALS_PER_SAMPLE
 *   callbacks, fed into the same share.
 *
 * And one for the call tracker's standing work: while `maxOpenCalls` calls are open (each one is polled on
 * every round until it ends), a ringing callback, which would open one more, is refused (`admitRinging`, asked
 * once the body is read); state callbacks, which end calls, are still taken.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { ConnectionsBusy, type GuardConnection } from './overload-connections.js';

export type { GuardConnection } from './overload-connections.js';

export type RefusalReason = 'in_flight' | 'event_loop' | 'answer_time' | 'connections_busy' | 'open_calls';

export interface LoadSample {
  /** How late the sampling timer fired, ms. */
  delayMs: number;
  /** Event-loop utilization since the previous sample, 0..1. */
  utilization: number;
}

export interface OverloadGuardOptions {
  /** Callbacks in flight at which the next is refused; 0: no limit. */
  maxInFlight: number;
  /** Event-loop delay (ms) that counts as overloaded; 0: not judged by delay. */
  maxDelayMs: number;
  /** Event-loop utilization (0..1) that counts as overloaded; 0: not judged by utilization. */
  maxUtilization: number;
  /** The least answer time (ms) of a sample that counts as overloaded; 0 or absent: not judged by answer time. */
  maxAnswerMs?: number;
  /** The busy share (0..1) of reused keep-alive connections that counts as overloaded; 0 or absent: not judged by it. */
  maxConnectionsBusy?: number;
  /** Open calls at which a ringing callback is refused; 0 or no `openCalls`: no limit. */
  maxOpenCalls?: number;
  /** The call tracker's open calls now (cheap: read on every ringing callback). */
  openCalls?: () => number;
  /** Tests: no timer; samples come from sample(). */
  manual?: boolean;
}

export const SAMPLE_MS = 100;
/** Samples in a row over a limit before refusing starts: a burst or a GC pause is not an overload. */
export const SUSTAIN_SAMPLES = 5;
/** Authenticated callbacks per sample (500/s) below which the loop's load is not the callbacks' doing. */
export const MIN_ARRIVALS_PER_SAMPLE = 50;
/**
 * Connections busy on average below which the busy-connections signal does not judge: one or a few
 * connections carrying a modest rate are busy much of the time without any queue behind them.
 */
export const MIN_BUSY_CONNECTIONS = 8;
const SHARE_UP = 0.15;
const SHARE_DOWN = 0.05;
/**
 * Below the limits by this much the loop counts as cool and the share shrinks; in between it is held, so the
 * loop keeps some headroom to work off what queued up before refusing began, instead of swinging around the limit.
 */
const COOL_UTILIZATION_MARGIN = 0.1;
const COOL_DELAY_FACTOR = 0.5;
const COOL_ANSWER_FACTOR = 0.5;
const COOL_BUSY_MARGIN = 0.1;
/**
 * Weight of each sample in the busy share the guard judges (an exponential average): a pool queueing in the
 * sender shows a busy share that swings by +-0.1 around its level from sample to sample (the bridge sees a
 * connection busy from the request read to its answer, not the wait before the read), so SUSTAIN_SAMPLES raw
 * samples in a row over the limit are rare even while the queue grows.
 */
const BUSY_WEIGHT = 0.3;
/** Refusing everything would also refuse the callbacks the loop still has room for. */
const MAX_SHARE = 0.95;

export interface OverloadStats {
  inFlight: number;
  /** Share of callbacks refused now, 0..MAX_SHARE. */
  refuseShare: number;
  refused: Record<RefusalReason, number>;
  /** The last sample's least answer time, ms (SAMPLE_MS: none answered while some waited; null: none came). */
  answerMinMs: number | null;
  /** The last sample's busy share of reused keep-alive connections, 0..1 (null: no callback came). */
  connectionsBusy: number | null;
  /** Reused keep-alive connections open now. */
  reusedConnections: number;
}

/** What each sample's listeners are told (metrics). */
export interface SampleFigures {
  answerMinMs: number | null;
  /** Busy share of reused connections (null: no callback came). */
  connectionsBusy: number | null;
}

export class OverloadGuard {
  private inFlight = 0;
  private share = 0;
  /** Accumulates `share` per admitted callback; one refusal each time it reaches 1 (an even spread). */
  private credit = 0;
  private hotStreak = 0;
  /** Each signal's own samples hot in a row: the refusals are counted under the one hot longest. */
  private readonly streaks = { event_loop: 0, answer_time: 0, connections_busy: 0 };
  /** Authenticated callbacks since the last sample, admitted or refused. */
  private arrivals = 0;
  /** The least answer time of the callbacks answered since the last sample, ms (Infinity: none). */
  private answerMin = Infinity;
  private lastAnswerMin: number | null = null;
  private lastBusy: number | null = null;
  /** The busy share averaged over samples (BUSY_WEIGHT); 0 while not judged. */
  private busyAvg = 0;
  private readonly connections = new ConnectionsBusy(SAMPLE_MS);
  /** The signal that started the share, or one hot SUSTAIN_SAMPLES in a row since: the reason its refusals are counted under. */
  private shareReason: 'event_loop' | 'answer_time' | 'connections_busy' = 'event_loop';
  private readonly sampleListeners: Array<(figures: SampleFigures) => void> = [];
  private readonly refused: Record<RefusalReason, number> = { in_flight: 0, event_loop: 0, answer_time: 0, connections_busy: 0, open_calls: 0 };
  private readonly timer: NodeJS.Timeout | null = null;
  private lastSampleAt = performance.now();
  private lastElu: EventLoopUtilization = performance.eventLoopUtilization();

  constructor(private readonly opts: OverloadGuardOptions) {
    const samples = opts.maxDelayMs > 0 || opts.maxUtilization > 0 || (opts.maxAnswerMs ?? 0) > 0 || (opts.maxConnectionsBusy ?? 0) > 0;
    if (samples && opts.manual !== true) {
      this.timer = setInterval(() => this.sample(this.measure()), SAMPLE_MS);
      this.timer.unref();
    }
  }

  /** Why this callback is refused, or null: it is admitted and counted in flight until done() is called. */
  admit(): RefusalReason | null {
    this.arrivals++;
    const reason = this.refusal();
    if (reason !== null) {
      this.refused[reason]++;
      return reason;
    }
    this.inFlight++;
    return null;
  }

  /**
   * For an admitted callback once it is known to be a ringing one: 'open_calls' when the tracker already
   * follows `maxOpenCalls` calls (the callback stays in flight until done() as before), else null.
   */
  admitRinging(): RefusalReason | null {
    const max = this.opts.maxOpenCalls ?? 0;
    if (max <= 0 || !this.opts.openCalls || this.opts.openCalls() < max) return null;
    this.refused.open_calls++;
    return 'open_calls';
  }

  /**
   * An admitted callback was answered, `answerMs` after it arrived (none: not judged by it), on `connection`,
   * which it kept busy `busyMs` (every answer's time, 200 or not; default `answerMs`).
   */
  done(answerMs?: number, connection?: GuardConnection, busyMs: number = answerMs ?? 0): void {
    if (this.inFlight > 0) this.inFlight--;
    if (answerMs !== undefined && answerMs < this.answerMin) this.answerMin = answerMs;
    if (connection !== undefined) this.connections.answered(connection, busyMs);
  }

  /** Told each sample's figures (metrics). */
  onSample(listener: (figures: SampleFigures) => void): void {
    this.sampleListeners.push(listener);
  }

  /** Feeds one load sample (every SAMPLE_MS from the timer; tests call it directly); the answer times came through done(). */
  sample(s: LoadSample): void {
    const { maxDelayMs, maxUtilization } = this.opts;
    const maxAnswerMs = this.opts.maxAnswerMs ?? 0;
    const byCallbacks = this.arrivals >= MIN_ARRIVALS_PER_SAMPLE;
    this.arrivals = 0;
    // Nothing answered while callbacks wait: every one of them has been in the bridge longer than the sample.
    const answerMin = this.answerMin === Infinity ? (this.inFlight > 0 ? SAMPLE_MS : null) : this.answerMin;
    this.answerMin = Infinity;
    this.lastAnswerMin = answerMin;
    // The busy share over the time the sample really covered (a late timer covers more than SAMPLE_MS).
    const conn = this.connections.take(SAMPLE_MS + s.delayMs);
    const maxBusy = this.opts.maxConnectionsBusy ?? 0;
    const busyJudged = maxBusy > 0 && conn.busyConnections >= MIN_BUSY_CONNECTIONS;
    this.busyAvg = busyJudged ? this.busyAvg + (conn.busyShare - this.busyAvg) * BUSY_WEIGHT : 0;
    // Reported with the signal off too: the figure an operator sets the limit from.
    this.lastBusy = answerMin !== null ? conn.busyShare : null;
    for (const listener of this.sampleListeners) listener({ answerMinMs: answerMin, connectionsBusy: this.lastBusy });
    const loopHot = (maxDelayMs > 0 && s.delayMs > maxDelayMs) || (maxUtilization > 0 && s.utilization > maxUtilization);
    const answerHot = maxAnswerMs > 0 && answerMin !== null && answerMin > maxAnswerMs;
    const busyHot = busyJudged && this.busyAvg > maxBusy;
    const hot = byCallbacks && (loopHot || answerHot || busyHot);
    const warm =
      byCallbacks &&
      ((maxDelayMs > 0 && s.delayMs > maxDelayMs * COOL_DELAY_FACTOR) ||
        (maxUtilization > 0 && s.utilization > maxUtilization - COOL_UTILIZATION_MARGIN) ||
        (maxAnswerMs > 0 && answerMin !== null && answerMin > maxAnswerMs * COOL_ANSWER_FACTOR) ||
        (busyJudged && this.busyAvg > maxBusy - COOL_BUSY_MARGIN));
    this.hotStreak = hot ? this.hotStreak + 1 : 0;
    const st = this.streaks;
    st.event_loop = byCallbacks && loopHot ? st.event_loop + 1 : 0;
    st.answer_time = byCallbacks && answerHot ? st.answer_time + 1 : 0;
    st.connections_busy = byCallbacks && busyHot ? st.connections_busy + 1 : 0;
    if (hot && (this.hotStreak >= SUSTAIN_SAMPLES || this.share > 0)) {
      const longest: typeof this.shareReason =
        st.event_loop >= st.answer_time && st.event_loop >= st.connections_busy ? 'event_loop' : st.answer_time >= st.connections_busy ? 'answer_time' : 'connections_busy';
      // The signal that started the refusing keeps the reason until another is hot long enough to have started
      // it alone: once refusing, the retries' flood makes the loop hot now and then, and the refusals thin the
      // busy share, so "hot in this sample" would count the busy connections' refusals as event_loop.
      if (this.share === 0 || st[longest] >= SUSTAIN_SAMPLES) this.shareReason = longest;
      this.share = Math.min(MAX_SHARE, this.share + SHARE_UP);
    } else if (!byCallbacks) this.share = 0; // the surge is over: nothing left to protect
    else if (!warm) this.share = Math.max(0, this.share - SHARE_DOWN);
    if (this.share === 0) this.credit = 0;
  }

  stats(): OverloadStats {
    return {
      inFlight: this.inFlight,
      refuseShare: Math.round(this.share * 100) / 100,
      refused: { ...this.refused },
      answerMinMs: this.lastAnswerMin,
      connectionsBusy: this.lastBusy,
      reusedConnections: this.connections.openReused(),
    };
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private refusal(): RefusalReason | null {
    if (this.opts.maxInFlight > 0 && this.inFlight >= this.opts.maxInFlight) return 'in_flight';
    if (this.share > 0) {
      this.credit += this.share;
      if (this.credit >= 1) {
        this.credit -= 1;
        return this.shareReason;
      }
    }
    return null;
  }

  private measure(): LoadSample {
    const now = performance.now();
    const delayMs = Math.max(0, now - this.lastSampleAt - SAMPLE_MS);
    this.lastSampleAt = now;
    const elu = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(elu, this.lastElu).utilization;
    this.lastElu = elu;
    return { delayMs, utilization };
  }
}
