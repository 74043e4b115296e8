/**
 * The session a ringing callback opens, in one place: the tracker builds it from the callback and its event,
 * and the memory store rebuilds it from that event as the log serialized it (docs/performance.md, "Memory
 * mode: the cost of one callback"): until the session is first rewritten, the memory store keeps the ringing
 * event's bytes instead of writing a document of its own, so both must come from the same function.
 */
import type { CallEventData, CallVia, EventType } from '../core/event.js';
import type { CallSession, SentEvent } from './model.js';

/** A call never listed by activeCalls (connected-only listings) is looked up in the call log from then on. */
export const UNSEEN_LOOKUP_AFTER_MS = 3000;

/** Everything a new session is made of; every other field starts the same for every call. */
export interface RingingFacts
  extends Pick<CallSession, 'sessionId' | 'callId' | 'fromRaw' | 'from' | 'fromName' | 'direction' | 'contact' | 'otherContacts' | 'links'> {
  via: CallVia | null;
  /** The extension it rings on (the first leg). */
  extension: string;
  /** When it rang: the session's start and its first leg's. */
  ringingAt: number;
  viaHints?: string[];
}

export function openSession(f: RingingFacts): CallSession {
  return {
    sessionId: f.sessionId,
    callId: f.callId,
    fromRaw: f.fromRaw,
    from: f.from,
    fromName: f.fromName,
    direction: f.direction,
    contact: f.contact,
    otherContacts: f.otherContacts,
    links: f.links,
    startedAt: f.ringingAt,
    answeredAt: null,
    answeredBy: null,
    endedAt: null,
    answerUnknown: false,
    legs: [{ extension: f.extension, state: 'ringing', ringingAt: f.ringingAt }],
    phase: 'open',
    observed: { seen: false, absentBeforeSeen: false, maxLegsListed: 0, groupCallee: null, goneAt: null },
    callLog: { nextAt: f.ringingAt + UNSEEN_LOOKUP_AFTER_MS, attempts: 0, deadline: null },
    recording: null,
    cdr: null,
    outbox: [],
    events: [],
    via: f.via,
    ...(f.viaHints ? { viaHints: f.viaHints } : {}),
  };
}

/** The ringing event's envelope as the event log serialized it (CONTRACT section 2's shape). */
interface RingingEnvelope {
  id: string;
  type: EventType;
  timestamp: string;
  data: CallEventData;
}

/**
 * The session `openSession` made for the call whose ringing event is `envelopeJson`, with that event noted
 * in `events` (as `noteEvent` would have): what the memory store answers for a session it keeps as its
 * ringing event. Only for sessions opened without via hints (those are kept as documents).
 */
export function sessionOfRingingEvent(envelopeJson: string, ringingAt: number): CallSession {
  const e = JSON.parse(envelopeJson) as RingingEnvelope;
  const d = e.data;
  const session = openSession({
    sessionId: d.call.sessionId,
    callId: d.call.id,
    fromRaw: d.call.fromRaw,
    from: d.call.from,
    fromName: d.call.fromName,
    direction: d.call.direction,
    contact: d.contact,
    otherContacts: d.otherContacts,
    links: d.links,
    via: d.via ?? null,
    extension: d.extension,
    ringingAt,
  });
  const note: SentEvent = { id: e.id, type: e.type, extension: d.extension, timestamp: e.timestamp };
  session.events.push(note);
  return session;
}
