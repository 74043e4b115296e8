/**
 * The call tracker (docs/calls.md): opens a leg for each ringing callback, groups legs into one session per
 * call, and follows the call to its end from state callbacks and, on one instance at a time, from the PBX:
 * activeCalls while a call is open, then callLog and recordingPath. Every decision is one compare-and-set on
 * the session that queues its events in the session's outbox; the outbox is then appended to the event log
 * with one dedupe key per event, so an instance dying in between costs nothing: the next poller sends what
 * was decided, and never twice.
 */
import { randomUUID } from 'node:crypto';
import type { CallsConfig } from '../config.js';
import { buildCallEvent, type CallerDirectory, type CallEventOptions } from '../core/call-events.js';
import { dedupeRule, type NormalizedCallback } from '../core/callback.js';
import type { NewCallEvent } from '../core/event.js';
import type { CountryCode } from '../core/phone-number.js';
import type { AppendResult, ClaimedAppend, EventLog, PbxCallApi } from '../core/ports.js';
import { withTimeout } from '../timeouts.js';
import type { LeaderLease } from '../lease/leader-lease.js';
import type { Logger } from '../logger.js';
import type { CallJournal } from './journal.js';
import { addLeg, answer, end, legOf } from './machine.js';
import type { TrackerMetrics } from './metrics.js';
import { openLegs, type CallSession } from './model.js';
import { openSession } from './ringing-session.js';
import { callerKey } from './numbers.js';
import { createFlush, type Flush } from './outbox.js';
import { CallGroupDirectory } from './groups.js';
import { CallPoller } from './poller.js';
import { updateSession, type CallStateStore } from './store.js';

/** Legs with one PBX call id belong together for as long as a call can last. */
const CALL_ID_GROUP_TTL_MS = 12 * 3600 * 1000;
const FLAG_ANSWER_CALLBACKS = 'answer-callbacks';
/** The most close() waits for a call-log or recording lookup in flight (well within the Lifecycle deadline). */
const LOOKUPS_CLOSE_WAIT_MS = 2000;
/** How stale the open-call count may get before a ringing callback asks the store again (in the background). */
const OPEN_COUNT_REFRESH_MS = 500;

export interface CallTrackerOptions {
  store: CallStateStore;
  journal: CallJournal;
  eventLog: EventLog;
  pbx: PbxCallApi;
  lease: LeaderLease;
  directory: CallerDirectory;
  eventOptions: CallEventOptions;
  country: CountryCode;
  config: CallsConfig;
  logger: Logger;
  metrics?: TrackerMetrics;
  /** False while the store is known to be unreachable (Redis down): callbacks then skip the tracker at once. */
  storeAvailable?: () => boolean;
  now?: () => number;
  /** How long a round works before it lets the event loop run (default 5 ms; tests: 0, a yield per call). */
  roundSliceMs?: number;
}

/** The most a callback waits for the call state (a Redis that hangs instead of refusing). */
const STORE_WAIT_MS = 300;

async function withinStoreWait<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the call state within ${STORE_WAIT_MS} ms`)), STORE_WAIT_MS);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface TrackerStatus {
  leader: boolean;
  /** Sessions not yet done (ringing, talking, or waiting for the call log or a recording). */
  active: number;
  open: number;
  recordingsPending: number;
  /** Whether the last activeCalls request got an answer; null before the first. */
  pbxReachable: boolean | null;
  lastPollAt: string | null;
  /** Ring groups and queues known from getRingGroup / getQueue (for "via Sales (5000)"). */
  groupsKnown: number;
}

export class CallTracker {
  private readonly o: CallTrackerOptions;
  private readonly now: () => number;
  private readonly times: { callLogWaitMs: number; recordingWaitMs: number };
  private readonly log: Logger;
  private readonly flush: Flush;
  private readonly poller: CallPoller;
  private readonly groups: CallGroupDirectory;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private closed = false;
  private answerCallbacksSeen = false;
  /** Callbacks passed on untracked since the call state became unreachable. */
  private untracked = 0;
  /** Open calls as the store last counted them, plus the calls this instance opened since (openCalls()). */
  private openCounted = 0;
  private openedSince = 0;
  private openCountedAt = -Infinity;
  private openCounting = false;

  constructor(opts: CallTrackerOptions) {
    this.o = opts;
    this.now = opts.now ?? Date.now;
    this.log = opts.logger.child({ component: 'call-tracker' });
    this.times = { callLogWaitMs: opts.config.callLogWaitS * 1000, recordingWaitMs: opts.config.recordingWaitS * 1000 };
    this.flush = createFlush({ eventLog: opts.eventLog, store: opts.store, journal: opts.journal, ...(opts.metrics ? { metrics: opts.metrics } : {}) });
    this.groups = new CallGroupDirectory(opts.pbx, this.log, this.now);
    this.poller = new CallPoller({
      groups: this.groups,
      store: opts.store,
      pbx: opts.pbx,
      lease: opts.lease,
      flush: this.flush,
      config: opts.config,
      country: opts.country,
      times: this.times,
      logger: this.log,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
      now: this.now,
      ...(opts.roundSliceMs !== undefined ? { sliceMs: opts.roundSliceMs } : {}),
    });
  }

  /**
   * One round of the PBX side (tests and benchmarks may drive it directly): answers once its activeCalls poll
   * is done; the call-log and recording lookups it started run on beside the next rounds.
   */
  tick(): Promise<void> {
    return this.poller.tick();
  }

  start(): void {
    void this.groups.refresh();
    const loop = () => {
      if (this.closed) return;
      this.ticking = this.tick().finally(() => {
        this.ticking = null;
        if (!this.closed) this.timer = setTimeout(loop, this.o.config.activeCallsPollMs);
      });
    };
    this.timer = setTimeout(loop, this.o.config.activeCallsPollMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    // No lookup starts now; one still waiting for the PBX is abandoned after LOOKUPS_CLOSE_WAIT_MS (its
    // session stays due, and the next lease holder asks again), so the lease is released in time.
    await withTimeout(this.poller.stop(), LOOKUPS_CLOSE_WAIT_MS, 'the PBX').catch(() => this.log.info('closing with a call-log or recording lookup still waiting for the PBX'));
    await this.o.lease.release();
  }

  status(): TrackerStatus {
    const f = this.poller.figures;
    return {
      leader: f.leader,
      active: f.active,
      open: f.open,
      recordingsPending: f.recordingsPending,
      pbxReachable: f.pbxReachable,
      lastPollAt: f.lastPollAt === null ? null : new Date(f.lastPollAt).toISOString(),
      groupsKnown: this.groups.size,
    };
  }

  /**
   * Open calls (due at every poll: the tracker's standing work), for the overload guard: read on every
   * ringing callback, so it never waits for the store; the store's count is refreshed in the background at
   * most every OPEN_COUNT_REFRESH_MS, and calls opened here since are added to it.
   */
  openCalls(): number {
    const now = this.now();
    if (!this.openCounting && now - this.openCountedAt >= OPEN_COUNT_REFRESH_MS) {
      this.openCounting = true;
      const openedBefore = this.openedSince;
      this.o.store
        .openCount()
        .then((n) => {
          this.openCounted = n;
          this.openedSince -= openedBefore;
        })
        .catch(() => undefined) // an unreachable store has its own outage mode; the old count stands
        .finally(() => {
          this.openCounting = false;
          this.openCountedAt = this.now();
        });
    }
    return this.openCounted + this.openedSince;
  }

  /** The callback route's `accept`: a ringing callback opens a leg; a state callback moves it at once. */
  async accept(cb: NormalizedCallback): Promise<AppendResult> {
    let handled: AppendResult | null = null;
    try {
      if (this.o.storeAvailable && !this.o.storeAvailable()) throw new TrackerStoreError(new Error('the call state store is unreachable'));
      handled = cb.state === 'ringing' ? await this.ringing(cb) : await this.stateCallback(cb);
      if (this.untracked > 0) this.log.info({ untracked: this.untracked }, 'call tracker reachable again');
      this.untracked = 0;
    } catch (err) {
      if (!(err instanceof TrackerStoreError)) throw err;
      // The call state cannot be reached (Redis is down): the pop must not wait for it. The event goes out
      // as a call of its own; the event log has its own outage mode. Logged once per outage.
      if (this.untracked++ === 0) this.log.warn({ err: err.message }, 'call tracker unavailable; callbacks are passed on untracked');
    }
    if (handled) return handled;
    // A state callback for a call the bridge never saw ring: passed on as it came, a call of its own.
    return this.o.eventLog.append(buildCallEvent(cb, this.o.directory, this.o.eventOptions), dedupeRule(cb));
  }

  private groupKey(cb: NormalizedCallback): { key: string; ttlMs: number } {
    if (cb.callId !== null) return { key: `cid:${cb.callId}`, ttlMs: CALL_ID_GROUP_TTL_MS };
    // A withheld caller groups nothing: its legs on one extension stay one call, other extensions' are their own.
    const caller = callerKey(cb.from, this.o.country) ?? `withheld@${cb.extension}`;
    return { key: `caller:${caller}`, ttlMs: this.o.config.groupWindowS * 1000 };
  }

  private async ringing(cb: NormalizedCallback): Promise<AppendResult> {
    const event = buildCallEvent(cb, this.o.directory, this.o.eventOptions);
    // Through which group, when the callback says it and the group list knows it (never waits for the PBX).
    const via = cb.viaHints ? this.groups.resolve(cb.viaHints) : null;
    if (via) event.data.via = via;
    const now = this.now();
    const inOneStep = await this.ringingInOneStep(cb, event, now);
    if (inOneStep && 'result' in inOneStep) return inOneStep.result;
    const owner = inOneStep?.owner ?? null;
    let joined: { sessionId: string; created: boolean };
    try {
      const joining = this.join(cb, event, now, owner);
      joining.catch(() => undefined);
      // A timer per callback only where the state can hang (Redis); the memory store answers at once.
      joined = await (this.o.store.inProcess === true ? joining : withinStoreWait(joining));
    } catch (err) {
      throw new TrackerStoreError(err);
    }
    const { sessionId, created } = joined;
    if (created) this.openedSince++;
    event.data.call.sessionId = sessionId;
    // Kept for the journal's "every event it had": one write beside the session (no read, no compare-and-set:
    // it decides nothing). In Redis the append writes it in the same script; otherwise it follows the append.
    const sent = { type: event.type, extension: cb.extension, timestamp: event.timestamp };
    const note = this.o.store.noteWithAppend?.(sessionId, sent) ?? null;
    const result = await this.o.eventLog.append(event, dedupeRule(cb), note);
    if (result.duplicate) {
      // A repeated callback for a call already over: the new session it opened is not a call.
      if (created) await this.o.store.remove(sessionId);
      return result;
    }
    if (result.noted) return result;
    // A call opened here whose ringing event the log hands back serialized: an in-process store keeps the
    // session as that event instead of writing a document (src/calls/ringing-session.ts).
    if (created && result.json !== undefined && this.o.store.noteRinging) {
      this.o.store.noteRinging(sessionId, { id: result.id, ...sent }, result.json);
      return result;
    }
    // The PBX's answer does not wait for it.
    this.o.store
      .noteEvent(sessionId, { id: result.id, ...sent })
      .catch((err: unknown) => this.log.warn({ err: err instanceof Error ? err.message : String(err), sessionId }, 'could not note the ringing event on the call'));
    return result;
  }

  /**
   * A new call where the event log shares the store's Redis: the group claim, the new session, the event and
   * its note in one script run (one round trip instead of two or three). `owner` when the group is taken
   * already (a leg of a call that rang elsewhere: the usual join follows, with that session); null where the
   * log and the store do not share a Redis.
   */
  private async ringingInOneStep(cb: NormalizedCallback, event: NewCallEvent, now: number): Promise<ClaimedAppend | null> {
    const { store, eventLog } = this.o;
    if (!eventLog.appendClaimed || !store.claimForAppend || !store.noteWithAppend) return null;
    const { key, ttlMs } = this.groupKey(cb);
    const fresh = this.newSession(cb, event, now);
    event.data.call.sessionId = fresh.sessionId;
    const note = store.noteWithAppend(fresh.sessionId, { type: event.type, extension: cb.extension, timestamp: event.timestamp });
    const outcome = await eventLog.appendClaimed(event, dedupeRule(cb), store.claimForAppend(key, fresh, ttlMs, null), note);
    if (outcome === null) throw new TrackerStoreError(new Error('the shared event log is unreachable'));
    // A duplicate claimed nothing; otherwise a new call is open.
    if ('result' in outcome && !outcome.result.duplicate) this.openedSince++;
    return outcome;
  }

  /** The session this leg belongs to (section 8's grouping rule), created when there is none. */
  private async join(cb: NormalizedCallback, event: NewCallEvent, now: number, knownOwner: string | null): Promise<{ sessionId: string; created: boolean }> {
    const { key, ttlMs } = this.groupKey(cb);
    let stale: string | null = null;
    // The one-step write answered the group's owner already: the first attempt needs no claim to learn it.
    let owner = knownOwner;
    for (let attempt = 0; attempt < 5; attempt++) {
      let existing: string;
      if (owner !== null) {
        existing = owner;
        owner = null;
      } else {
        // One round trip for a new call: the key is claimed and the session written together.
        const fresh = this.newSession(cb, event, now);
        existing = await this.o.store.claimGroup(key, fresh, ttlMs, stale);
        if (existing === fresh.sessionId) return { sessionId: existing, created: true };
      }
      let joined = false;
      await updateSession(this.o.store, existing, (s) => {
        joined = false;
        if (s.phase !== 'open') return false;
        const leg = legOf(s, cb.extension);
        if (leg) {
          joined = leg.state === 'ringing' || leg.state === 'answered';
          return false;
        }
        // Without a call id only an open leg of this caller within the window ties the calls together.
        if (cb.callId === null && openLegs(s).length === 0) return false;
        joined = true;
        if (!s.via && event.data.via) s.via = event.data.via;
        if (cb.viaHints) s.viaHints = [...new Set([...(s.viaHints ?? []), ...cb.viaHints])].slice(0, 8);
        return addLeg(s, cb.extension, now);
      });
      if (joined) return { sessionId: existing, created: false };
      stale = existing;
    }
    throw new Error('call tracker: could not open a leg for this call');
  }

  private newSession(cb: NormalizedCallback, event: NewCallEvent, now: number): CallSession {
    const d = event.data;
    return openSession({
      sessionId: randomUUID(),
      callId: cb.callId,
      fromRaw: cb.from,
      from: d.call.from,
      fromName: cb.fromName,
      direction: d.call.direction,
      contact: d.contact,
      otherContacts: d.otherContacts,
      links: d.links,
      via: d.via ?? null,
      extension: cb.extension,
      ringingAt: now,
      ...(cb.viaHints ? { viaHints: cb.viaHints } : {}),
    });
  }

  /** answered / ended from the PBX or a site's middleware: authoritative, applied at once. */
  private async stateCallback(cb: NormalizedCallback): Promise<AppendResult | null> {
    let sessionId: string | null;
    try {
      sessionId = await withinStoreWait(this.o.store.group(this.groupKey(cb).key));
    } catch (err) {
      throw new TrackerStoreError(err);
    }
    if (!sessionId) return null;
    const now = this.now();
    if (cb.state === 'answered' && !this.answerCallbacksSeen) {
      this.answerCallbacksSeen = true;
      await this.o.store.setFlag(FLAG_ANSWER_CALLBACKS, '1');
    }
    const answerCallbacks = this.answerCallbacksSeen || (await this.o.store.getFlag(FLAG_ANSWER_CALLBACKS)) === '1';
    let known = false;
    const updated = await updateSession(this.o.store, sessionId, (s) => {
      const leg = legOf(s, cb.extension);
      known = leg !== undefined;
      if (!leg) return false;
      if (cb.state === 'answered') return answer(s, cb.extension, now, now);
      if (s.phase !== 'open') return false;
      // One leg hanging up ends the call when it was the answered one, or the last one still ringing.
      const first = !leg.hungUp;
      leg.hungUp = true;
      if (s.answeredBy !== null) {
        if (s.answeredBy !== cb.extension) return first;
        return end(s, { kind: 'answered', by: s.answeredBy, answeredAt: s.answeredAt }, now, now, this.times);
      }
      if (!s.legs.every((l) => l.hungUp)) return first;
      // This site reports answers by callback, so an end without one is a call nobody answered.
      if (answerCallbacks) return end(s, { kind: 'missed' }, now, now, this.times);
      if (s.observed.goneAt !== null) return first;
      s.observed.goneAt = now;
      s.callLog.nextAt = now;
      return true;
    });
    if (!known) return null;
    const sent = updated ? await this.flush(updated) : [];
    const session = updated ?? (await this.o.store.read(sessionId))?.session;
    const first = sent[0] ?? session?.events[session.events.length - 1];
    if (!first) return null;
    return { id: first.id, duplicate: sent.length === 0 };
  }

  /** The call with every event it had, while it is still followed (the journal has it once completed). */
  async session(sessionId: string): Promise<CallSession | null> {
    return (await this.o.store.read(sessionId))?.session ?? null;
  }
}

/** The tracker's own state could not be read or written (as opposed to the event log refusing). */
class TrackerStoreError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'TrackerStoreError';
  }
}
