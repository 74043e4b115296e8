/**
 * `/_sim/*`: JSON routes that drive the simulator from outside (demo page, tests, a shell). Not part of
 * the manual. Errors answer `400 {"error":"…"}`.
 */
import express, { type Response, type Router } from 'express';
import type { RingRequest, RingResult } from './callbacks.js';
import { mountCallControls, type CallControls } from './call-controls.js';
import { generateContacts } from './seed.js';
import type { FaultMode, RawEntry, SimulatorFault } from './state.js';

/** The operations the routes expose; the simulator object implements them. */
export interface SimulatorControls extends CallControls {
  ring(call: RingRequest): Promise<RingResult>;
  subscriptions(): string[];
  requestCounts(): Record<string, number>;
  heldRequests(): Record<string, number>;
  setFault(fault: SimulatorFault): void;
  setContacts(contacts: readonly RawEntry[]): void;
  setCallbackUrl(url: string | null): void;
  reset(): void;
}

const FAULT_MODES: readonly FaultMode[] = ['none', 'down', 'slow', 'garbage'];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalText(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function badRequest(res: Response, error: string): void {
  res.status(400).json({ error });
}

export function parseRing(body: unknown): RingRequest | string {
  if (!isRecord(body)) return 'expected a JSON object';
  const extension = optionalText(body.extension);
  const from = optionalText(body.from);
  if (extension === undefined) return 'extension is required';
  if (from === undefined) return 'from is required';
  const ring: RingRequest = { extension, from };
  const fromName = optionalText(body.fromName);
  const callId = optionalText(body.callId);
  const state = optionalText(body.state);
  if (fromName !== undefined) ring.fromName = fromName;
  if (callId !== undefined) ring.callId = callId;
  if (state !== undefined) ring.state = state;
  return ring;
}

export function parseFault(body: unknown): SimulatorFault | string {
  if (!isRecord(body)) return 'expected a JSON object';
  const mode = FAULT_MODES.find((m) => m === body.mode);
  if (mode === undefined) return `mode must be one of ${FAULT_MODES.join(', ')}`;
  const fault: SimulatorFault = { mode };
  if (body.delayMs !== undefined) {
    if (typeof body.delayMs !== 'number' || !(body.delayMs >= 0)) return 'delayMs must be a number >= 0';
    fault.delayMs = body.delayMs;
  }
  if (body.httpStatus !== undefined) {
    if (typeof body.httpStatus !== 'number' || !Number.isInteger(body.httpStatus) || body.httpStatus < 100 || body.httpStatus > 999) {
      return 'httpStatus must be an HTTP status';
    }
    fault.httpStatus = body.httpStatus;
  }
  if (body.endpoints !== undefined) {
    if (!Array.isArray(body.endpoints) || !body.endpoints.every((e) => typeof e === 'string')) return 'endpoints must be a list of names';
    fault.endpoints = body.endpoints;
  }
  return fault;
}

/** A phonebook as a list of entries, `{"contacts":[…]}`, or `{"generate":N,"seed"?:S}`. */
function parsePhonebook(body: unknown): RawEntry[] | string {
  const list = Array.isArray(body) ? body : isRecord(body) ? body.contacts : undefined;
  if (Array.isArray(list)) return list.filter(isRecord);
  if (isRecord(body) && typeof body.generate === 'number' && Number.isInteger(body.generate) && body.generate >= 0) {
    return generateContacts(body.generate, typeof body.seed === 'number' ? body.seed : undefined);
  }
  return 'expected a list of contacts, {"contacts":[…]} or {"generate":N}';
}

export function createControlRoutes(sim: SimulatorControls): Router {
  const router = express.Router();
  // Large enough for a 100,000-contact phonebook.
  router.use(express.json({ limit: '200mb' }));

  router.post('/ring', async (req, res) => {
    const ring = parseRing(req.body);
    if (typeof ring === 'string') return badRequest(res, ring);
    res.json(await sim.ring(ring));
  });

  router.get('/subscriptions', (_req, res) => {
    res.json({ subscriptions: sim.subscriptions() });
  });

  router.get('/requests', (_req, res) => {
    res.json({ counts: sim.requestCounts(), held: sim.heldRequests() });
  });

  router.post('/fault', (req, res) => {
    const fault = parseFault(req.body);
    if (typeof fault === 'string') return badRequest(res, fault);
    sim.setFault(fault);
    res.json({ fault });
  });

  router.put('/phonebook', (req, res) => {
    const contacts = parsePhonebook(req.body);
    if (typeof contacts === 'string') return badRequest(res, contacts);
    sim.setContacts(contacts);
    res.json({ count: contacts.length });
  });

  router.post('/callback-url', (req, res) => {
    const url: unknown = isRecord(req.body) ? req.body.url : undefined;
    if (url !== null && (typeof url !== 'string' || !URL.canParse(url))) return badRequest(res, 'url must be an absolute URL or null');
    sim.setCallbackUrl(url);
    res.json({ callbackUrl: url });
  });

  mountCallControls(router, sim);

  router.post('/reset', (_req, res) => {
    sim.reset();
    res.json({ reset: true });
  });

  return router;
}
