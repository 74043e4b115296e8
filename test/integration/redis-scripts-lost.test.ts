/**
 * A Redis that has lost its Lua scripts (SCRIPT FLUSH, a restart without them, a failover to a replica): every
 * script-using store keeps working, the PBX's callbacks are accepted and popped exactly once, none answers 500,
 * and nothing falls back to the outage path. On a redis-server of this file's own: its SCRIPT FLUSHes would make
 * other files' scripts answer NOSCRIPT on the shared one.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { Bridge } from '../../src/bridge.js';
import { RedisDeliveryStore, RedisEndpointStore } from '../../src/crm-webhooks/stores.js';
import type { DeliveryRecord, WebhookEndpoint } from '../../src/crm-webhooks/types.js';
import { createRedisClient, RedisLock } from '../../src/store/redis.js';
import { RedisSubscriptionStore } from '../../src/subscriptions/redis-store.js';
import { createHarness, type Harness } from '../helpers/bridge-harness.js';
import { countOf, framesFrom, subscribeAtSimulator, supervisorSocket } from '../helpers/calls.js';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';
import type { AgentSocket } from '../helpers/ws-client.js';

let server: RedisServerHandle;
const clients: Redis[] = [];
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  clients.forEach((c) => c.disconnect());
  await server?.stop();
});

function client(extra: { enableAutoPipelining?: boolean } = {}): Redis {
  const c = createRedisClient(server.url, 'test-scripts-lost', extra);
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

/** Runs SCRIPT FLUSH from a connection of its own, again and again, until the returned function is awaited. */
function flushInALoop(): () => Promise<number> {
  const flusher = client();
  let stop = false;
  let flushes = 0;
  const loop = (async () => {
    while (!stop) {
      await flusher.script('FLUSH').catch(() => undefined);
      flushes++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  return async () => {
    stop = true;
    await loop;
    return flushes;
  };
}

const metric = async (bridge: Bridge, name: string): Promise<number | null> => {
  const text = await (await fetch(`${bridge.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? null : Number(line.split(' ')[1]);
};

describe('when Redis loses its scripts under a bridge', () => {
  let h: Harness;
  let bridge: Bridge;
  let sup: AgentSocket;
  let callerSeq = 0;
  const nextCaller = () => `+1415556${String(1000 + callerSeq++).padStart(4, '0')}`;

  beforeAll(async () => {
    h = await createHarness();
    await subscribeAtSimulator(h.simulatorApi, '101', '102');
    bridge = await h.startBridge({ REDIS_URL: server.url, ACTIVE_CALLS_POLL_MS: '100', CALL_LOG_WAIT_S: '2' }, { redisPrefix: uniquePrefix('scripts-lost') });
    sup = await supervisorSocket(bridge.url);
  });
  afterAll(async () => {
    sup?.close();
    await h?.close();
  });

  /** Rings 101 and 102, answers on 101 and hangs up: the event log's append and the call store's claim, note and compare-and-set. */
  const oneCall = async (): Promise<string> => {
    const from = nextCaller();
    const { callId, delivered, undelivered } = await h.simulator.startCall({ from, to: '101' });
    expect(undelivered).toEqual({});
    expect(delivered.length).toBeGreaterThan(0);
    await sup.waitFor(() => countOf(framesFrom(sup, from.slice(-10)), 'call.ringing') === delivered.length, 10_000);
    await h.simulator.answerCall(callId, delivered[0] as string);
    await h.simulator.hangupCall(callId);
    return from.slice(-10);
  };

  const poppedOnce = async (digits: string[]) => {
    for (const d of digits) {
      await sup.waitFor(() => countOf(framesFrom(sup, d), 'call.completed') === 1, 15_000);
    }
    for (const d of digits) {
      const frames = framesFrom(sup, d);
      const rang = countOf(frames, 'call.ringing');
      expect(rang).toBeGreaterThan(0);
      // One pop per leg, never a second copy of any event.
      expect(new Set(frames.map((f) => f.id)).size).toBe(frames.length);
      expect(countOf(frames, 'call.completed')).toBe(1);
    }
  };

  it('when scripts are flushed again and again during calls, then every callback is accepted and popped once, without the outage path', async () => {
    const stop = flushInALoop();
    let digits: string[] = [];
    try {
      // Calls at once, so their appends and claims meet flushes between a NOSCRIPT and its resend.
      for (let i = 0; i < 3; i++) digits = [...digits, ...(await Promise.all(Array.from({ length: 6 }, oneCall)))];
    } finally {
      expect(await stop()).toBeGreaterThan(0);
    }
    await poppedOnce(digits);
    expect(await metric(bridge, 'bridge_events_degraded_total')).toBe(0);
  }, 60_000);

  it('when redis-server restarts without its scripts, then the next calls are popped once', async () => {
    await server.restart();
    await eventually(async () => (await fetch(`${bridge.url}/readyz`)).status === 200, 10_000, '/readyz 200 after the restart');
    const before = await metric(bridge, 'bridge_events_degraded_total');
    const digits = [await oneCall(), await oneCall()];
    await poppedOnce(digits);
    expect(await metric(bridge, 'bridge_events_degraded_total')).toBe(before);
  }, 60_000);
});

describe('when Redis loses its scripts under the other script-using stores', () => {
  it.each([
    ['a plain client', {}],
    ['a client with enableAutoPipelining', { enableAutoPipelining: true }],
  ])('then the lock, subscription and webhook stores keep answering on %s, through a SCRIPT FLUSH loop and a restart', async (_name, extra) => {
    const redis = client(extra);
    const prefix = uniquePrefix('scripts-lost-stores');
    const lock = new RedisLock(redis, prefix);
    const subs = new RedisSubscriptionStore(redis, prefix);
    const deliveries = new RedisDeliveryStore(redis, prefix);
    const endpoints = new RedisEndpointStore(redis, prefix, deliveries);
    const now = new Date().toISOString();
    const endpoint: WebhookEndpoint = {
      id: randomUUID(),
      url: 'https://crm.example/hook',
      events: null,
      description: null,
      secret: 'whsec_dGVzdA==',
      status: 'active',
      disabledReason: null,
      disabledAt: null,
      createdAt: now,
    };
    await endpoints.create(endpoint);

    /** Every script of the lock, subscription and webhook stores, once each, with its answer checked. */
    const round = async (round: number) => {
      const token = await lock.acquire(`l${round}`, 10_000);
      expect(token).not.toBeNull();
      const record: DeliveryRecord = {
        id: `e${round}.${endpoint.id}`,
        endpointId: endpoint.id,
        eventId: `e${round}`,
        eventType: 'call.ringing',
        status: 'pending',
        attempts: [],
        lastStatusCode: null,
        lastError: null,
        nextAttemptAt: null,
        manualRetries: 0,
        createdAt: now,
        updatedAt: now,
        body: '{}',
      };
      const answers = await Promise.all([
        lock.extend(`l${round}`, token as string, 10_000),
        subs.update(`2${round}`, {}, {}, true),
        subs.takeStalePresence(`2${round}`, Date.now()),
        endpoints.update(endpoint),
        deliveries.createIfAbsent(record),
      ]);
      expect(answers[0]).toBe(true);
      expect(answers[1]).toBe(true);
      expect(answers[3]).toBe(true);
      expect(answers[4]).toBeNull();
      expect(await deliveries.replaceIfStatus({ ...record, status: 'succeeded' }, 'pending')).toBe(true);
      const rec = await subs.get(`2${round}`);
      expect(await subs.commit(`2${round}`, rec?.rev ?? 0, {})).toBe(true);
      await lock.release(`l${round}`, token as string);
    };

    const stop = flushInALoop();
    try {
      // Many at once: a flush must land between a call's NOSCRIPT and its resend to find the race.
      for (let batch = 0; batch < 200; batch += 20) await Promise.all(Array.from({ length: 20 }, (_, i) => round(batch + i)));
    } finally {
      await stop();
    }

    // A redis-server restarted without its data or scripts: each store answers once the client has reconnected.
    await server.restart();
    await eventually(async () => (await redis.ping().catch(() => null)) === 'PONG', 10_000, 'reconnected');
    await endpoints.create(endpoint);
    await round(1000);
  }, 60_000);
});
