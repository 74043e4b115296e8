/**
 * Whole calls on the simulated PBX: a call rings an extension, a ring group or a queue (every member
 * rings), one member answers or nobody does, and it is hung up. What the manual's endpoints then show is
 * derived from here: activeCalls (in one of three listings, docs/simulator.md), the callLog row at hang-up
 * and the recording some seconds later.
 */
import { randomInt, randomUUID } from 'node:crypto';
import type { RingRequest, RingResult } from './callbacks.js';
import { CallControlError, type GroupInCallback, type SimCallGroup } from './call-settings.js';
import { localDate, localDateTime } from './local-time.js';
import type { RawEntry, SimulatorState } from './state.js';

export interface StartCallRequest {
  from: string;
  /** An extension, a ring group's or a queue's number. */
  to: string;
  fromName?: string;
  /** Whether the ringing (and state) callbacks carry the PBX call id. Default true. */
  withCallId?: boolean;
  /** Send state callbacks for this call; default the run's `sendStateCallbacks`. */
  stateCallbacks?: boolean;
}

export interface StartCallResult {
  /** The PBX call id: the same on every leg, in callLog rows (`callid`) and for recordingPath. */
  callId: string;
  /** The extensions that ring. */
  legs: string[];
  /** The legs whose ringing callback the receiver accepted (subscribed extensions only). */
  delivered: string[];
  /** The other legs, with why no callback got through (`not_subscribed`, `no_callback_url`, …). */
  undelivered: Record<string, string>;
}

export type CallPhase = 'ringing' | 'answered' | 'ended' | 'missed';

export interface SimCall {
  callId: string;
  uniqueToken: string;
  from: string;
  fromName: string | null;
  to: string;
  group: SimCallGroup | null;
  legs: string[];
  withCallId: boolean;
  stateCallbacks: boolean;
  /** The run's GroupInCallback when the call started. */
  groupInCallback: GroupInCallback;
  startedAt: Date;
  answeredAt: Date | null;
  answeredBy: string | null;
  endedAt: Date | null;
}

/** GET /_sim/calls: one call as the simulator sees it. */
export interface CallView {
  callId: string;
  from: string;
  fromName: string | null;
  to: string;
  via: { kind: 'ring_group' | 'queue'; name: string; number: string } | null;
  legs: string[];
  phase: CallPhase;
  answeredBy: string | null;
  startedAt: string;
  answeredAt: string | null;
  endedAt: string | null;
  withCallId: boolean;
  stateCallbacks: boolean;
}

/** Sends one callback (callbacks.ts `ring`, bound to the simulator's dispatcher). */
export type SendCallback = (ring: RingRequest) => Promise<RingResult>;

/** Ended calls kept for the call log and GET /_sim/calls; the oldest are dropped beyond this. */
const MAX_KEPT_CALLS = 10_000;
/** The manual's example tenant. */
const TENANT_ID = '1000';

export interface CallBook {
  /** Every call since reset, in start order. */
  calls: Map<string, SimCall>;
  nextCallId: number;
}

export function createCallBook(): CallBook {
  // Numeric ids like the manual's "49634", from a random base so two simulators rarely share one.
  return { calls: new Map(), nextCallId: randomInt(10_000_000, 90_000_000) };
}

export function phaseOf(call: SimCall): CallPhase {
  if (call.endedAt !== null) return call.answeredAt !== null ? 'ended' : 'missed';
  return call.answeredAt !== null ? 'answered' : 'ringing';
}

function findGroup(state: SimulatorState, number: string): SimCallGroup | null {
  return state.callGroups.find((g) => g.number === number) ?? null;
}

function destination(state: SimulatorState, to: string): { group: SimCallGroup | null; legs: string[] } {
  const group = findGroup(state, to);
  if (group !== null) {
    if (group.members.length === 0) throw new CallControlError(400, `to: ${to} has no members`, 'to');
    return { group, legs: [...group.members] };
  }
  if (state.extensions.has(to)) return { group: null, legs: [to] };
  throw new CallControlError(400, 'to must be an extension, a ring group or a queue of this tenant', 'to');
}

function callOf(state: SimulatorState, callId: string): SimCall {
  const call = state.callBook.calls.get(callId);
  if (call === undefined) throw new CallControlError(404, 'no such call');
  return call;
}

function callbackFor(call: SimCall, extension: string, event: string): RingRequest {
  const ring: RingRequest = { extension, from: call.from, callId: call.withCallId ? call.callId : null, state: event };
  if (call.fromName !== null) ring.fromName = call.fromName;
  if (call.group !== null && call.groupInCallback === 'callee') ring.extra = { callee_number: call.group.number };
  if (call.group !== null && call.groupInCallback === 'named') ring.extra = { [call.group.kind === 'queue' ? 'queue' : 'ring_group']: call.group.number };
  return ring;
}

async function sendAll(
  send: SendCallback,
  call: SimCall,
  extensions: readonly string[],
  event: string,
): Promise<{ delivered: string[]; undelivered: Record<string, string> }> {
  const results = await Promise.all(extensions.map((ext) => send(callbackFor(call, ext, event))));
  const delivered: string[] = [];
  const undelivered: Record<string, string> = {};
  results.forEach((result, i) => {
    const ext = extensions[i] ?? '';
    if (result.delivered) delivered.push(ext);
    else undelivered[ext] = result.reason;
  });
  return { delivered, undelivered };
}

export async function startCall(state: SimulatorState, send: SendCallback, req: StartCallRequest): Promise<StartCallResult> {
  if (req.from.trim() === '') throw new CallControlError(400, 'from is required', 'from');
  const { group, legs } = destination(state, req.to);
  const book = state.callBook;
  const callId = String(book.nextCallId++);
  const call: SimCall = {
    callId,
    uniqueToken: randomUUID(),
    from: req.from,
    fromName: req.fromName !== undefined && req.fromName !== '' ? req.fromName : null,
    to: req.to,
    group,
    legs,
    withCallId: req.withCallId ?? true,
    stateCallbacks: req.stateCallbacks ?? state.callsMode.sendStateCallbacks,
    groupInCallback: state.callsMode.groupInCallback,
    startedAt: new Date(),
    answeredAt: null,
    answeredBy: null,
    endedAt: null,
  };
  book.calls.set(callId, call);
  const { delivered, undelivered } = await sendAll(send, call, legs, 'ringing');
  return { callId, legs: [...legs], delivered, undelivered };
}

export async function answerCall(state: SimulatorState, send: SendCallback, callId: string, extension: string): Promise<CallView> {
  const call = callOf(state, callId);
  if (!call.legs.includes(extension)) throw new CallControlError(400, `extension: ${extension} is not ringing on this call`, 'extension');
  if (call.endedAt !== null) throw new CallControlError(409, 'the call is over');
  if (call.answeredBy !== null) throw new CallControlError(409, `the call was answered by ${call.answeredBy}`);
  call.answeredAt = new Date();
  call.answeredBy = extension;
  if (call.stateCallbacks) await sendAll(send, call, [extension], 'answered');
  return callView(call);
}

/** Hangs up; before any answer the call is missed. */
export async function hangupCall(state: SimulatorState, send: SendCallback, callId: string): Promise<CallView> {
  const call = callOf(state, callId);
  if (call.endedAt !== null) throw new CallControlError(409, 'the call is over');
  call.endedAt = new Date();
  dropOldCalls(state.callBook);
  if (call.stateCallbacks) {
    // The answering extension's leg ends; for a missed call every leg that rang does.
    await sendAll(send, call, call.answeredBy !== null ? [call.answeredBy] : call.legs, 'ended');
  }
  return callView(call);
}

function dropOldCalls(book: CallBook): void {
  if (book.calls.size <= MAX_KEPT_CALLS) return;
  for (const [id, call] of book.calls) {
    if (book.calls.size <= MAX_KEPT_CALLS) return;
    if (call.endedAt !== null) book.calls.delete(id);
  }
}

export function callView(call: SimCall): CallView {
  return {
    callId: call.callId,
    from: call.from,
    fromName: call.fromName,
    to: call.to,
    via: call.group === null ? null : { kind: call.group.kind, name: call.group.name, number: call.group.number },
    legs: [...call.legs],
    phase: phaseOf(call),
    answeredBy: call.answeredBy,
    startedAt: call.startedAt.toISOString(),
    answeredAt: call.answeredAt?.toISOString() ?? null,
    endedAt: call.endedAt?.toISOString() ?? null,
    withCallId: call.withCallId,
    stateCallbacks: call.stateCallbacks,
  };
}

export function callViews(state: SimulatorState): CallView[] {
  return [...state.callBook.calls.values()].map(callView);
}

/** The activeCalls `data`, as the run's listing shows it. */
export function activeCallRows(state: SimulatorState): RawEntry[] {
  const { activeCalls: listing, timezone } = state.callsMode;
  const rows: RawEntry[] = [];
  for (const call of state.callBook.calls.values()) {
    if (call.endedAt !== null) continue;
    const row = (callee: string): RawEntry => ({
      caller_number: call.from,
      callee_number: callee,
      start_time: localDateTime(call.startedAt, timezone),
    });
    if (call.answeredBy !== null) rows.push(row(call.answeredBy));
    else if (listing === 'ringing-legs') rows.push(...call.legs.map(row));
    else if (listing === 'group-number') rows.push(row(call.to));
  }
  return rows;
}

export interface CallLogFilter {
  startDate: string;
  endDate: string;
  number: string | null;
}

function recordingReady(state: SimulatorState, call: SimCall, now: number): boolean {
  return call.answeredAt !== null && call.endedAt !== null && now >= call.endedAt.getTime() + state.callsMode.recordingDelayMs;
}

function recordingPathOf(call: SimCall, origin: string, timezone: string): string {
  return `${origin}/fs_sounds/recordings/0/${TENANT_ID}/auto_rec/${localDate(call.startedAt, timezone)}/${call.callId}.wav`;
}

/** The recording's URL once it exists: never for a missed call, `recordingDelayMs` after an answered one ended. */
export function recordingUrl(state: SimulatorState, callId: string, origin: string, now = Date.now()): string | null {
  const call = state.callBook.calls.get(callId);
  if (call === undefined || !recordingReady(state, call, now)) return null;
  return recordingPathOf(call, origin, state.callsMode.timezone);
}

/** True when `callId` names a recording the simulator has handed out (for serving the .wav). */
export function hasRecording(state: SimulatorState, callId: string, now = Date.now()): boolean {
  const call = state.callBook.calls.get(callId);
  return call !== undefined && recordingReady(state, call, now);
}

function logRow(state: SimulatorState, call: SimCall, endedAt: Date, origin: string, now: number): RawEntry {
  const { timezone, callLogFields } = state.callsMode;
  const row: RawEntry = {
    tenant_id: TENANT_ID,
    start_date: localDateTime(call.startedAt, timezone),
    end_date: localDateTime(endedAt, timezone),
    caller: call.from,
    callee: call.to,
    // Where the call ended up: the answering extension; nobody took a missed one, so the dialled number.
    forward: call.answeredBy ?? call.to,
    incoming_call_charges: '0.00000',
    outgoing_call_charges: '0.00000',
  };
  if (callLogFields === 'manual') return row;
  const calleeName = call.answeredBy !== null ? (state.extensionNames[call.answeredBy] ?? null) : (call.group?.name ?? null);
  return {
    ...row,
    callid: call.callId,
    unique_token: call.uniqueToken,
    call_direction: state.extensions.has(call.from) ? 'internal' : 'inbound',
    caller_name: call.fromName ?? '-',
    callee_name: calleeName ?? '-',
    did: '-',
    answer_time: call.answeredAt === null ? '-' : localDateTime(call.answeredAt, timezone),
    call_status: call.answeredAt === null ? 'NO ANSWER' : 'ANSWERED',
    hangup_by: 'caller',
    call_rec_path: recordingReady(state, call, now) ? recordingPathOf(call, origin, timezone) : '-',
  };
}

/**
 * The callLog `data` for a date range (the PBX's local dates of start_date, inclusive) and an optional
 * number (caller, callee or forward). A call's row appears `callLogDelayMs` after it was hung up.
 */
export function callLogRows(state: SimulatorState, filter: CallLogFilter, origin: string, now = Date.now()): RawEntry[] {
  const { timezone, callLogDelayMs } = state.callsMode;
  const rows: RawEntry[] = [];
  for (const call of state.callBook.calls.values()) {
    const endedAt = call.endedAt;
    if (endedAt === null || now < endedAt.getTime() + callLogDelayMs) continue;
    const day = localDate(call.startedAt, timezone);
    if (day < filter.startDate || day > filter.endDate) continue;
    const number = filter.number;
    if (number !== null && call.from !== number && call.to !== number && (call.answeredBy ?? call.to) !== number) continue;
    rows.push(logRow(state, call, endedAt, origin, now));
  }
  return rows;
}
