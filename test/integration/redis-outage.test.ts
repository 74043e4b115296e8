/**
 * Redis goes away mid-stream and comes back (the test stops and restarts a real redis-server) under two
 * bridges sharing it: callbacks keep being accepted quickly and popped to the same instance's agents, the
 * outage shows in /readyz and /metrics and is logged once, and once Redis is back the events accepted during
 * the outage reach the other instance's agents, late and in order, while nobody gets anything twice.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { compareEventIds } from '../../src/core/event.js';
import { admin, createHarness, postJson, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';
import { openAgentSocket, type AgentSocket } from '../helpers/ws-client.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

describe('when Redis stops and restarts under two bridges', () => {
  let h: Harness;
  let redis: RedisServerHandle;
  let a: Bridge;
  let b: Bridge;
  const sockets: AgentSocket[] = [];

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    redis = await startRedisServer();
    h = await createHarness();
    const env = { REDIS_URL: redis.url, LOG_LEVEL: 'info' };
    a = await h.startBridge(env);
    b = await h.startBridge(env);
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await h?.close();
    await redis?.stop();
    process.off('unhandledRejection', onUnhandled);
  });

  const token = async (bridge: Bridge, extension: string) => {
    const r = await postJson(`${bridge.url}/api/tokens`, { extension, role: 'agent', ttlSeconds: 600 }, admin);
    expect(r.status).toBe(200);
    return String(r.body.token);
  };
  const open = async (bridge: Bridge, t: string) => {
    const s = await openAgentSocket(bridge.url, t);
    sockets.push(s);
    await s.waitFor((f) => f.some((x) => x.type === 'ready'));
    return s;
  };
  const callback = (bridge: Bridge, fields: Record<string, string>) => postJson(`${bridge.url}/pbx/callback?secret=${SECRETS.callbackSecret}`, fields);
  const ids = (s: AgentSocket) => s.events().map((e) => String(e.id));
  const readyz = async (bridge: Bridge) => {
    const res = await fetch(`${bridge.url}/readyz`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const metric = async (bridge: Bridge, name: string) => {
    const text = await (await fetch(`${bridge.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? null : Number(line.split(' ')[1]);
  };

  it('then callbacks are accepted fast and popped locally during the outage, and shared when Redis is back', async () => {
    const t101 = await token(a, '101');
    const onA = await open(a, t101);
    const onB = await open(b, t101);

    const before = await callback(a, { extension: '101', caller: '5550100', call_id: randomUUID() });
    expect(before.status).toBe(200);
    await onB.waitFor((f) => f.some((x) => x.id === before.body.eventId));
    await onA.waitFor((f) => f.some((x) => x.id === before.body.eventId));

    // ---- Redis goes away ----
    await redis.stop();
    await eventually(async () => (await readyz(a)).status === 503, 5000, '/readyz 503 on A');
    const down = await readyz(a);
    expect(down.body).toMatchObject({ ready: false, redis: 'unreachable', eventLog: 'degraded' });
    expect((down.body.reasons as string[]).join(' ')).toMatch(/Redis is unreachable/);

    // A socket upgrade needs the revocation check, which needs Redis: refused with 503, nothing crashes.
    const refused = openAgentSocket(a.url, t101).then(
      () => 'opened',
      (err: Error) => err.message,
    );

    const during: string[] = [];
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const r = await callback(a, { extension: '101', caller: `55502${String(i).padStart(2, '0')}`, call_id: `outage-${i}` });
      latencies.push(performance.now() - started);
      expect(r.status).toBe(200);
      expect(r.body.duplicate).toBeUndefined();
      during.push(String(r.body.eventId));
    }
    expect(Math.max(...latencies)).toBeLessThan(1000);
    // A PBX retry during the outage is still a duplicate (local dedupe).
    const again = await callback(a, { extension: '101', caller: '5550200', call_id: 'outage-0' });
    expect(again.body).toMatchObject({ duplicate: true, eventId: during[0] });
    expect([...during].sort(compareEventIds)).toEqual(during);

    // Same-instance agent gets every one at once; the other instance's agent cannot yet.
    await onA.waitFor((f) => during.every((id) => f.some((x) => x.id === id)), 3000);
    expect(ids(onB)).toEqual([before.body.eventId]);
    expect(await metric(a, 'bridge_redis_up')).toBe(0);
    expect(await metric(a, 'bridge_events_degraded_total')).toBe(20);
    expect(await metric(a, 'bridge_event_log_buffered')).toBe(20);
    expect(await refused).toContain('503');

    // ---- Redis comes back (empty: no persistence) ----
    await redis.restart();
    await eventually(async () => (await readyz(a)).status === 200, 10_000, '/readyz 200 on A');
    await eventually(async () => (await readyz(b)).status === 200, 10_000, '/readyz 200 on B');
    expect((await readyz(a)).body).toMatchObject({ ready: true, redis: 'ok', eventLog: 'shared' });

    // B's agent gets the outage's events late, in order, under their shared ids; A's agent gets none twice.
    const callIds = (s: AgentSocket) => s.events().map((e) => (e.data as { call: { id: string } }).call.id);
    const outageCalls = during.map((_, i) => `outage-${i}`);
    await onB.waitFor((f) => f.filter((x) => x.id).length >= 21, 10_000);
    expect(callIds(onB).slice(1)).toEqual(outageCalls);

    // Shared operation again, both ways.
    const afterA = await callback(a, { extension: '101', caller: '5550300', call_id: randomUUID() });
    const afterB = await callback(b, { extension: '101', caller: '5550301', call_id: randomUUID() });
    await onB.waitFor((f) => f.some((x) => x.id === afterA.body.eventId) && f.some((x) => x.id === afterB.body.eventId));
    await onA.waitFor((f) => f.some((x) => x.id === afterA.body.eventId) && f.some((x) => x.id === afterB.body.eventId));
    expect(ids(onA)).toEqual([before.body.eventId, ...during, afterA.body.eventId, afterB.body.eventId]);
    const sharedIds = ids(onB).slice(1, 21);
    const expected = [before.body.eventId, ...sharedIds, afterA.body.eventId, afterB.body.eventId].map(String);
    expect(ids(onB)).toEqual(expected);
    expect([...expected].sort(compareEventIds)).toEqual(expected);
    // Provisional ids sort below every shared id issued after the outage.
    expect(compareEventIds(during.at(-1) as string, sharedIds[0] as string)).toBeLessThan(0);
    expect(await metric(a, 'bridge_redis_up')).toBe(1);
    expect(await metric(a, 'bridge_event_log_buffered')).toBe(0);
    const shared = await (await fetch(`${a.url}/metrics`)).text();
    expect(shared).toContain('bridge_events_degraded_shared_total{outcome="shared"} 20');

    // A resume on B from before the outage replays the outage's events from the shared log.
    const resumed = await openAgentSocket(b.url, t101, String(before.body.eventId));
    sockets.push(resumed);
    await resumed.waitFor((f) => f.filter((x) => x.id).length >= expected.length - 1);
    expect(resumed.frames[0]).toMatchObject({ type: 'ready', resumed: true });
    expect(ids(resumed)).toEqual(expected.slice(1));

    // A resume from a provisional id (an agent of A that saw the outage's pops) loses nothing: it is replayed
    // everything shared since, which repeats the outage's events under their shared ids.
    const fromProvisional = await openAgentSocket(b.url, t101, during[5]);
    sockets.push(fromProvisional);
    await fromProvisional.waitFor((f) => f.filter((x) => x.id).length >= 22);
    expect(fromProvisional.frames[0]).toMatchObject({ type: 'ready', resumed: true });
    expect(ids(fromProvisional)).toEqual(expected.slice(1));

    // Logged once per instance, not per callback.
    const degradedLogs = h.logs.parsed().filter((l) => String(l.msg).includes('the event log is degraded'));
    expect(degradedLogs.length).toBeLessThanOrEqual(2);
    expect(degradedLogs.length).toBeGreaterThanOrEqual(1);
    expect(unhandled).toEqual([]);
  }, 40_000);

  it('when Redis hangs (SIGSTOP) instead of going away, then appends time out into local delivery and are shared once, under new ids, when it answers again', async () => {
    const t102 = await token(a, '102');
    const onA = await open(a, t102);
    const onB = await open(b, t102);
    const calls = (s: AgentSocket) => s.events().map((e) => (e.data as { call: { id: string } }).call.id);

    const resume = redis.hang();
    try {
      const accepted: string[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const r = await callback(a, { extension: '102', caller: `555040${i}`, call_id: `hang-${i}` });
        expect(r.status).toBe(200);
        expect(performance.now() - started).toBeLessThan(1500);
        accepted.push(`hang-${i}`);
      }
      await onA.waitFor((f) => f.filter((x) => x.id).length === 5, 3000);
      expect(calls(onA)).toEqual(accepted);
      expect((await readyz(a)).body).toMatchObject({ eventLog: 'degraded' });
      resume();
      await eventually(async () => (await readyz(a)).status === 200, 10_000, '/readyz 200 on A after SIGCONT');
      await onB.waitFor((f) => f.filter((x) => x.id).length === 5, 10_000);
      expect(calls(onB)).toEqual(accepted);
      const idsOnB = ids(onB);
      expect([...idsOnB].sort(compareEventIds)).toEqual(idsOnB);
      // Nothing more arrives anywhere: no echo on A, no second copy on B.
      const marker = await callback(a, { extension: '102', caller: '5550499', call_id: randomUUID() });
      await onA.waitFor((f) => f.some((x) => x.id === marker.body.eventId));
      await onB.waitFor((f) => f.some((x) => x.id === marker.body.eventId));
      expect(calls(onA)).toHaveLength(6);
      expect(calls(onB)).toHaveLength(6);
      expect(unhandled).toEqual([]);
    } finally {
      resume();
    }
  }, 30_000);
});
