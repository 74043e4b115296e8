/**
 * A slow call-log or recording lookup must not hold back the call state of other calls (docs/calls.md,
 * "How rounds and lookups are scheduled"): while the simulator holds one call's callLog (or recordingPath)
 * request unanswered, the answer and the hang-up of a different open call still reach the agent's socket.
 * Judged on order, not time: the other call's frames arrive while the simulator still reports the lookup
 * held, in memory and Redis mode.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { createHarness, type Harness } from '../helpers/bridge-harness.js';
import { countOf, framesFrom, polledTimes, subscribeAtSimulator, summary, supervisorSocket } from '../helpers/calls.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';
import type { AgentSocket } from '../helpers/ws-client.js';

/** How long the simulator holds a slowed lookup: far beyond the few polls the other call's state may take. */
const SLOW_MS = 6000;
const FAST = {
  ACTIVE_CALLS_POLL_MS: '100',
  CALL_GROUP_WINDOW_S: '10',
  CALL_LOG_WAIT_S: '3',
  RECORDING_WAIT_S: '20',
  // The slowed request must not time out before the simulator answers it.
  PBX_TIMEOUT_MS: String(SLOW_MS * 2),
};
type SlowEndpoint = 'callLog' | 'recordingPath';

let callerSeq = 0;
const nextCaller = (): string => `+1415556${String(1000 + (callerSeq++ % 9000)).padStart(4, '0')}`;

const modes: Array<[string, () => Record<string, string>]> = [
  ['memory', () => ({})],
  ['redis', () => ({ REDIS_URL: inject('redisUrl') })],
];

describe.each(modes)('call tracker with a slow lookup, %s mode', (_mode, modeEnv) => {
  let h: Harness;
  let bridge: Bridge;
  let sup: AgentSocket;

  beforeAll(async () => {
    h = await createHarness({ recordingDelayMs: 200 });
    await subscribeAtSimulator(h.simulatorApi, '101', '102', '103', '104');
    bridge = await h.startBridge({ ...FAST, ...modeEnv() }, { redisPrefix: uniquePrefix('slow-lookups') });
    sup = await supervisorSocket(bridge.url);
  });
  afterAll(async () => {
    sup?.close();
    await h?.close();
  });

  /** Call A on 104 is answered and hung up, until the tracker's `endpoint` lookup for it is held by the simulator. */
  async function holdLookupOfAnotherCall(endpoint: SlowEndpoint): Promise<string> {
    const from = nextCaller();
    const digits = from.slice(-10);
    h.simulator.setFault({ mode: 'slow', delayMs: SLOW_MS, endpoints: [endpoint] });
    // With state callbacks the call log answers at once (only `endpoint` is slowed) and the call completes.
    const { callId } = await h.simulator.startCall({ from, to: '104', stateCallbacks: true });
    await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.ringing') === 1);
    await h.simulator.answerCall(callId, '104');
    await h.simulator.hangupCall(callId);
    await eventually(() => h.simulator.heldRequests()[endpoint] >= 1, 10_000, `a held ${endpoint} request`);
    return digits;
  }

  it.each<SlowEndpoint>(['callLog', 'recordingPath'])(
    'when the %s lookup of one call hangs, then the answer and hang-up of another call still reach the socket before it is answered',
    async (endpoint) => {
      // Call B: a ring group call, followed by activeCalls only (no state callbacks).
      const fromB = nextCaller();
      const digitsB = fromB.slice(-10);
      const b = await h.simulator.startCall({ from: fromB, to: '5000' });
      await sup.waitFor(() => countOf(framesFrom(sup, digitsB), 'call.ringing') === 3);
      await polledTimes(h, 2);

      const digitsA = await holdLookupOfAnotherCall(endpoint);
      // Read at the moment each frame arrives: was A's lookup still unanswered?
      const heldWhen: Record<string, number> = {};
      const arrived = (type: string, n: number) => () => {
        const done = countOf(framesFrom(sup, digitsB), type) >= n;
        if (done && heldWhen[type] === undefined) heldWhen[type] = h.simulator.heldRequests()[endpoint];
        return done;
      };
      try {
        await h.simulator.answerCall(b.callId, '102');
        await sup.waitFor(arrived('call.answered', 3), SLOW_MS * 3);
        await h.simulator.hangupCall(b.callId);
        await sup.waitFor(arrived('call.ended', 3), SLOW_MS * 3);
      } finally {
        h.simulator.setFault({ mode: 'none' });
      }
      expect(heldWhen).toEqual({ 'call.answered': expect.any(Number), 'call.ended': expect.any(Number) });
      expect(heldWhen['call.answered'], `${endpoint} still held when B's answer arrived`).toBeGreaterThanOrEqual(1);
      expect(heldWhen['call.ended'], `${endpoint} still held when B's hang-up arrived`).toBeGreaterThanOrEqual(1);
      for (const f of framesFrom(sup, digitsB).filter((x) => x.type === 'call.answered' || x.type === 'call.ended')) expect(f.data.answeredBy).toBe('102');

      // Once the PBX answers, both calls finish as usual, each outcome once.
      const last = endpoint === 'callLog' ? 'call.completed' : 'call.recording';
      await sup.waitFor(() => countOf(framesFrom(sup, digitsA), last) === 1 && countOf(framesFrom(sup, digitsB), last) === 1, SLOW_MS * 4);
      expect(summary(framesFrom(sup, digitsA)).filter((s) => s !== 'call.recording:104')).toEqual([
        'call.ringing:104',
        'call.answered:104',
        'call.ended:104',
        'call.completed:104',
      ]);
      expect(countOf(framesFrom(sup, digitsB), 'call.completed')).toBe(1);
    },
    SLOW_MS * 10,
  );
});

describe('closing the bridge while a lookup is held', () => {
  it('when a call-log lookup hangs at close, then the tracker closes without waiting for the PBX to answer it', async () => {
    const h = await createHarness();
    try {
      await subscribeAtSimulator(h.simulatorApi, '104');
      // Held far longer than any close deadline; the PBX client waits as long.
      const bridge = await h.startBridge({ ...FAST, PBX_TIMEOUT_MS: '120000' });
      h.simulator.setFault({ mode: 'slow', delayMs: 120_000, endpoints: ['callLog'] });
      const { callId } = await h.simulator.startCall({ from: nextCaller(), to: '104', stateCallbacks: true });
      await h.simulator.answerCall(callId, '104');
      await h.simulator.hangupCall(callId);
      await eventually(() => h.simulator.heldRequests().callLog >= 1, 10_000, 'a held callLog request');
      await bridge.close();
      // Closed while the lookup is still unanswered, and the tracker was not among the parts the close had to
      // abandon: it stopped its lookups and released its lease; nor was the PBX client, which cuts the held
      // request after a moment instead of waiting for the PBX.
      expect(h.simulator.heldRequests().callLog).toBeGreaterThanOrEqual(1);
      const abandoned = h.logs.parsed().flatMap((r) => (Array.isArray(r.abandoned) ? r.abandoned : []));
      expect(abandoned).not.toContain('call tracker');
      expect(abandoned).not.toContain('PBX client');
      expect(h.logs.text()).toContain('closing with a call-log or recording lookup still waiting for the PBX');
    } finally {
      await h.close();
    }
  }, 30_000);
});
