/**
 * A PBX sending ringing callbacks over an undici pool (a fixed set of keep-alive connections, as the benchmark's
 * generator), for the overload tests: back to back from `workers` loops, or paced by the clock at `ratePerS`
 * (an open loop: a PBX does not wait for the bridge), counting the answers by status; and how many event
 * frames carried each call id on an agent's socket.
 */
import type { Pool } from 'undici';
import { SECRETS } from './bridge-harness.js';
import type { AgentSocket } from './ws-client.js';

export interface SenderOptions {
  extension: string;
  /** Back-to-back loops (when no rate is given). */
  workers?: number;
  /** An open loop at this rate. */
  ratePerS?: number;
  /** Each callback on a connection of its own (`connection: close`), as a PBX without keep-alive. */
  newConnectionEach?: boolean;
}

export interface Sender {
  /** Call ids answered 200, in answer order. */
  accepted: string[];
  statuses: Map<number, number>;
  status(code: number): number;
  /** Stops sending and resolves once every callback sent has been answered. */
  stop(): Promise<void>;
}

export function sender(pool: Pool, idPrefix: string, opts: SenderOptions): Sender {
  const accepted: string[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  let stopped = false;
  const send = async (): Promise<void> => {
    const id = `${idPrefix}-${next++}`;
    const res = await pool.request({
      path: '/pbx/callback',
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-callback-secret': SECRETS.callbackSecret },
      body: JSON.stringify({ extension: opts.extension, caller: '+14155550132', call_id: id }),
      ...(opts.newConnectionEach === true ? { reset: true } : {}),
    });
    await res.body.text();
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    if (res.statusCode === 200) accepted.push(id);
  };
  let done: Promise<unknown>;
  const ratePerS = opts.ratePerS;
  if (ratePerS !== undefined) {
    // Paced by the clock, whatever the answers do (an open loop, like a PBX): a late timer sends what is due.
    const inFlight = new Set<Promise<void>>();
    const started = performance.now();
    const timer = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * ratePerS) - next;
      for (let i = 0; i < due; i++) {
        const p = send().finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
    }, 5);
    done = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (!stopped) return;
        clearInterval(timer);
        clearInterval(check);
        void Promise.all(inFlight).then(() => resolve());
      }, 5);
    });
  } else {
    const loop = async (): Promise<void> => {
      while (!stopped) await send();
    };
    done = Promise.all(Array.from({ length: opts.workers ?? 1 }, loop));
  }
  return {
    accepted,
    statuses,
    status: (code: number) => statuses.get(code) ?? 0,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/** How many event frames carried each call id. */
export function callIdCounts(agent: AgentSocket): Map<string, number> {
  const counts = new Map<string, number>();
  for (const f of agent.events()) {
    const id = (f['data'] as { call?: { id?: unknown } } | undefined)?.call?.id;
    if (typeof id === 'string') counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}
