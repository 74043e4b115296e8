/**
 * The call tracker against the simulator (docs/calls.md): every activeCalls listing, with and without PBX
 * call ids, in memory and Redis mode. When a call rings, is answered and ends (or nobody answers), then every
 * extension it rang on hears the outcome once, and the call is completed and journaled once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import type { ActiveCallsListing } from '../../src/simulator/simulator.js';
import { admin, createHarness, postJson, type Harness } from '../helpers/bridge-harness.js';
import { startReceiver } from '../helpers/webhook-receiver.js';
import { type CallFrame, countOf, framesFrom, polledTimes, readyz, subscribeAtSimulator, summary, supervisorSocket } from '../helpers/calls.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';
import type { AgentSocket } from '../helpers/ws-client.js';

const FAST = { ACTIVE_CALLS_POLL_MS: '100', CALL_GROUP_WINDOW_S: '10', CALL_LOG_WAIT_S: '3', RECORDING_WAIT_S: '20', WEBHOOK_ALLOW_PRIVATE: 'true' };
const LISTINGS: ActiveCallsListing[] = ['ringing-legs', 'connected-only', 'group-number'];
let callerSeq = 0;
/** A distinct caller per call, so one socket can tell the calls apart. */
const nextCaller = (): string => `+1415555${String(1000 + (callerSeq++ % 9000)).padStart(4, '0')}`;

const modes: Array<[string, () => Record<string, string>]> = [
  ['memory', () => ({})],
  ['redis', () => ({ REDIS_URL: inject('redisUrl') })],
];

function oneSession(frames: CallFrame[]): string {
  const ids = new Set(frames.map((f) => f.data.call.sessionId));
  expect(ids.size).toBe(1);
  return [...ids][0] ?? '';
}

describe.each(modes)('call tracker, %s mode', (_mode, modeEnv) => {
  let h: Harness;
  let bridge: Bridge;
  let sup: AgentSocket;

  beforeAll(async () => {
    h = await createHarness({ recordingDelayMs: 300 });
    await subscribeAtSimulator(h.simulatorApi, '101', '102', '103', '104', '105');
  });
  const startMain = async () => {
    bridge = await h.startBridge({ ...FAST, ...modeEnv() }, { redisPrefix: uniquePrefix('calls') });
    sup = await supervisorSocket(bridge.url);
  };
  afterAll(async () => {
    sup?.close();
    await h.close();
  });
  afterEach(() => {
    h.simulator.setCallsMode({ activeCalls: 'ringing-legs', callLogFields: 'extended' });
  });

  describe.each(LISTINGS)('listing %s', (listing) => {
    // A bridge of its own per listing: the tracker learns what a PBX's listing shows, and a PBX keeps its way.
    let sup: AgentSocket;
    beforeAll(async () => {
      const own = await h.startBridge({ ...FAST, ...modeEnv() }, { redisPrefix: uniquePrefix('calls') });
      sup = await supervisorSocket(own.url);
    });
    afterAll(() => sup.close());

    it.each([true, false])('when a ring group call (call ids: %s) is answered by 102 and hung up, then each leg hears it once and the call completes once', async (withCallId) => {
      h.simulator.setCallsMode({ activeCalls: listing });
      const from = nextCaller();
      const digits = from.slice(-10);
      const { callId } = await h.simulator.startCall({ from, to: '5000', withCallId });
      await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.ringing') === 3);
      await polledTimes(h, 2);
      await h.simulator.answerCall(callId, '102');
      // Every listing shows a ring group's answer before the hang-up (a one-leg call's it could not).
      await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.answered') === 3);
      await polledTimes(h, 2);
      await h.simulator.hangupCall(callId);
      await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.recording') === 1, 10_000).catch((err: unknown) => {
        console.log(summary(framesFrom(sup, digits)));
        throw err;
      });
      const frames = framesFrom(sup, digits);
      oneSession(frames);
      expect(summary(frames).sort()).toEqual(
        [
          'call.ringing:101', 'call.ringing:102', 'call.ringing:103',
          'call.answered:101', 'call.answered:102', 'call.answered:103',
          'call.ended:101', 'call.ended:102', 'call.ended:103',
          'call.completed:102', 'call.recording:102',
        ].sort(),
      );
      for (const f of frames.filter((x) => x.type === 'call.answered' || x.type === 'call.ended')) expect(f.data.answeredBy).toBe('102');
      const completed = frames.find((f) => f.type === 'call.completed');
      expect(completed?.data.cdr).toMatchObject({ answeredBy: '102', source: 'call_log' });
      expect(typeof completed?.data.cdr?.talkS).toBe('number');
      // Outcomes come after the answer, and nothing but completed/recording after an outcome.
      const order = frames.map((f) => f.type);
      expect(order.lastIndexOf('call.answered')).toBeLessThan(order.indexOf('call.ended'));
      expect(order.lastIndexOf('call.ended')).toBeLessThan(order.indexOf('call.completed'));
      // Nothing more arrives later.
      await polledTimes(h, 0);
      expect(framesFrom(sup, digits)).toHaveLength(11);
    });

    it('when nobody answers a queue call, then every leg gets call.missed and the call completes once', async () => {
      h.simulator.setCallsMode({ activeCalls: listing });
      const from = nextCaller();
      const digits = from.slice(-10);
      const { callId } = await h.simulator.startCall({ from, to: '2000' });
      await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.ringing') === 2);
      await polledTimes(h, 2);
      await h.simulator.hangupCall(callId);
      await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.completed') === 1, 10_000);
      const frames = framesFrom(sup, digits);
      oneSession(frames);
      expect(summary(frames).sort()).toEqual(['call.completed:104', 'call.missed:104', 'call.missed:105', 'call.ringing:104', 'call.ringing:105']);
      expect(frames.find((f) => f.type === 'call.completed')?.data.cdr).toMatchObject({ answeredBy: null, source: 'call_log', talkS: null });
    });
  });

  describe('one bridge, listing ringing-legs', () => {
    beforeAll(startMain);

    it('when a state callback says answered and ended, then the outcome is sent at once', async () => {
      const from = nextCaller();
      const digits = from.slice(-10);
      const { callId } = await h.simulator.startCall({ from, to: '101', stateCallbacks: true });
      await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.ringing') === 1);
      await h.simulator.answerCall(callId, '101');
      await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.answered') === 1);
      await h.simulator.hangupCall(callId);
      await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.completed') === 1, 10_000);
      expect(summary(framesFrom(sup, digits)).slice(0, 4)).toEqual(['call.ringing:101', 'call.answered:101', 'call.ended:101', 'call.completed:101']);
    });

    it('when state callbacks end every leg of a ring group nobody answered, then each leg gets call.missed', async () => {
      const from = nextCaller();
      const digits = from.slice(-10);
      const { callId } = await h.simulator.startCall({ from, to: '5000', stateCallbacks: true });
      await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.ringing') === 3);
      await h.simulator.hangupCall(callId);
      await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.completed') === 1, 10_000);
      expect(summary(framesFrom(sup, digits)).filter((x) => !x.startsWith('call.ringing')).sort()).toEqual(
        ['call.completed:101', 'call.missed:101', 'call.missed:102', 'call.missed:103'],
      );
    });

    it('when the call log has the manual fields only and a one-leg call rings out, then no wrong outcome: call.ended without answeredBy', async () => {
      h.simulator.setCallsMode({ activeCalls: 'ringing-legs', callLogFields: 'manual' });
      const from = nextCaller();
      const digits = from.slice(-10);
      const { callId } = await h.simulator.startCall({ from, to: '103' });
      await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.ringing') === 1);
      await polledTimes(h, 2);
      await h.simulator.hangupCall(callId);
      await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.completed') === 1, 10_000);
      const frames = framesFrom(sup, digits);
      expect(countOf(frames, 'call.missed')).toBe(0);
      expect(frames.find((f) => f.type === 'call.ended')?.data.answeredBy).toBeNull();
    });

    it('when the PBX is down mid-call, then nothing is concluded, and the call is reconciled once it answers', async () => {
      const from = nextCaller();
      const digits = from.slice(-10);
      const { callId } = await h.simulator.startCall({ from, to: '5000' });
      await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.ringing') === 3);
      await polledTimes(h, 2);
      h.simulator.setFault({ mode: 'down' });
      await h.simulator.answerCall(callId, '101');
      await h.simulator.hangupCall(callId);
      await polledTimes(h, 5);
      expect(summary(framesFrom(sup, digits)).filter((s) => !s.startsWith('call.ringing'))).toEqual([]);
      expect((await readyz(bridge)).calls).toMatchObject({ pbxReachable: false });
      h.simulator.setFault({ mode: 'none' });
      await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.completed') === 1, 10_000);
      const frames = framesFrom(sup, digits);
      expect(countOf(frames, 'call.ended')).toBe(3);
      expect(countOf(frames, 'call.missed')).toBe(0);
      // The answer was never seen in activeCalls: it came from the call log.
      expect(frames.find((f) => f.type === 'call.completed')?.data.cdr).toMatchObject({ answeredBy: '101', source: 'call_log' });
    });

    it('when a CRM endpoint asks for call.completed and call.recording, then it gets exactly those, once each', async () => {
      const receiver = await startReceiver();
      try {
        const created = await postJson(`${bridge.url}/api/webhooks`, { url: receiver.url, events: ['call.completed', 'call.recording'] }, admin);
        expect(created.status).toBe(201);
        const from = nextCaller();
        const { callId } = await h.simulator.startCall({ from, to: '101' });
        await sup.waitFor(() => countOf(framesFrom(sup, from.slice(-10)), 'call.ringing') === 1);
        await h.simulator.answerCall(callId, '101');
        await h.simulator.hangupCall(callId);
        await eventually(() => receiver.hits.length >= 2, 15_000, 'two deliveries');
        const types = receiver.hits.map((hit) => (JSON.parse(hit.body) as { type: string }).type);
        expect(types.sort()).toEqual(['call.completed', 'call.recording']);
      } finally {
        await receiver.close();
      }
    });

    it('when only activeCalls keeps failing, then the call log settles the call', async () => {
      const from = nextCaller();
      const digits = from.slice(-10);
      const { callId } = await h.simulator.startCall({ from, to: '5000' });
      await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.ringing') === 3);
      await polledTimes(h, 2);
      h.simulator.setFault({ mode: 'down', endpoints: ['activeCalls'] });
      try {
        await h.simulator.answerCall(callId, '103');
        await h.simulator.hangupCall(callId);
        await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.completed') === 1, 20_000);
        const frames = framesFrom(sup, digits);
        expect(countOf(frames, 'call.ended')).toBe(3);
        expect(frames.find((f) => f.type === 'call.completed')?.data.cdr).toMatchObject({ answeredBy: '103', source: 'call_log' });
      } finally {
        h.simulator.setFault({ mode: 'none' });
      }
    }, 30_000);

    it('when nothing rings, then the PBX is not polled', async () => {
      // Calls may still wait for a recording; what matters is that none rings or talks.
      await eventually(async () => ((await readyz(bridge)).calls as { open: number }).open === 0, 15_000, 'no open call');
      const before = h.simulator.requestCounts().activeCalls;
      await new Promise((r) => setTimeout(r, 600));
      expect(h.simulator.requestCounts().activeCalls).toBe(before);
    });

    it('when a call is completed, then the journal lists it by every written form of the number', async () => {
      const from = '+14155550177';
      const { callId } = await h.simulator.startCall({ from, to: '104' });
      await sup.waitFor(() => countOf(framesFrom(sup, '4155550177'), 'call.ringing') === 1);
      await h.simulator.answerCall(callId, '104');
      await h.simulator.hangupCall(callId);
      await sup.waitFor(() => countOf(framesFrom(sup, '4155550177'), 'call.completed') === 1, 10_000);
      const sessionId = framesFrom(sup, '4155550177')[0]?.data.call.sessionId;
      for (const form of ['+14155550177', '(415) 555-0177', '0014155550177']) {
        const r = await fetch(`${bridge.url}/api/calls?number=${encodeURIComponent(form)}`, { headers: admin });
        const body = (await r.json()) as { calls: Array<{ sessionId: string }> };
        expect(body.calls.map((c) => c.sessionId)).toContain(sessionId);
      }
      const one = await fetch(`${bridge.url}/api/calls/${sessionId}`, { headers: admin });
      const call = ((await one.json()) as { call: { events: Array<{ type: string }>; cdr: { answeredBy: string } } }).call;
      expect(call.cdr.answeredBy).toBe('104');
      expect(call.events.map((e) => e.type)).toEqual(expect.arrayContaining(['call.ringing', 'call.ended', 'call.completed']));
      // The pop's "recent calls with this caller", with an agent token; none without one.
      const agent = await postJson(`${bridge.url}/api/tokens`, { extension: '104', role: 'agent' }, admin);
      const mine = await fetch(`${bridge.url}/api/agents/calls?number=${encodeURIComponent('(415) 555-0177')}`, {
        headers: { authorization: `Bearer ${String(agent.body.token)}` },
      });
      expect(((await mine.json()) as { calls: Array<{ sessionId: string }> }).calls[0]?.sessionId).toBe(sessionId);
      expect((await fetch(`${bridge.url}/api/agents/calls?number=4155550177`)).status).toBe(401);
      const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
      for (const name of ['bridge_calls_active_calls_polls_total', 'bridge_calls_open', 'bridge_calls_events_total', 'bridge_calls_call_log_lag_seconds', 'bridge_calls_recordings_pending']) {
        expect(metrics).toContain(name);
      }
      const bad = await fetch(`${bridge.url}/api/calls?since=yesterday`, { headers: admin });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { message: string }).message).toContain('since');
      const badCursor = await fetch(`${bridge.url}/api/calls?cursor=nonsense`, { headers: admin });
      expect(badCursor.status).toBe(400);
      expect(((await badCursor.json()) as { message: string }).message).toContain('cursor');
    });
  });
});
