/**
 * A HoduPBX simulator written from the Tenant API manual alone (it imports nothing from the bridge, so
 * tests against it check the bridge against the manual rather than against its own assumptions).
 *
 * - `/hodupbx_api/v1.4/api/...`: the manual's endpoints (manual-api.ts).
 * - `/_sim/...`: control routes (control-routes.ts, call-controls.ts), the same operations as the methods below.
 * - `/fs_sounds/recordings/...`: the recordings recordingPath points to (a short silent WAV).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { Agent } from 'undici';
import { ring as sendRing, type RingRequest, type RingResult } from './callbacks.js';
import { answerCall, callViews, hangupCall, hasRecording, startCall, type SendCallback } from './calls.js';
import { CallControlError, readCallsModeChange } from './call-settings.js';
import { silentWav } from './recording-file.js';
import { createControlRoutes, type SimulatorControls } from './control-routes.js';
import { createManualApi } from './manual-api.js';
import {
  callGroupsFrom,
  createState,
  heldRequests,
  requestCounts,
  resetState,
  type ApiEndpoint,
  type RawEntry,
  type SimulatorFault,
  type SimulatorOptions,
} from './state.js';

export type { CallbackStyle, ErrorStyle, FaultMode, PasswordFormat, RawEntry, SimulatorFault, SimulatorOptions } from './state.js';
export type { RingRequest, RingResult } from './callbacks.js';
export type { CallGroupSeed } from './state.js';
export type { CallPhase, CallView, StartCallRequest, StartCallResult } from './calls.js';
export type { ActiveCallsListing, CallLogFields, CallsMode, GroupInCallback, SimCallGroup } from './call-settings.js';
export { ACTIVE_CALLS_LISTINGS, CALL_LOG_FIELD_SETS, CallControlError, GROUP_IN_CALLBACK_CHOICES } from './call-settings.js';

export const API_PREFIX = '/hodupbx_api/v1.4/api';

export interface SimulatorAddress {
  /** The origin, e.g. `http://127.0.0.1:8090`. */
  url: string;
  /** origin + `/hodupbx_api/v1.4/api`: what the bridge's PBX_BASE_URL would be. */
  apiBaseUrl: string;
}

export interface Simulator extends SimulatorControls {
  /** The express app, for driving it without listening (e.g. supertest). */
  readonly app: Express;
  /** Default port 0 (any free port) on 127.0.0.1. */
  listen(port?: number, host?: string): Promise<SimulatorAddress>;
  ring(call: RingRequest): Promise<RingResult>;
  /** Subscribed extension numbers, sorted. */
  subscriptions(): string[];
  requestCounts(): Record<ApiEndpoint | 'unknown', number>;
  /** Requests the `slow` fault is holding back right now (asked, not yet answered), per endpoint. */
  heldRequests(): Record<ApiEndpoint | 'unknown', number>;
  setFault(fault: SimulatorFault): void;
  setContacts(contacts: readonly RawEntry[]): void;
  setCallbackUrl(url: string | null): void;
  /** Changes (or adds) an extension's web password, as when someone changes it on the PBX; reset() keeps it. */
  setExtensionPassword(extension: string, webPassword: string): void;
  /** No subscriptions, counts, fault or calls; the initial phonebook, groups and calls mode (the callback URL stays). */
  reset(): void;
  /** Stops listening, drops open connections, cancels delayed answers. */
  close(): Promise<void>;
}

function hostForUrl(address: AddressInfo): string {
  if (address.family === 'IPv6') return `[${address.address === '::' ? '::1' : address.address}]`;
  return address.address === '0.0.0.0' ? '127.0.0.1' : address.address;
}

export function createSimulator(opts: SimulatorOptions = {}): Simulator {
  const state = createState(opts);
  // Ringing callbacks go out on the simulator's own connections, never the global dispatcher.
  const callbackAgent = new Agent({ keepAliveTimeout: 4000 });
  const pending = new Set<NodeJS.Timeout>();
  let server: Server | null = null;

  const timers = {
    later(fn: () => void, ms: number): void {
      const timer = setTimeout(() => {
        pending.delete(timer);
        fn();
      }, ms);
      pending.add(timer);
    },
  };

  const send: SendCallback = (call) => sendRing(state, callbackAgent, call);

  const sim: Simulator = {
    app: express(),
    async listen(port = 0, host = '127.0.0.1') {
      if (server) throw new Error('simulator is already listening');
      const srv = createServer(sim.app);
      server = srv;
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(port, host, () => {
          srv.off('error', reject);
          resolve();
        });
      });
      const origin = `http://${hostForUrl(srv.address() as AddressInfo)}:${(srv.address() as AddressInfo).port}`;
      return { url: origin, apiBaseUrl: `${origin}${API_PREFIX}` };
    },
    ring: send,
    startCall: (call) => startCall(state, send, call),
    answerCall: (callId, extension) => answerCall(state, send, callId, extension),
    hangupCall: (callId) => hangupCall(state, send, callId),
    setCallsMode(change) {
      state.callsMode = { ...state.callsMode, ...readCallsModeChange(change) };
      return { ...state.callsMode };
    },
    callsMode: () => ({ ...state.callsMode }),
    calls: () => callViews(state),
    setCallGroups(groups) {
      const ringGroups = groups.ringGroups ? callGroupsFrom('ring_group', groups.ringGroups) : state.callGroups.filter((g) => g.kind === 'ring_group');
      const queues = groups.queues ? callGroupsFrom('queue', groups.queues) : state.callGroups.filter((g) => g.kind === 'queue');
      const numbers = [...ringGroups, ...queues].map((g) => g.number);
      const clash = numbers.find((n, i) => numbers.indexOf(n) !== i || state.extensions.has(n));
      if (clash !== undefined) throw new CallControlError(400, `number ${clash} is used twice (or is an extension)`, 'number');
      state.callGroups = [...ringGroups, ...queues];
    },
    callGroups: () => state.callGroups.map((g) => ({ ...g, members: [...g.members] })),
    subscriptions: () => [...state.subscriptions].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })),
    requestCounts: () => requestCounts(state),
    heldRequests: () => heldRequests(state),
    setFault(fault) {
      state.fault = { ...fault };
    },
    setContacts(contacts) {
      state.contacts = [...contacts];
    },
    setCallbackUrl(url) {
      state.callbackUrl = url;
    },
    setExtensionPassword(extension, webPassword) {
      state.extensions.set(extension, webPassword);
    },
    reset() {
      resetState(state);
    },
    async close() {
      for (const timer of pending) clearTimeout(timer);
      pending.clear();
      const srv = server;
      server = null;
      if (srv) {
        const closed = new Promise<void>((resolve) => srv.close(() => resolve()));
        srv.closeAllConnections();
        await closed;
      }
      await callbackAgent.close();
    },
  };

  sim.app.disable('x-powered-by');
  sim.app.use(API_PREFIX, createManualApi(state, timers));
  sim.app.get('/fs_sounds/recordings/*path', (req: Request, res: Response) => {
    const file = /([^/]+)\.wav$/.exec(req.path);
    if (file === null || !hasRecording(state, file[1] ?? '')) {
      res.status(404).type('text').send('no such recording');
      return;
    }
    res.type('audio/wav').send(silentWav());
  });
  sim.app.use('/_sim', createControlRoutes(sim));
  sim.app.use('/_sim', (_req: Request, res: Response) => {
    res.status(404).json({ error: 'no such control route' });
  });
  // Malformed JSON and oversize bodies on the control routes: JSON errors rather than express's HTML page.
  sim.app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number' ? err.status : 500;
    res.status(status).json({ error: err instanceof Error ? err.message : 'error' });
  });
  return sim;
}
