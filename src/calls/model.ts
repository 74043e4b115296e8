/**
 * A call as the tracker keeps it (docs/calls.md): one session per call, one leg per extension it rang on.
 * The whole session is one JSON document, written with a compare-and-set, so each transition is atomic
 * across instances.
 */
import type { CallRecord, CallVia, Contact, ContactSummary, EventType, NewCallEvent } from '../core/event.js';

/** ringing -> answered -> ended, ringing -> ended (someone else answered), or ringing -> missed. */
export type LegState = 'ringing' | 'answered' | 'ended' | 'missed';

export interface Leg {
  extension: string;
  state: LegState;
  ringingAt: number;
  /** An `ended` state callback came for this leg (the call is over once every leg, or the answered one, had it). */
  hungUp?: boolean;
}

/**
 * open: ringing or talking; over: every leg has its outcome, the call log is awaited; completed:
 * call.completed sent, the recording is awaited; done: nothing more will be sent.
 */
export type SessionPhase = 'open' | 'over' | 'completed' | 'done';

/** What the activeCalls polls have shown of this call so far. */
export interface Observed {
  /** A successful poll listed a row of this caller. */
  seen: boolean;
  /** A successful poll after the ringing callback listed no row of this caller, before any was seen. */
  absentBeforeSeen: boolean;
  /** The most leg extensions listed at once (2+ means the listing shows ringing legs). */
  maxLegsListed: number;
  /** A callee that is none of the legs (a ring group's or queue's number) was listed. */
  groupCallee: string | null;
  /** When the call was first found over (gone from the listing, or an `ended` state callback). */
  goneAt: number | null;
}

export interface PendingEvent {
  /** Dedupe key in the event log: one event per (session, type, extension), whoever appends it. */
  key: string;
  event: NewCallEvent;
}

export interface SentEvent {
  id: string;
  type: EventType;
  extension: string;
  timestamp: string;
}

export interface CallSession {
  sessionId: string;
  /** The PBX's call id when the callback carried one. */
  callId: string | null;
  /** The caller exactly as the PBX sent it, and as the ringing event's call.from. */
  fromRaw: string;
  from: string;
  fromName: string | null;
  direction: 'inbound' | 'internal';
  contact: Contact | null;
  otherContacts: ContactSummary[];
  links: { crm?: string };
  startedAt: number;
  answeredAt: number | null;
  answeredBy: string | null;
  endedAt: number | null;
  /** Over, but the PBX could not say whether anyone answered (call.ended with answeredBy null). */
  answerUnknown: boolean;
  legs: Leg[];
  phase: SessionPhase;
  observed: Observed;
  /** Call-log lookups: when the next is due; when to give up and journal what was observed. */
  callLog: { nextAt: number; attempts: number; deadline: number | null };
  /** Recording lookups after completion; null when there is nothing to look up. */
  recording: { nextAt: number; delayMs: number; deadline: number; callId: string } | null;
  cdr: CallRecord | null;
  /** Events decided but perhaps not yet in the event log (appended with their dedupe key, then removed). */
  outbox: PendingEvent[];
  events: SentEvent[];
  /** The ring group or queue the call came through, once known (absent in sessions written before it existed). */
  via?: CallVia | null;
  /** What the ringing callbacks said that may name it, until a group list knows one of them. */
  viaHints?: string[];
}

export function openLegs(s: CallSession): Leg[] {
  return s.legs.filter((l) => l.state === 'ringing' || l.state === 'answered');
}
