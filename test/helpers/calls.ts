/** Helpers for call-tracker tests: subscribe extensions at the simulator, watch a supervisor's socket. */
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { admin, postJson, SECRETS, type Harness } from './bridge-harness.js';
import { eventually } from './wait.js';
import { openAgentSocket, type AgentSocket, type Frame } from './ws-client.js';

/** Subscribes extensions at the simulator directly, so its calls ring back to the bridge. */
export async function subscribeAtSimulator(simulatorApi: string, ...extensions: string[]): Promise<void> {
  for (const ext of extensions) {
    const password = createHash('md5').update(DEMO_EXTENSIONS[ext] ?? '').digest('hex');
    const r = await postJson(`${simulatorApi}/info/crmSubscribe`, { token_id: SECRETS.pbxToken, extension_number: ext, extension_password: password });
    expect(r.body.status).toBe('SUCCESS');
  }
}

/** A supervisor socket: every extension's events. */
export async function supervisorSocket(bridgeUrl: string): Promise<AgentSocket> {
  const r = await postJson(`${bridgeUrl}/api/tokens`, { extension: '*', role: 'supervisor' }, admin);
  if (typeof r.body.token !== 'string') throw new Error(`token: ${JSON.stringify(r.body)}`);
  return openAgentSocket(bridgeUrl, r.body.token);
}

export interface CallFrame extends Frame {
  type: string;
  id: string;
  data: {
    extension: string;
    answeredBy?: string | null;
    call: { id: string | null; sessionId: string; from: string; endedAt?: string };
    cdr?: Record<string, unknown>;
    recordingUrl?: string;
  };
}

export function callFrames(socket: AgentSocket): CallFrame[] {
  return socket.events().filter((f): f is CallFrame => typeof f.type === 'string' && f.type.startsWith('call.'));
}

/** The events of the call a caller made, in arrival order. */
export function framesFrom(socket: AgentSocket, fromDigits: string): CallFrame[] {
  return callFrames(socket).filter((f) => f.data.call.from.replace(/\D/g, '').endsWith(fromDigits));
}

/** "type:extension" for each frame, to compare against what section 8 says. */
export function summary(frames: CallFrame[]): string[] {
  return frames.map((f) => `${f.type}:${f.data.extension}`);
}

export function countOf(frames: CallFrame[], type: string): number {
  return frames.filter((f) => f.type === type).length;
}

export async function readyz(bridge: Bridge | { url: string }): Promise<Record<string, unknown>> {
  const res = await fetch(`${bridge.url}/readyz`);
  return (await res.json()) as Record<string, unknown>;
}

/** Waits until activeCalls was asked `n` more times: the tracker has seen the call as it is now. */
export async function polledTimes(h: Pick<Harness, 'simulator'>, n: number): Promise<void> {
  const start = h.simulator.requestCounts().activeCalls;
  await eventually(() => h.simulator.requestCounts().activeCalls >= start + n, 5000, `${n} activeCalls polls`);
}
