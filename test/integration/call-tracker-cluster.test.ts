/**
 * The call tracker with several instances on one Redis: one poller at a time, each outcome once across
 * instances, and an instance killed mid-call loses nothing (another carries on from Redis).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { createHarness, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { spawnBridge, stopBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { countOf, framesFrom, readyz, subscribeAtSimulator, summary, supervisorSocket } from '../helpers/calls.js';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';
import type { AgentSocket } from '../helpers/ws-client.js';

const FAST = { ACTIVE_CALLS_POLL_MS: '100', CALL_GROUP_WINDOW_S: '10', CALL_LOG_WAIT_S: '3', RECORDING_WAIT_S: '10' };

describe('call tracker, instances on one Redis', () => {
  let h: Harness;
  let redis: RedisServerHandle;
  const sockets: AgentSocket[] = [];
  const processes: BridgeProcess[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    h = await createHarness({ recordingDelayMs: 200 });
    await subscribeAtSimulator(h.simulatorApi, '101', '102', '103');
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    for (const p of processes) await stopBridge(p);
    await h.close();
    await redis.stop();
  });

  it('when a ring group call rings through two instances, then one polls, and each socket gets each outcome once', async () => {
    const prefix = uniquePrefix('calls-cluster');
    const a: Bridge = await h.startBridge({ ...FAST, REDIS_URL: redis.url }, { redisPrefix: prefix });
    const b: Bridge = await h.startBridge({ ...FAST, REDIS_URL: redis.url }, { redisPrefix: prefix });
    const onA = await supervisorSocket(a.url);
    const onB = await supervisorSocket(b.url);
    sockets.push(onA, onB);
    const { callId } = await h.simulator.startCall({ from: '+14155557001', to: '5000' });
    await onA.waitFor(() => countOf(framesFrom(onA, '4155557001'), 'call.ringing') === 3);
    await eventually(async () => {
      const leaders = await Promise.all([a, b].map(async (x) => ((await readyz(x)).calls as { leader: boolean }).leader));
      return leaders.filter(Boolean).length === 1;
    }, 15_000, 'exactly one instance polling');
    // The answer is inferred from a listing that showed the legs ringing first: let two polls see them.
    const polled = h.simulator.requestCounts().activeCalls;
    await eventually(() => h.simulator.requestCounts().activeCalls >= polled + 2, 15_000, 'two activeCalls polls while it rings');
    await h.simulator.answerCall(callId, '103');
    await onA.waitFor(() => countOf(framesFrom(onA, '4155557001'), 'call.answered') === 3, 15_000);
    await h.simulator.hangupCall(callId);
    for (const s of [onA, onB]) {
      await s.waitFor(() => countOf(framesFrom(s, '4155557001'), 'call.recording') === 1, 10_000);
      expect(summary(framesFrom(s, '4155557001')).sort()).toEqual(
        [
          'call.ringing:101', 'call.ringing:102', 'call.ringing:103',
          'call.answered:101', 'call.answered:102', 'call.answered:103',
          'call.ended:101', 'call.ended:102', 'call.ended:103',
          'call.completed:103', 'call.recording:103',
        ].sort(),
      );
    }
  });

  it('when the polling instance is killed mid-call, then another carries on and the outcome is sent once', async () => {
    const env = { ...FAST, LOG_LEVEL: 'warn' };
    const [p1, p2] = await Promise.all([
      spawnBridge({ pbxApi: h.simulatorApi, redisUrl: redis.url, env }),
      spawnBridge({ pbxApi: h.simulatorApi, redisUrl: redis.url, env }),
    ]);
    processes.push(p1, p2);
    h.simulator.setCallbackUrl(`${p2.url}/pbx/callback/${SECRETS.callbackSecret}`);
    const s1 = await supervisorSocket(p1.url);
    const s2 = await supervisorSocket(p2.url);
    sockets.push(s1, s2);
    const { callId } = await h.simulator.startCall({ from: '+14155557002', to: '5000' });
    await s1.waitFor(() => countOf(framesFrom(s1, '4155557002'), 'call.ringing') === 3);
    let leader: BridgeProcess | null = null;
    await eventually(async () => {
      for (const p of [p1, p2]) if (((await readyz(p)).calls as { leader: boolean }).leader) leader = p;
      return leader !== null;
    }, 15_000, 'a poller');
    const killed = leader as unknown as BridgeProcess;
    const survivor = killed === p1 ? s2 : s1;
    killed.kill('SIGKILL');
    await killed.exited;
    await h.simulator.answerCall(callId, '101');
    await h.simulator.hangupCall(callId);
    await survivor.waitFor(() => countOf(framesFrom(survivor, '4155557002'), 'call.completed') === 1, 15_000);
    const frames = framesFrom(survivor, '4155557002');
    expect(countOf(frames, 'call.ended')).toBe(3);
    expect(countOf(frames, 'call.missed')).toBe(0);
    expect(frames.find((f) => f.type === 'call.completed')?.data.cdr).toMatchObject({ answeredBy: '101' });
    expect(new Set(frames.map((f) => f.data.call.sessionId)).size).toBe(1);
  });
});
