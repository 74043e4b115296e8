/**
 * "via Sales (5000)" against the simulator (docs/calls.md, "Through which group"), in memory and Redis mode:
 * the ring group or queue a call came through is learned from the ringing callback when it names the group,
 * from activeCalls listing (c) (the group's number as callee), or from the call-log row at the end; a call to
 * one extension has none. It is on every event from the first that knows it, and in the journal.
 */
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import type { ActiveCallsListing, GroupInCallback } from '../../src/simulator/simulator.js';
import { admin, createHarness, type Harness } from '../helpers/bridge-harness.js';
import { countOf, framesFrom, readyz, subscribeAtSimulator, supervisorSocket, type CallFrame } from '../helpers/calls.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';
import type { AgentSocket } from '../helpers/ws-client.js';

const FAST = { ACTIVE_CALLS_POLL_MS: '100', CALL_GROUP_WINDOW_S: '10', CALL_LOG_WAIT_S: '3', RECORDING_WAIT_S: '5' };
const SALES = { kind: 'ring_group', name: 'Sales', number: '5000' };
const SUPPORT = { kind: 'queue', name: 'Support', number: '2000' };
let callerSeq = 0;
const nextCaller = (): string => `+1415554${String(1000 + (callerSeq++ % 9000)).padStart(4, '0')}`;

const modes: Array<[string, () => Record<string, string>]> = [
  ['memory', () => ({})],
  ['redis', () => ({ REDIS_URL: inject('redisUrl') })],
];

type Via = typeof SALES | typeof SUPPORT | null | undefined;
const viaOf = (f: CallFrame): Via => (f.data as { via?: Via }).via;

describe.each(modes)('via, %s mode', (_mode, modeEnv) => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness({ recordingDelayMs: 200 });
    await subscribeAtSimulator(h.simulatorApi, '101', '102', '103', '104', '105');
  });
  afterAll(async () => {
    await h.close();
  });
  afterEach(() => {
    h.simulator.setCallsMode({ activeCalls: 'ringing-legs', groupInCallback: 'none' });
  });

  /** A bridge of its own (the tracker learns what a PBX's listing shows), once it knows the groups. */
  async function bridgeKnowingGroups(): Promise<{ bridge: Bridge; sup: AgentSocket }> {
    const bridge = await h.startBridge({ ...FAST, ...modeEnv() }, { redisPrefix: uniquePrefix('via') });
    await eventually(async () => ((await readyz(bridge)).calls as { groupsKnown?: number } | undefined)?.groupsKnown === 2, 5000, 'ring groups and queues read');
    return { bridge, sup: await supervisorSocket(bridge.url) };
  }

  /** Rings `to` from a new caller, 102 (or 104) answers, hangs up; resolves with every frame once completed. */
  async function wholeCall(sup: AgentSocket, to: string, legs: number): Promise<CallFrame[]> {
    const from = nextCaller();
    const digits = from.slice(-10);
    const { callId } = await h.simulator.startCall({ from, to });
    await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.ringing') === legs);
    const answerer = to === '2000' ? '104' : '102';
    const polls = h.simulator.requestCounts().activeCalls;
    await eventually(() => h.simulator.requestCounts().activeCalls >= polls + 2, 5000, 'two polls while ringing');
    await h.simulator.answerCall(callId, to === answerer ? to : answerer);
    await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.answered') === legs);
    await h.simulator.hangupCall(callId);
    await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.completed') === 1, 10_000);
    return framesFrom(sup, digits);
  }

  async function journalVia(bridge: Bridge, frames: CallFrame[]): Promise<unknown> {
    const sessionId = frames[0]?.data.call.sessionId ?? '';
    const res = await fetch(`${bridge.url}/api/calls/${sessionId}`, { headers: admin });
    return ((await res.json()) as { call: { via?: unknown } }).call.via;
  }

  it.each<[GroupInCallback, string, number, typeof SALES | typeof SUPPORT]>([
    ['callee', '5000', 3, SALES],
    ['named', '5000', 3, SALES],
    ['named', '2000', 2, SUPPORT],
  ])('when the callback names the group (%s) of a call to %s, then every event says via it, call.ringing included', async (groupInCallback, to, legs, via) => {
    const { bridge, sup } = await bridgeKnowingGroups();
    h.simulator.setCallsMode({ activeCalls: 'ringing-legs', groupInCallback });
    const frames = await wholeCall(sup, to, legs);
    // Every leg's callback still rang its own extension (the extension field's meaning is unchanged).
    expect(frames.filter((f) => f.type === 'call.ringing').map((f) => f.data.extension).sort()).toEqual(to === '2000' ? ['104', '105'] : ['101', '102', '103']);
    for (const f of frames) expect(viaOf(f), f.type).toEqual(via);
    expect(await journalVia(bridge, frames)).toEqual(via);
    sup.close();
  });

  it('when activeCalls lists the group number as callee (c), then the outcome events say via it', async () => {
    const { bridge, sup } = await bridgeKnowingGroups();
    h.simulator.setCallsMode({ activeCalls: 'group-number' });
    const frames = await wholeCall(sup, '5000', 3);
    for (const f of frames.filter((x) => x.type === 'call.ringing')) expect(viaOf(f)).toBeUndefined();
    for (const f of frames.filter((x) => x.type !== 'call.ringing')) expect(viaOf(f), f.type).toEqual(SALES);
    expect(await journalVia(bridge, frames)).toEqual(SALES);
    sup.close();
  });

  it('when only the call log shows the group (connected-only listing), then call.completed and the journal say via it', async () => {
    const { bridge, sup } = await bridgeKnowingGroups();
    h.simulator.setCallsMode({ activeCalls: 'connected-only' });
    const frames = await wholeCall(sup, '5000', 3);
    for (const f of frames.filter((x) => x.type === 'call.answered')) expect(viaOf(f)).toBeNull();
    expect(viaOf(frames.find((f) => f.type === 'call.completed') as CallFrame)).toEqual(SALES);
    expect(await journalVia(bridge, frames)).toEqual(SALES);
    sup.close();
  });

  it.each<ActiveCallsListing>(['ringing-legs', 'group-number'])('when a call rings one extension (%s), then via is null throughout', async (listing) => {
    const { bridge, sup } = await bridgeKnowingGroups();
    h.simulator.setCallsMode({ activeCalls: listing, groupInCallback: 'named' });
    const from = nextCaller();
    const digits = from.slice(-10);
    const { callId } = await h.simulator.startCall({ from, to: '101', stateCallbacks: true });
    await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.ringing') === 1);
    await h.simulator.answerCall(callId, '101');
    await h.simulator.hangupCall(callId);
    await sup.waitFor(() => countOf(framesFrom(sup, digits), 'call.completed') === 1, 10_000);
    const frames = framesFrom(sup, digits);
    for (const f of frames.filter((x) => x.type !== 'call.ringing')) expect(viaOf(f), f.type).toBeNull();
    expect(await journalVia(bridge, frames)).toBeNull();
    sup.close();
  });
});
