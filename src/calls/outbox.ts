/**
 * Sends what a transition decided: each queued event is appended to the event log under one dedupe key per
 * (session, type, extension), then cleared from the session's outbox, so an instance that dies in between
 * loses nothing and the next one to flush sends nothing twice. A completed call is journaled before its
 * call.completed or call.recording goes out, so a client that reads the journal on either finds the call and
 * the recording's URL.
 */
import type { EventLog } from '../core/ports.js';
import type { CallJournal, JournalEntry } from './journal.js';
import type { TrackerMetrics } from './metrics.js';
import type { CallSession, SentEvent } from './model.js';
import { updateSession, type CallStateStore } from './store.js';

const OUTCOME_DEDUPE_MS = 24 * 3600 * 1000;

export type Flush = (s: CallSession) => Promise<SentEvent[]>;

export function createFlush(deps: { eventLog: EventLog; store: CallStateStore; journal: CallJournal; metrics?: TrackerMetrics }): Flush {
  return async (s) => {
    const sent: SentEvent[] = [];
    const journalFirst = s.cdr !== null && s.outbox.some((p) => p.event.type === 'call.completed' || p.event.type === 'call.recording');
    if (journalFirst) await deps.journal.put(journalEntry(s));
    for (const p of s.outbox) {
      const r = await deps.eventLog.append(p.event, { key: `calls:${p.key}`, ttlMs: OUTCOME_DEDUPE_MS });
      sent.push({ id: r.id, type: p.event.type, extension: p.event.data.extension, timestamp: p.event.timestamp });
      if (!r.duplicate) deps.metrics?.outcomes.inc({ type: p.event.type.replace('call.', '') });
    }
    const keys = new Set(s.outbox.map((p) => p.key));
    const after =
      keys.size === 0
        ? s
        : await updateSession(deps.store, s.sessionId, (x) => {
            x.outbox = x.outbox.filter((p) => !keys.has(p.key));
            for (const e of sent) if (!x.events.some((have) => have.id === e.id)) x.events.push(e);
            return true;
          });
    if (after?.cdr && (after.phase === 'completed' || after.phase === 'done')) await deps.journal.put(journalEntry(after));
    return sent;
  };
}

/** What the journal shows of a call, completed or not. */
export function callSummary(s: CallSession): Omit<JournalEntry, 'outcome' | 'cdr'> {
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
    via: s.via ?? null,
    events: s.events,
  };
}

/** The journal's entry for a completed call. */
export function journalEntry(s: CallSession): JournalEntry {
  if (!s.cdr) throw new Error('journalEntry: the call is not completed');
  return { ...callSummary(s), outcome: s.answeredBy !== null ? 'answered' : s.answerUnknown ? 'unknown' : 'missed', cdr: s.cdr };
}
