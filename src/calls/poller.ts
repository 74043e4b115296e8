/**
 * The PBX side of the tracker (docs/calls.md): one round every ACTIVE_CALLS_POLL_MS, doing work only when a
 * call needs it and only on the instance holding the lease. activeCalls is asked while a call is open; the
 * call log after a call is over (or was never listed); recordingPath after completion. While the PBX cannot
 * be asked nothing is concluded. The round waits for its activeCalls poll only: the call-log and recording
 * lookups it picks run beside it, each kind in a lane of its own (src/calls/lookup-lane.ts), so a slow lookup
 * never holds back the next poll and with it the answers and hang-ups of the other calls.
 */
import type { CallsConfig } from '../config.js';
import type { CountryCode } from '../core/phone-number.js';
import type { PbxActiveCall, PbxCallApi } from '../core/ports.js';
import type { LeaderLease } from '../lease/leader-lease.js';
import type { Logger } from '../logger.js';
import { LookupLane } from './lookup-lane.js';
import { answerFacts, completionFacts, isOver, matchRows } from './call-log.js';
import { observe, showsRinging } from './inference.js';
import type { CallGroupDirectory } from './groups.js';
import { ActiveCallIndex, CallerCache } from './listing.js';
import { answer, complete, end, recordingFound, recordingNotYet, type MachineTimes } from './machine.js';
import type { TrackerMetrics } from './metrics.js';
import type { CallSession } from './model.js';
import type { Flush } from './outbox.js';
import { pbxLocalDate } from './pbx-time.js';
import { updateSession, type CallStateStore } from './store.js';
import { TimeSlice } from '../core/time-slice.js';

/** A call gone from activeCalls that nobody was seen to answer waits this long for its call-log row. */
const GONE_ANSWER_WAIT_MS = 60_000;
/**
 * A call that neither activeCalls nor the call log ever showed is given up after this long (over, who
 * answered unknown), so a ringing callback for a call the PBX never reports cannot keep the polling going.
 */
const UNSEEN_GIVE_UP_MS = 10 * 60_000;
/**
 * Call-log lookups per batch (a round hands its lane one batch when the lane is idle), so 200 calls ending at
 * once do not become 200 requests at once.
 */
const CALL_LOG_LOOKUPS_PER_ROUND = 10;
/**
 * When activeCalls has failed this long while the call log still answers, open calls are looked up in the
 * call log too: its rows are the PBX's word, so a PBX that stops listing calls cannot hold them open forever.
 */
const LISTING_FAILING_MS = 10_000;
/** recordingPath lookups per batch, as for the call log. */
const RECORDING_LOOKUPS_PER_ROUND = 10;
/**
 * Sessions one round reads at most. A round is one pass over what is due; past this many (a PBX that never
 * lists its calls, a flood of ringing callbacks) the rest wait for the next rounds (the store's due() takes
 * turns), instead of one round working through all of them at once.
 */
const SESSIONS_PER_ROUND = 1000;
/** Sessions per read of an in-process store within a round: small enough to read between two of its yields. */
const IN_PROCESS_READ_CHUNK = 100;
const FLAG_LISTING = 'listing-shows-ringing';

export interface PollerOptions {
  groups: CallGroupDirectory;
  store: CallStateStore;
  pbx: PbxCallApi;
  lease: LeaderLease;
  flush: Flush;
  config: CallsConfig;
  country: CountryCode;
  times: MachineTimes;
  logger: Logger;
  metrics?: TrackerMetrics;
  now: () => number;
  /** How long a round works before it lets the event loop run (TimeSlice's default when absent). */
  sliceMs?: number;
}

export interface PollerFigures {
  active: number;
  open: number;
  recordingsPending: number;
  leader: boolean;
  pbxReachable: boolean | null;
  lastPollAt: number | null;
}

export class CallPoller {
  private readonly o: PollerOptions;
  private readonly now: () => number;
  private readonly times: MachineTimes;
  private readonly log: Logger;
  private listingShowsRinging = false;
  private readonly callers: CallerCache;
  private roundFailing = false;
  /** Since when every activeCalls request failed; null while it answers. */
  private listingFailingSince: number | null = null;
  readonly figures: PollerFigures = { active: 0, open: 0, recordingsPending: 0, leader: false, pbxReachable: null, lastPollAt: null };
  private readonly callLogLane: LookupLane;
  private readonly recordingLane: LookupLane;

  constructor(opts: PollerOptions) {
    this.o = opts;
    this.now = opts.now;
    this.times = opts.times;
    this.log = opts.logger;
    this.callers = new CallerCache(opts.country);
    const leader = () => opts.lease.isLeader();
    this.callLogLane = new LookupLane('callLog', opts.logger, leader);
    this.recordingLane = new LookupLane('recordingPath', opts.logger, leader);
  }

  /** No further lookup starts; answers once the lookups in flight have ended (the PBX client bounds each). */
  async stop(): Promise<void> {
    await Promise.all([this.callLogLane.stop(), this.recordingLane.stop()]);
  }

  private flush(s: CallSession): Promise<unknown> {
    return this.o.flush(s);
  }

  /**
   * One round: only when some call is not done, and only on the instance holding the lease. Answers once the
   * activeCalls poll is done; the call-log and recording lookups it picked may still be running.
   */
  async tick(): Promise<void> {
    try {
      const ids = await this.o.store.due(this.now(), SESSIONS_PER_ROUND);
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
      // In slices: with the in-process store nothing here waits for I/O, and a round over SESSIONS_PER_ROUND
      // calls in one go held every callback back for ~110 ms (docs/performance.md, "Work beside the callbacks").
      const slice = new TimeSlice(this.o.sliceMs);
      const sessions = await this.readInSlices(ids, slice);
      // What an instance decided and could not append before it died is sent now (dedupe keeps it once).
      for (const s of sessions) if (s.outbox.length > 0) await this.flush(s);
      const open = sessions.filter((s) => s.phase === 'open');
      this.figures.open = open.length;
      const counts = await this.o.store.counts();
      this.figures.active = counts.active;
      this.figures.recordingsPending = counts.recordingsPending;
      // The lookups start before the poll: picked from this round's reads, as before, and each re-read
      // before it asks the PBX. They run beside the poll (compare-and-set keeps their writes apart).
      this.callLogRound(sessions);
      this.recordingRound(sessions);
      if (open.length > 0) await this.pollActiveCalls(open, slice);
    } catch (err) {
      // Logged once per outage, not once per poll.
      if (!this.roundFailing) this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'call tracker round failed');
      this.roundFailing = true;
    }
  }

  /**
   * The sessions of `ids` that exist. An in-process store is read IN_PROCESS_READ_CHUNK at a time with the
   * slice's yields between; any other in one read (one round trip: waiting for it lets the loop run anyway).
   */
  private async readInSlices(ids: readonly string[], slice: TimeSlice): Promise<CallSession[]> {
    const chunk = this.o.store.inProcess === true ? IN_PROCESS_READ_CHUNK : ids.length;
    const sessions: CallSession[] = [];
    for (let at = 0; at < ids.length; at += chunk) {
      if (slice.due()) await slice.yield();
      for (const v of await this.o.store.readMany(ids.slice(at, at + chunk))) if (v) sessions.push(v.session);
    }
    return sessions;
  }

  private async pollActiveCalls(open: CallSession[], slice: TimeSlice): Promise<void> {
    let rows: PbxActiveCall[];
    try {
      rows = await this.o.pbx.activeCalls();
      slice.restart(); // waiting for the PBX was a turn of the event loop
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
    // Each row's caller is read once per poll, not once per open call (src/calls/listing.ts).
    const listing = new ActiveCallIndex(rows, this.callers);
    // Calls this poll is the first to find unlisted: noted together after the loop, without a rewrite each.
    const unlisted: string[] = [];
    for (const s of open) {
      if (slice.due()) await slice.yield();
      const mine = listing.rowsOf(this.callers.read(s.fromRaw));
      const viaToResolve = s.via == null && this.viaOf(s) !== null;
      // What this poll shows changes nothing of this call (the common case: still ringing, still talking):
      // skip the read-modify-write. Judged on this round's read of the session; a session moved on since
      // is judged again next round. (A ringing callback the PBX never lists, e.g. a missed call on a PBX
      // that lists connected calls only, stays open until the call log or UNSEEN_GIVE_UP_MS settles it.)
      if (!changes(s, mine, now, this.listingShowsRinging) && !viaToResolve) continue;
      // Not listed, and never seen: all this poll can say is the one flag that only turns on.
      if (mine.length === 0 && !s.observed.seen && !viaToResolve) {
        unlisted.push(s.sessionId);
        continue;
      }
      const updated = await updateSession(this.o.store, s.sessionId, (x) => {
        if (x.phase !== 'open') return false;
        const before = JSON.stringify(x.observed);
        const viaBefore = x.via ?? null;
        const inference = observe(x, mine, now, { listingShowsRinging: this.listingShowsRinging });
        // Known before the outcome's events are queued, so they carry it (listing (c): the group as callee).
        x.via ??= this.viaOf(x);
        if (inference.kind === 'answered') answer(x, inference.by, now, now);
        if (inference.kind === 'gone') {
          if (x.answeredBy !== null) end(x, { kind: 'answered', by: x.answeredBy, answeredAt: x.answeredAt }, x.observed.goneAt ?? now, now, this.times);
          else x.callLog.nextAt = Math.min(x.callLog.nextAt, now);
        }
        return inference.kind !== 'none' || JSON.stringify(x.observed) !== before || x.via !== viaBefore;
      });
      if (!updated) continue;
      if (!this.listingShowsRinging && showsRinging(updated)) {
        this.listingShowsRinging = true;
        await this.o.store.setFlag(FLAG_LISTING, '1');
      }
      if (updated.outbox.length > 0) await this.flush(updated);
    }
    await this.o.store.noteUnlisted(unlisted);
  }

  /**
   * Call-log lookups that are due: calls over, calls gone unanswered, calls the listing never showed. Handed
   * to the call-log lane when it is idle; while a batch still runs, the round picks none.
   */
  private callLogRound(sessions: CallSession[]): void {
    if (this.callLogLane.busy) return;
    const now = this.now();
    const listingDown = this.listingFailingSince !== null && now - this.listingFailingSince >= LISTING_FAILING_MS;
    const needsLookup = (s: CallSession) =>
      (s.phase === 'over' || (s.phase === 'open' && (s.observed.goneAt !== null || !s.observed.seen || listingDown))) && s.callLog.nextAt <= now;
    // Picked from this round's reads; each is read again before its lookup (the poll may have moved it on).
    const picked = sessions
      .filter(needsLookup)
      .sort((a, b) => a.callLog.nextAt - b.callLog.nextAt)
      .slice(0, CALL_LOG_LOOKUPS_PER_ROUND);
    this.callLogLane.offer(picked, async (s) => {
      const fresh = (await this.o.store.read(s.sessionId))?.session;
      if (fresh && needsLookup(fresh)) await this.lookUpCallLog(fresh);
    });
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
      // The call-log row's callee or did may be the group's number (the extra fields when present).
      if (match && x.phase !== 'done') x.via ??= this.viaOf(x, match.rows.flatMap((r) => [r.callee, r.did]));
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

  /** The group this call came through, from what its callbacks, the listing and `more` said; null when unknown. */
  private viaOf(s: CallSession, more: ReadonlyArray<string | null> = []): CallSession['via'] {
    return this.o.groups.resolve([...(s.viaHints ?? []), s.observed.groupCallee, ...more]);
  }

  /** 1.5 s, 3 s, 6 s … up to 30 s between call-log lookups of one call. */
  private retryDelay(attempts: number): number {
    return Math.min(1500 * 2 ** Math.min(attempts, 5), 30_000);
  }

  /** recordingPath lookups that are due, handed to the recording lane as the call log's are to its own. */
  private recordingRound(sessions: CallSession[]): void {
    if (this.recordingLane.busy) return;
    const now = this.now();
    const due = sessions
      .filter((s) => s.phase === 'completed' && s.recording && s.recording.nextAt <= now)
      .slice(0, RECORDING_LOOKUPS_PER_ROUND);
    this.recordingLane.offer(due, (s) => this.lookUpRecording(s));
  }

  private async lookUpRecording(s: CallSession): Promise<void> {
    const callId = s.recording?.callId;
    if (!callId) return;
    const now = this.now();
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

/** Whether observe() would conclude or note anything for this call from these rows (tried on a copy). */
function changes(s: CallSession, rows: readonly PbxActiveCall[], now: number, listingShowsRinging: boolean): boolean {
  if (s.phase !== 'open') return false;
  const before = s.observed;
  const probe: CallSession = { ...s, observed: { ...before } };
  if (observe(probe, rows, now, { listingShowsRinging }).kind !== 'none') return true;
  const after = probe.observed;
  return (
    after.seen !== before.seen ||
    after.absentBeforeSeen !== before.absentBeforeSeen ||
    after.maxLegsListed !== before.maxLegsListed ||
    after.groupCallee !== before.groupCallee ||
    after.goneAt !== before.goneAt
  );
}
