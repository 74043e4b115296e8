/**
 * The per-call state machine (docs/calls.md). Pure: each function takes a copy of the session, changes it,
 * queues the events the change means in its outbox, and answers whether anything changed. The store writes
 * the result with a compare-and-set, so a transition happens once however many instances try it.
 */
import type { CallRecord, EventType, NewCallEvent } from '../core/event.js';
import type { CallSession, Leg } from './model.js';

export interface MachineTimes {
  callLogWaitMs: number;
  recordingWaitMs: number;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function envelope(s: CallSession, type: EventType, extension: string, now: number, extra: Partial<NewCallEvent['data']> = {}): NewCallEvent {
  return {
    type,
    timestamp: new Date(now).toISOString(),
    data: {
      extension,
      call: {
        id: s.callId,
        from: s.from,
        fromRaw: s.fromRaw,
        fromName: s.fromName,
        to: extension,
        direction: s.direction,
        sessionId: s.sessionId,
        ...(type === 'call.ended' || type === 'call.missed' ? { endedAt: iso(s.endedAt) ?? new Date(now).toISOString() } : {}),
      },
      contact: s.contact,
      otherContacts: s.otherContacts,
      links: s.links,
      via: s.via ?? null,
      ...extra,
    },
  };
}

function queue(s: CallSession, event: NewCallEvent): void {
  s.outbox.push({ key: `${s.sessionId}:${event.type}:${event.data.extension}`, event });
}

/** The extension once-per-call events go to: who answered, else the first that rang. */
export function callOwner(s: CallSession): string {
  return s.answeredBy ?? s.legs[0]?.extension ?? '';
}

/** Another extension rings for this call. False when it already has a leg (a repeated callback). */
export function addLeg(s: CallSession, extension: string, now: number): boolean {
  if (s.phase !== 'open' || s.legs.some((l) => l.extension === extension)) return false;
  s.legs.push({ extension, state: 'ringing', ringingAt: now });
  return true;
}

/** Someone answered: call.answered to every extension the call rang on. */
export function answer(s: CallSession, by: string, at: number, now: number): boolean {
  // After the outcome nothing but call.completed / call.recording may follow.
  if (s.answeredBy !== null || s.phase !== 'open') return false;
  s.answeredBy = by;
  s.answeredAt = at;
  for (const leg of s.legs) {
    if (leg.extension === by && leg.state === 'ringing') leg.state = 'answered';
  }
  for (const leg of s.legs) queue(s, envelope(s, 'call.answered', leg.extension, now, { answeredBy: by }));
  return true;
}

export type EndFacts =
  | { kind: 'answered'; by: string; answeredAt: number | null }
  | { kind: 'missed' }
  | { kind: 'unknown' };

/**
 * The call is over: every leg gets exactly one of call.ended (someone answered, or the PBX cannot say) and
 * call.missed (nobody answered). An answer first learned here (from the call log) is announced before.
 */
export function end(s: CallSession, facts: EndFacts, endedAt: number, now: number, times: MachineTimes): boolean {
  if (s.phase !== 'open') return false;
  if (facts.kind === 'answered' && s.answeredBy === null) answer(s, facts.by, facts.answeredAt ?? endedAt, now);
  s.endedAt = endedAt;
  const answered = s.answeredBy !== null;
  const missed = !answered && facts.kind === 'missed';
  s.answerUnknown = !answered && !missed;
  for (const leg of s.legs) {
    if (leg.state === 'ended' || leg.state === 'missed') continue;
    leg.state = missed ? 'missed' : 'ended';
    const type = missed ? 'call.missed' : 'call.ended';
    queue(s, envelope(s, type, leg.extension, now, missed ? {} : { answeredBy: s.answeredBy }));
  }
  s.phase = 'over';
  s.callLog = { nextAt: now, attempts: s.callLog.attempts, deadline: endedAt + times.callLogWaitMs };
  return true;
}

export interface CompletionFacts {
  /** From the call log row, when one was found. */
  row: { startedAt: number | null; answeredAt: number | null; endedAt: number | null; callee: string | null; recordingUrl: string | null; callId: string | null } | null;
}

function seconds(from: number | null, to: number | null): number | null {
  return from === null || to === null ? null : Math.max(0, Math.round((to - from) / 1000));
}

/** call.completed, once per call, with the journal entry; then the recording is looked up (or sent at once). */
export function complete(s: CallSession, facts: CompletionFacts, now: number, times: MachineTimes): boolean {
  if (s.phase !== 'over') return false;
  const row = facts.row;
  const startedAt = row?.startedAt ?? s.startedAt;
  const endedAt = row?.endedAt ?? s.endedAt;
  const answeredAt = row?.answeredAt ?? s.answeredAt;
  const cdr: CallRecord = {
    startedAt: new Date(startedAt).toISOString(),
    answeredAt: s.answeredBy !== null ? iso(answeredAt) : null,
    endedAt: iso(endedAt),
    durationS: seconds(startedAt, endedAt),
    talkS: s.answeredBy !== null ? seconds(answeredAt, endedAt) : null,
    answeredBy: s.answeredBy,
    caller: s.from,
    callee: row?.callee ?? s.legs[0]?.extension ?? null,
    recordingUrl: row?.recordingUrl ?? null,
    source: row ? 'call_log' : 'observed',
  };
  s.cdr = cdr;
  s.phase = 'completed';
  queue(s, envelope(s, 'call.completed', callOwner(s), now, { answeredBy: s.answeredBy, cdr }));
  const callId = s.callId ?? row?.callId ?? null;
  if (cdr.recordingUrl) return recordingFound(s, cdr.recordingUrl, now);
  if (callId && (s.answeredBy !== null || s.answerUnknown) && times.recordingWaitMs > 0) {
    s.recording = { nextAt: now + 2000, delayMs: 2000, deadline: now + times.recordingWaitMs, callId };
  } else {
    s.phase = 'done';
  }
  return true;
}

export function recordingFound(s: CallSession, url: string, now: number): boolean {
  if (s.phase !== 'completed') return false;
  if (s.cdr) s.cdr.recordingUrl = url;
  s.recording = null;
  s.phase = 'done';
  queue(s, envelope(s, 'call.recording', callOwner(s), now, { recordingUrl: url }));
  return true;
}

/** No recording yet: ask again later (doubling up to 5 minutes), or give up after RECORDING_WAIT_S. */
export function recordingNotYet(s: CallSession, now: number): boolean {
  if (s.phase !== 'completed' || !s.recording) return false;
  if (now >= s.recording.deadline) {
    s.recording = null;
    s.phase = 'done';
    return true;
  }
  const delayMs = Math.min(s.recording.delayMs * 2, 300_000);
  s.recording = { ...s.recording, delayMs, nextAt: Math.min(now + delayMs, s.recording.deadline) };
  return true;
}

export function legOf(s: CallSession, extension: string): Leg | undefined {
  return s.legs.find((l) => l.extension === extension);
}
