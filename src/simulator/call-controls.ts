/**
 * `/_sim/calls…`, `/_sim/calls-mode`, `/_sim/call-groups`: drive whole calls from outside (tests, the
 * demo, a shell). A bad input answers 400 `{"error","field"}` naming it; an unknown call 404.
 */
import type { Response, Router } from 'express';
import type { CallView, StartCallRequest, StartCallResult } from './calls.js';
import { CallControlError, readCallGroupSeeds, readCallsModeChange, type CallsMode, type SimCallGroup } from './call-settings.js';
import type { CallGroupSeed } from './state.js';

/** The call operations the routes expose; the simulator object implements them. */
export interface CallControls {
  startCall(call: StartCallRequest): Promise<StartCallResult>;
  answerCall(callId: string, extension: string): Promise<CallView>;
  /** Before any answer, the call is missed. */
  hangupCall(callId: string): Promise<CallView>;
  /** Changes the run's listing, field set, delays, time zone; returns the mode now in force. */
  setCallsMode(change: Partial<CallsMode>): CallsMode;
  callsMode(): CallsMode;
  /** Every call since reset, oldest first. */
  calls(): CallView[];
  /** Replaces the ring groups and/or the queues (each list given replaces that kind). */
  setCallGroups(groups: { ringGroups?: readonly CallGroupSeed[]; queues?: readonly CallGroupSeed[] }): void;
  callGroups(): SimCallGroup[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(body: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const value = body[field];
  if (value === undefined && !required) return undefined;
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new CallControlError(400, required ? `${field} is required (a number as text)` : `${field} must be text`, field);
}

function flag(body: Record<string, unknown>, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new CallControlError(400, `${field} must be true or false`, field);
  return value;
}

/** POST /_sim/calls: `{from, to, fromName?, withCallId?, stateCallbacks?}`. */
export function readStartCall(body: unknown): StartCallRequest {
  if (!isRecord(body)) throw new CallControlError(400, 'expected a JSON object');
  const call: StartCallRequest = { from: text(body, 'from', true) ?? '', to: text(body, 'to', true) ?? '' };
  const fromName = text(body, 'fromName', false);
  const withCallId = flag(body, 'withCallId');
  const stateCallbacks = flag(body, 'stateCallbacks');
  if (fromName !== undefined) call.fromName = fromName;
  if (withCallId !== undefined) call.withCallId = withCallId;
  if (stateCallbacks !== undefined) call.stateCallbacks = stateCallbacks;
  return call;
}

function answerError(res: Response, err: unknown): void {
  if (!(err instanceof CallControlError)) throw err;
  res.status(err.status).json(err.field === null ? { error: err.message } : { error: err.message, field: err.field });
}

/** Runs `handle`, answering a CallControlError with its status. */
async function guarded(res: Response, handle: () => Promise<unknown> | unknown): Promise<void> {
  try {
    res.json(await handle());
  } catch (err) {
    answerError(res, err);
  }
}

/** Mounted on the control router (JSON bodies already parsed). */
export function mountCallControls(router: Router, sim: CallControls): void {
  router.post('/calls', (req, res) => guarded(res, () => sim.startCall(readStartCall(req.body))));

  router.get('/calls', (_req, res) => {
    res.json({ calls: sim.calls(), mode: sim.callsMode() });
  });

  router.post('/calls/:callId/answer', (req, res) =>
    guarded(res, async () => {
      const body: unknown = req.body;
      const extension = text(isRecord(body) ? body : {}, 'extension', true) ?? '';
      return { call: await sim.answerCall(req.params.callId, extension) };
    }),
  );

  router.post('/calls/:callId/hangup', (req, res) => guarded(res, async () => ({ call: await sim.hangupCall(req.params.callId) })));

  router.put('/calls-mode', (req, res) => guarded(res, () => ({ mode: sim.setCallsMode(readCallsModeChange(req.body)) })));

  router.get('/call-groups', (_req, res) => {
    res.json({ groups: sim.callGroups() });
  });

  router.put('/call-groups', (req, res) =>
    guarded(res, () => {
      const body: unknown = req.body;
      if (!isRecord(body)) throw new CallControlError(400, 'expected a JSON object');
      const change: { ringGroups?: CallGroupSeed[]; queues?: CallGroupSeed[] } = {};
      if (body.ringGroups !== undefined) change.ringGroups = readCallGroupSeeds(body.ringGroups, 'ringGroups');
      if (body.queues !== undefined) change.queues = readCallGroupSeeds(body.queues, 'queues');
      sim.setCallGroups(change);
      return { groups: sim.callGroups() };
    }),
  );
}
