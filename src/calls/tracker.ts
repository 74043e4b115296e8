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
import type { AppendResult, EventLog, PbxActiveCall, PbxCallApi } from '../core/ports.js';
import type { LeaderLease } from '../lease/leader-lease.js';
import type { Logger } from '../logger.js';
import { answerFacts, completionFacts, isOver, matchRows } from './call-log.js';
import { observe, rowsOfCaller, showsRinging } from './inference.js';
import type { CallJournal, JournalEntry } from './journal.js';
import { addLeg, answer, complete, end, legOf, recordingFound, recordingNotYet, type MachineTimes } from './machine.js';
import type { TrackerMetrics } from './metrics.js';
import { openLegs, type CallSession, type SentEvent } from './model.js';
import { callerKey } from './numbers.js';
import { pbxLocalDate } from './pbx-time.js';
import { updateSession, type CallStateStore } from './store.js';

/** Legs with one PBX call id belong together for as long as a call can last. */
const CALL_ID_GROUP_TTL_MS = 12 * 3600 * 1000;
const OUTCOME_DEDUPE_MS = 24 * 3600 * 1000;
/** A call gone from activeCalls that nobody was seen to answer waits this long for its call-log row. */
const GONE_ANSWER_WAIT_MS = 60_000;
/** A call never listed by activeCalls (connected-only listings) is looked up in the call log from then on. */
const UNSEEN_LOOKUP_AFTER_MS = 3000;
/**
 * A call that neither activeCalls nor the call log ever showed is given up after this long (over, who
 * answered unknown), so a ringing callback for a call the PBX never reports cannot keep the polling going.
 */
const UNSEEN_GIVE_UP_MS = 10 * 60_000;
/** Call-log lookups per poll round, so 200 calls ending at once do not become 200 requests at once. */
const CALL_LOG_LOOKUPS_PER_ROUND = 10;
/**
 * When activeCalls has failed this long while the call log still answers, open calls are looked up in the
 * call log too: its rows are the PBX's word, so a PBX that stops listing calls cannot hold them open forever.
 */
const LISTING_FAILING_MS = 10_000;
const RECORDING_LOOKUPS_PER_ROUND = 10;
const FLAG_LISTING = 'listing-shows-ringing';
const FLAG_ANSWER_CALLBACKS = 'answer-callbacks';

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
}

export class CallTracker {
  private readonly o: CallTrackerOptions;
  private readonly now: () => number;
  private readonly times: MachineTimes;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private closed = false;
  private listingShowsRinging = false;
  private answerCallbacksSeen = false;
  private roundFailing = false;
  /** Callbacks passed on untracked since the call state became unreachable. */
  private untracked = 0;
  /** Since when every activeCalls request failed; null while it answers. */
  private listingFailingSince: number | null = null;
  private figures = { active: 0, open: 0, recordingsPending: 0, leader: false, pbxReachable: null as boolean | null, lastPollAt: null as number | null };

  constructor(opts: CallTrackerOptions) {
    this.o = opts;
    this.now = opts.now ?? Date.now;
    this.log = opts.logger.child({ component: 'call-tracker' });
    this.times = { callLogWaitMs: opts.config.callLogWaitS * 1000, recordingWaitMs: opts.config.recordingWaitS * 1000 };
  }

  start(): void {
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
    await this.o.lease.release();
  }

  status(): TrackerStatus {
    const f = this.figures;
    return {
      leader: f.leader,
      active: f.active,
      open: f.open,
      recordingsPending: f.recordingsPending,
      pbxReachable: f.pbxReachable,
      lastPollAt: f.lastPollAt === null ? null : new Date(f.lastPollAt).toISOString(),
    };
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
    return cb.callId !== null
      ? { key: `cid:${cb.callId}`, ttlMs: CALL_ID_GROUP_TTL_MS }
      : { key: `caller:${callerKey(cb.from, this.o.country)}`, ttlMs: this.o.config.groupWindowS * 1000 };
  }

  private async ringing(cb: NormalizedCallback): Promise<AppendResult> {
    const event = buildCallEvent(cb, this.o.directory, this.o.eventOptions);
    const now = this.now();
    let joined: { sessionId: string; created: boolean };
    try {
      const joining = this.join(cb, event, now);
      joining.catch(() => undefined);
      joined = await withinStoreWait(joining);
    } catch (err) {
      throw new TrackerStoreError(err);
    }
    const { sessionId, created } = joined;
    event.data.call.sessionId = sessionId;
    const result = await this.o.eventLog.append(event, dedupeRule(cb));
    if (result.duplicate) {
      // A repeated callback for a call already over: the new session it opened is not a call.
      if (created) await this.o.store.remove(sessionId);
      return result;
    }
    // Kept for the journal's "every event it had"; the PBX's answer does not wait for it.
    void updateSession(this.o.store, sessionId, (s) => {
      if (s.events.some((e) => e.id === result.id)) return false;
      s.events.push({ id: result.id, type: event.type, extension: cb.extension, timestamp: event.timestamp });
      return true;
    }).catch((err: unknown) => this.log.warn({ err: err instanceof Error ? err.message : String(err), sessionId }, 'could not note the ringing event on the call'));
    return result;
  }

  /** The session this leg belongs to (section 8's grouping rule), created when there is none. */
  private async join(cb: NormalizedCallback, event: NewCallEvent, now: number): Promise<{ sessionId: string; created: boolean }> {
    const { key, ttlMs } = this.groupKey(cb);
    let stale: string | null = null;
    for (let attempt = 0; attempt < 5; attempt++) {
      // One round trip for a new call: the key is claimed and the session written together.
      const fresh = this.newSession(cb, event, now);
      const existing = await this.o.store.claimGroup(key, fresh, ttlMs, stale);
      if (existing === fresh.sessionId) return { sessionId: existing, created: true };
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
        return addLeg(s, cb.extension, now);
      });
      if (joined) return { sessionId: existing, created: false };
      stale = existing;
    }
    throw new Error('call tracker: could not open a leg for this call');
  }

  private newSession(cb: NormalizedCallback, event: NewCallEvent, now: number): CallSession {
    const d = event.data;
    return {
      sessionId: randomUUID(),
      callId: cb.callId,
      fromRaw: cb.from,
      from: d.call.from,
      fromName: cb.fromName,
      direction: d.call.direction,
      contact: d.contact,
      otherContacts: d.otherContacts,
      links: d.links,
      startedAt: now,
      answeredAt: null,
      answeredBy: null,
      endedAt: null,
      answerUnknown: false,
      legs: [{ extension: cb.extension, state: 'ringing', ringingAt: now }],
      phase: 'open',
      observed: { seen: false, absentBeforeSeen: false, maxLegsListed: 0, groupCallee: null, goneAt: null },
      callLog: { nextAt: now + UNSEEN_LOOKUP_AFTER_MS, attempts: 0, deadline: null },
      recording: null,
      cdr: null,
      outbox: [],
      events: [],
    };
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

  /** Appends what a transition decided, then clears it from the outbox; journals a completed call. */
  private async flush(s: CallSession): Promise<SentEvent[]> {
    const sent: SentEvent[] = [];
    // Journaled before call.completed goes out, so a client that reads the journal on it finds the call.
    const completing = s.cdr !== null && s.outbox.some((p) => p.event.type === 'call.completed');
    if (completing) await this.o.journal.put(journalEntry(s));
    for (const p of s.outbox) {
      const r = await this.o.eventLog.append(p.event, { key: `calls:${p.key}`, ttlMs: OUTCOME_DEDUPE_MS });
      sent.push({ id: r.id, type: p.event.type, extension: p.event.data.extension, timestamp: p.event.timestamp });
      if (!r.duplicate) this.o.metrics?.outcomes.inc({ type: p.event.type.replace('call.', '') });
    }
    const keys = new Set(s.outbox.map((p) => p.key));
    const after =
      keys.size === 0
        ? s
        : await updateSession(this.o.store, s.sessionId, (x) => {
            x.outbox = x.outbox.filter((p) => !keys.has(p.key));
            for (const e of sent) if (!x.events.some((have) => have.id === e.id)) x.events.push(e);
            return true;
          });
    if (after?.cdr && (after.phase === 'completed' || after.phase === 'done')) await this.o.journal.put(journalEntry(after));
    return sent;
  }

  /** One round: only when some call is not done, and only on the instance holding the lease. */
  async tick(): Promise<void> {
    try {
      const ids = await this.o.store.due(this.now());
      if (this.roundFailing) this.log.info('call tracker rounds work again');
      this.roundFailing = false;
      if (ids.length === 0) {
        // Nothing rings and no lookup is due: no PBX request, and only two counts from the store.
        const counts = await this.o.store.counts();
        this.figures.active = counts.active;
        this.figures.recordingsPending = counts.recordingsPending;
        this.figures.open = 0;
        return;
      }
      this.figures.leader = await this.o.lease.hold();
      if (!this.figures.leader) return;
      const sessions = (await Promise.all(ids.map((id) => this.o.store.read(id)))).flatMap((v) => (v ? [v.session] : []));
      // What an instance decided and could not append before it died is sent now (dedupe keeps it once).
      for (const s of sessions) if (s.outbox.length > 0) await this.flush(s);
      const open = sessions.filter((s) => s.phase === 'open');
      this.figures.open = open.length;
      const counts = await this.o.store.counts();
      this.figures.active = counts.active;
      this.figures.recordingsPending = counts.recordingsPending;
      if (open.length > 0) await this.pollActiveCalls(open);
      await this.callLogRound(sessions);
      await this.recordingRound(sessions);
    } catch (err) {
      // Logged once per outage, not once per poll.
      if (!this.roundFailing) this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'call tracker round failed');
      this.roundFailing = true;
    }
  }

  private async pollActiveCalls(open: CallSession[]): Promise<void> {
    let rows: PbxActiveCall[];
    try {
      rows = await this.o.pbx.activeCalls();
      this.o.metrics?.activeCallsPolls.inc({ outcome: 'ok' });
      this.figures.pbxReachable = true;
      this.figures.lastPollAt = this.now();
      this.listingFailingSince = null;
    } catch (err) {
      // While the PBX cannot be asked nothing is concluded; the next answer reconciles every open call.
      this.o.metrics?.activeCallsPolls.inc({ outcome: 'failed' });
      if (this.figures.pbxReachable !== false) this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'activeCalls failed; concluding nothing until the PBX answers');
      this.figures.pbxReachable = false;
      this.listingFailingSince ??= this.now();
      return;
    }
    if (!this.listingShowsRinging) this.listingShowsRinging = (await this.o.store.getFlag(FLAG_LISTING)) === '1';
    const now = this.now();
    for (const s of open) {
      const mine = rowsOfCaller(s, rows, this.o.country);
      const updated = await updateSession(this.o.store, s.sessionId, (x) => {
        if (x.phase !== 'open') return false;
        const before = JSON.stringify(x.observed);
        const inference = observe(x, mine, now, { listingShowsRinging: this.listingShowsRinging });
        if (inference.kind === 'answered') answer(x, inference.by, now, now);
        if (inference.kind === 'gone') {
          if (x.answeredBy !== null) end(x, { kind: 'answered', by: x.answeredBy, answeredAt: x.answeredAt }, x.observed.goneAt ?? now, now, this.times);
          else x.callLog.nextAt = Math.min(x.callLog.nextAt, now);
        }
        return inference.kind !== 'none' || JSON.stringify(x.observed) !== before;
      });
      if (!updated) continue;
      if (!this.listingShowsRinging && showsRinging(updated)) {
        this.listingShowsRinging = true;
        await this.o.store.setFlag(FLAG_LISTING, '1');
      }
      if (updated.outbox.length > 0) await this.flush(updated);
    }
  }

  /** Call-log lookups that are due: calls over, calls gone unanswered, calls the listing never showed. */
  private async callLogRound(sessions: CallSession[]): Promise<void> {
    const now = this.now();
    const listingDown = this.listingFailingSince !== null && now - this.listingFailingSince >= LISTING_FAILING_MS;
    const needsLookup = (s: CallSession) =>
      (s.phase === 'over' || (s.phase === 'open' && (s.observed.goneAt !== null || !s.observed.seen || listingDown))) && s.callLog.nextAt <= now;
    // Picked from this round's reads; each is read again before its lookup (the poll may have moved it on).
    const picked = sessions
      .filter(needsLookup)
      .sort((a, b) => a.callLog.nextAt - b.callLog.nextAt)
      .slice(0, CALL_LOG_LOOKUPS_PER_ROUND);
    for (const s of picked) {
      const fresh = (await this.o.store.read(s.sessionId))?.session;
      if (fresh && needsLookup(fresh)) await this.lookUpCallLog(fresh);
    }
  }

  private async lookUpCallLog(s: CallSession): Promise<void> {
    const tz = this.o.config.pbxTimezone;
    const now = this.now();
    let rows;
    try {
      rows = await this.o.pbx.callLog({
        startDate: pbxLocalDate(s.startedAt - 120_000, tz),
        endDate: pbxLocalDate(now, tz),
        number: s.fromRaw,
      });
    } catch {
      // Not asked is not "no row": try again later, conclude nothing.
      await updateSession(this.o.store, s.sessionId, (x) => {
        x.callLog.nextAt = now + this.retryDelay(x.callLog.attempts);
        return true;
      });
      return;
    }
    const match = matchRows(s, rows, tz, this.o.country);
    const over = match && isOver(match) ? match : null;
    const updated = await updateSession(this.o.store, s.sessionId, (x) => {
      if (x.phase === 'open') {
        if (over) {
          end(x, answerFacts(x, over, tz), over.endedAt ?? now, now, this.times);
          this.o.metrics?.callLogLag.observe(Math.max(0, (now - (over.endedAt ?? now)) / 1000));
          return complete(x, completionFacts(over), now, this.times) || true;
        }
        if (x.observed.goneAt !== null && now - x.observed.goneAt >= GONE_ANSWER_WAIT_MS) {
          return end(x, { kind: 'unknown' }, x.observed.goneAt, now, this.times);
        }
        if (!x.observed.seen && now - x.startedAt >= UNSEEN_GIVE_UP_MS) return end(x, { kind: 'unknown' }, now, now, this.times);
      } else if (x.phase === 'over') {
        if (over) {
          if (x.answeredBy === null && x.answerUnknown) {
            const facts = answerFacts(x, over, tz);
            if (facts.kind === 'answered') {
              x.answeredBy = facts.by;
              x.answeredAt = facts.answeredAt;
            }
          }
          this.o.metrics?.callLogLag.observe(Math.max(0, (now - (over.endedAt ?? x.endedAt ?? now)) / 1000));
          return complete(x, completionFacts(over), now, this.times);
        }
        if (x.callLog.deadline !== null && now >= x.callLog.deadline) return complete(x, { row: null }, now, this.times);
      } else {
        return false;
      }
      x.callLog.attempts += 1;
      x.callLog.nextAt = now + this.retryDelay(x.callLog.attempts);
      return true;
    });
    if (updated && updated.outbox.length > 0) await this.flush(updated);
  }

  /** 1.5 s, 3 s, 6 s … up to 30 s between call-log lookups of one call. */
  private retryDelay(attempts: number): number {
    return Math.min(1500 * 2 ** Math.min(attempts, 5), 30_000);
  }

  private async recordingRound(sessions: CallSession[]): Promise<void> {
    const now = this.now();
    const due = sessions
      .filter((s) => s.phase === 'completed' && s.recording && s.recording.nextAt <= now)
      .slice(0, RECORDING_LOOKUPS_PER_ROUND);
    for (const s of due) {
      const callId = s.recording?.callId;
      if (!callId) continue;
      let url: string | null;
      try {
        url = await this.o.pbx.recordingPath(callId);
      } catch {
        // Not asked is not "none yet", but it waits its turn like one (up to RECORDING_WAIT_S).
        url = null;
      }
      const updated = await updateSession(this.o.store, s.sessionId, (x) => (url ? recordingFound(x, url, now) : recordingNotYet(x, now)));
      if (updated) await this.flush(updated);
    }
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

export function journalEntry(s: CallSession): JournalEntry {
  if (!s.cdr) throw new Error('journalEntry: the call is not completed');
  return {
    sessionId: s.sessionId,
    callId: s.callId,
    from: s.from,
    fromRaw: s.fromRaw,
    fromName: s.fromName,
    direction: s.direction,
    contact: s.contact,
    extensions: s.legs.map((l) => l.extension),
    answeredBy: s.answeredBy,
    outcome: s.answeredBy !== null ? 'answered' : s.answerUnknown ? 'unknown' : 'missed',
    cdr: s.cdr,
    events: s.events,
  };
}
