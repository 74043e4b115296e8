/**
 * The subscription manager with short timings, over a real redis-server, the real PBX client and the
 * simulator over HTTP: failures and backoff, refusals, presence and grace, several instances and the lease.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { AgentClaims } from '../../src/core/agent.js';
import type { PbxApi } from '../../src/core/ports.js';
import { createLogger } from '../../src/logger.js';
import { createPbxClient, type PbxClient } from '../../src/pbx/client.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { createRedisClient, RedisLock } from '../../src/store/redis.js';
import { MemoryLock } from '../../src/store/memory.js';
import { startSubscriptions, type SubscriptionManager, type SubscriptionTuning } from '../../src/subscriptions/index.js';
import { createHarness, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { eventually, eventuallyValue, letTimePass } from '../helpers/wait.js';

const pw = (ext: string): string => DEMO_EXTENSIONS[ext] ?? '';
const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const credentialsKey = randomBytes(32);

let h: Harness;
let cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  h = await createHarness();
});
afterEach(async () => {
  const run = cleanups.reverse();
  cleanups = [];
  for (const c of run) await c();
  h.simulator.reset();
});
afterAll(async () => {
  // No password (plain or as its MD5) and no token_id in any log line of any test here.
  const text = h.logs.text();
  expect(text.length).toBeGreaterThan(0);
  for (const ext of Object.keys(DEMO_EXTENSIONS)) {
    expect(text).not.toContain(pw(ext));
    expect(text).not.toContain(md5(pw(ext)));
  }
  expect(text).not.toContain('changed-on-the-pbx');
  expect(text).not.toContain(SECRETS.pbxToken);
  expect(text).not.toMatch(/v1\.[A-Za-z0-9_-]{20,}/); // no sealed password either
  await h.close();
});

function pbxClient(): PbxClient {
  const c = createPbxClient({ baseUrl: h.simulatorApi, token: SECRETS.pbxToken, userType: 'TENANT', passwordFormat: 'md5', timeoutMs: 1000 });
  cleanups.push(() => c.close());
  return c;
}

function claims(extension: string, ttlS = 3600): AgentClaims {
  return { extension, role: 'agent', exp: Math.floor(Date.now() / 1000) + ttlS, jti: randomUUID() };
}

interface Started {
  m: SubscriptionManager;
  redis: Redis | null;
}

async function startManager(
  opts: { prefix?: string; graceS?: number; pbx?: PbxApi; mode?: 'redis' | 'memory'; instanceId?: string } & SubscriptionTuning = {},
): Promise<Started> {
  const { prefix = uniquePrefix('subs'), graceS = 60, pbx = pbxClient(), mode = 'redis', instanceId = randomUUID(), ...tuning } = opts;
  const logger = createLogger('debug', h.logs.stream);
  let redis: Redis | null = null;
  if (mode === 'redis') {
    const client = createRedisClient(inject('redisUrl'), 'test-subscriptions');
    client.on('error', () => undefined);
    redis = client;
    cleanups.push(() => {
      client.disconnect();
    });
  }
  const m = await startSubscriptions({
    pbx,
    lock: redis ? new RedisLock(redis, prefix) : new MemoryLock(),
    redis: redis ? { client: redis, url: inject('redisUrl'), prefix } : null,
    credentialsKey,
    graceS,
    resubscribeIntervalS: 3600,
    logger,
    instanceId,
    backoff: { baseMs: 40, maxMs: 300 },
    leaseTtlMs: 1000,
    ...tuning,
  });
  cleanups.push(() => m.close());
  return { m, redis };
}

const subs = () => h.simulator.subscriptions();
const subscribeCalls = () => h.simulator.requestCounts().crmSubscribe;

async function registerAll(m: SubscriptionManager, exts: string[]): Promise<void> {
  for (const e of exts) {
    const r = await m.register(e, pw(e));
    expect(r.ok).toBe(true);
  }
}

describe.each(['redis', 'memory'] as const)('the subscription manager (%s)', (mode) => {
  it('when the PBX is down for a while, then every desired extension is retried with backoff and subscribed once it is back', async () => {
    const { m } = await startManager({ mode });
    await eventually(() => m.isLeader(), 3000, 'leadership');
    await registerAll(m, ['101', '102', '103']);
    expect(subs()).toEqual(['101', '102', '103']);

    // The PBX loses its state and goes down; the renewal fails for every extension.
    h.simulator.reset();
    h.simulator.setFault({ mode: 'down' });
    await m.renewAll();
    await eventually(async () => (await m.list()).every((v) => v.state === 'pending' && v.lastError !== null), 3000, 'pending');
    const view = (await m.list())[0];
    expect(view).toMatchObject({ desired: true, sources: ['admin'], state: 'pending' });
    expect(view?.lastError).toMatch(/crmSubscribe failed: PBX crmSubscribe unreachable/);
    expect(view?.nextRetryAt).not.toBeNull();

    // Backoff (40 ms doubling to 300 ms here): a handful of attempts per extension in a second, not hundreds.
    await letTimePass(1000); // the second the attempts are counted over
    const attempts = subscribeCalls();
    expect(attempts).toBeGreaterThanOrEqual(6);
    expect(attempts).toBeLessThanOrEqual(3 * 12);

    h.simulator.setFault({ mode: 'none' });
    await eventually(() => subs().length === 3, 2000, 'all subscribed again');
    await eventually(async () => (await m.list()).every((v) => v.state === 'subscribed' && v.lastError === null && v.nextRetryAt === null), 2000, 'states');
  });

  it('when one extension hangs at the PBX, then the others are subscribed regardless', async () => {
    const real = pbxClient();
    let gate: (() => void) | null = null;
    let hang = false;
    const pbx: PbxApi = {
      ...real,
      crmSubscribe: async (ext, password) => {
        if (hang && ext === '104') await new Promise<void>((r) => (gate = r));
        return real.crmSubscribe(ext, password);
      },
    };
    const { m } = await startManager({ mode, pbx });
    await eventually(() => m.isLeader(), 3000, 'leadership');
    await registerAll(m, ['101', '102', '103', '104']);
    h.simulator.reset();
    hang = true;
    await m.renewAll();
    await eventually(() => subs().join() === '101,102,103', 2000, 'the others subscribed');
    expect(gate).not.toBeNull();
    (gate as unknown as () => void)();
    await eventually(() => subs().length === 4, 2000, '104 subscribed too');
  });

  it('when the stored password is refused by the PBX, then the extension is failed with the reason and not retried in a loop', async () => {
    const { m } = await startManager({ mode, sweepIntervalMs: 50 });
    await eventually(() => m.isLeader(), 3000, 'leadership');
    await registerAll(m, ['105']);
    h.simulator.setExtensionPassword('105', 'changed-on-the-pbx');
    cleanups.push(() => h.simulator.setExtensionPassword('105', pw('105')));
    h.simulator.reset();
    await m.renewAll();
    await eventually(async () => (await m.view('105'))?.state === 'failed', 2000, 'failed');
    expect(await m.view('105')).toMatchObject({
      desired: true,
      state: 'failed',
      lastError: 'The PBX refused crmSubscribe: Invalid extension_password',
      nextRetryAt: null,
    });
    // One refused call, then silence through ~20 sweeps.
    await letTimePass(1000);
    expect(subscribeCalls()).toBe(1);
    // The counts status() reports are refreshed after each outcome is written, in the background.
    const status = await eventuallyValue(() => m.status(), (st) => st.byState.failed === 1, 6000);
    expect(status.byState.failed).toBe(1);

    // Registering the new password fixes it.
    const again = await m.register('105', 'changed-on-the-pbx');
    expect(again).toMatchObject({ ok: true, extension: { state: 'subscribed', lastError: null } });
    expect(subs()).toEqual(['105']);
  });

  it('when an agent signs in and opens a socket, then the extension stays subscribed past the grace and is unsubscribed a grace after the socket closes', async () => {
    const { m } = await startManager({ mode, graceS: 0.4 });
    await eventually(() => m.isLeader(), 3000, 'leadership');
    const c = claims('106');
    await pbxClient().crmSubscribe('106', pw('106')); // what the sign-in route does
    await m.agentSignedIn(c, pw('106'));
    m.socketOpened(c);
    expect(await m.view('106')).toMatchObject({ desired: true, sources: ['agent'], state: 'subscribed' });
    await letTimePass(900); // past the 0.4 s grace: the open socket keeps it subscribed
    expect(subs()).toEqual(['106']);

    const closedAt = Date.now();
    m.socketClosed(c);
    await eventually(() => subs().length === 0, 3000, 'unsubscribed after grace');
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(350);
    await eventually(async () => (await m.view('106'))?.state === 'unsubscribed', 1000, 'state');
    expect(await m.view('106')).toMatchObject({ desired: false, sources: [], lastError: null });

    // The token is still valid: a socket opening again re-subscribes at once.
    m.socketOpened(c);
    await eventually(() => subs().length === 1, 1500, 'subscribed again');
    m.socketClosed(c);
  });

  it('when an agent signs in and never opens a socket, then the sign-in lapses after the grace period', async () => {
    const { m } = await startManager({ mode, graceS: 0.3 });
    await eventually(() => m.isLeader(), 3000, 'leadership');
    await pbxClient().crmSubscribe('107', pw('107'));
    await m.agentSignedIn(claims('107'), pw('107'));
    expect(subs()).toEqual(['107']);
    await eventually(() => subs().length === 0, 3000, 'lapsed');
  });

  it("when an agent's token expires with its socket still open, then the extension is no longer desired", async () => {
    const { m } = await startManager({ mode, graceS: 60 });
    await eventually(() => m.isLeader(), 3000, 'leadership');
    const c = claims('108', 1);
    await pbxClient().crmSubscribe('108', pw('108'));
    await m.agentSignedIn(c, pw('108'));
    m.socketOpened(c);
    await eventually(() => subs().length === 0, 4000, 'unsubscribed at token expiry');
    m.socketClosed(c);
  });

  it('when an operator registration is removed while an agent is on it, then it stays subscribed until the agent leaves', async () => {
    const { m } = await startManager({ mode, graceS: 0.2 });
    await eventually(() => m.isLeader(), 3000, 'leadership');
    await registerAll(m, ['109']);
    const c = claims('109');
    await m.agentSignedIn(c, pw('109'));
    m.socketOpened(c);
    expect(await m.unregister('109')).toMatchObject({ desired: true, sources: ['agent'] });
    expect(await m.unregister('110')).toBeNull();
    await letTimePass(600); // past the 0.2 s grace: the agent keeps it subscribed
    expect(subs()).toEqual(['109']);
    m.socketClosed(c);
    await eventually(() => subs().length === 0, 3000, 'unsubscribed after the agent left');
  });
});

describe('several instances on one Redis', () => {
  it('when two instances run, then only the leader talks to the PBX, and a sign-in on the follower is subscribed within a second', async () => {
    const prefix = uniquePrefix('subs-two');
    // Long sweep: only the pub/sub nudge can make the leader act within a second.
    const a = await startManager({ prefix, instanceId: 'A', graceS: 0.3, sweepIntervalMs: 10_000, leaseTtlMs: 1000 });
    await eventually(() => a.m.isLeader(), 3000, 'A leads');
    const b = await startManager({ prefix, instanceId: 'B', graceS: 0.3, sweepIntervalMs: 10_000, leaseTtlMs: 1000 });
    await letTimePass(300); // B does not take the lease A holds
    expect(b.m.isLeader()).toBe(false);

    await registerAll(b.m, ['101', '102']); // verification calls from B, by design
    const c = claims('103');
    await pbxClient().crmSubscribe('103', pw('103'));
    await b.m.agentSignedIn(c, pw('103'));
    // The sign-in lapses (no socket): the leader unsubscribes it.
    await eventually(() => subs().join() === '101,102', 2000, 'lapsed sign-in unsubscribed');
    // The agent's socket opens on B: A subscribes it again promptly.
    const opened = Date.now();
    b.m.socketOpened(c);
    await eventually(() => subs().join() === '101,102,103', 1000, 'subscribed via the leader');
    expect(Date.now() - opened).toBeLessThan(1000);

    // A PBX restart, then a renewal: A does it all.
    h.simulator.reset();
    await a.m.renewAll();
    await b.m.renewAll(); // a no-op on a follower
    await eventually(() => subs().join() === '101,102,103', 2000, 'renewed');
    expect(a.m.status().reconcileCalls.subscribe).toBeGreaterThanOrEqual(4);
    expect(b.m.status()).toMatchObject({ leader: false, reconcileCalls: { subscribe: 0, unsubscribe: 0 } });
    expect(a.m.status().leader).toBe(true);
    // Both instances see the same shared state.
    expect((await b.m.list()).map((v) => [v.extension, v.state, v.sources.join('+')])).toEqual([
      ['101', 'subscribed', 'admin'],
      ['102', 'subscribed', 'admin'],
      ['103', 'subscribed', 'agent'],
    ]);
    b.m.socketClosed(c);
  });

  it('when the leader loses Redis (as good as dead), then the other takes the lease within the lease time and reconciles everything', async () => {
    const prefix = uniquePrefix('subs-takeover');
    const leaseTtlMs = 1000;
    const a = await startManager({ prefix, instanceId: 'A', leaseTtlMs });
    await eventually(() => a.m.isLeader(), 3000, 'A leads');
    const b = await startManager({ prefix, instanceId: 'B', leaseTtlMs });
    await registerAll(a.m, ['101', '102', '103']);

    h.simulator.reset(); // the PBX forgot everything meanwhile
    const callsBefore = a.m.status().reconcileCalls.subscribe;
    const killedAt = Date.now();
    a.redis?.disconnect();
    await eventually(() => b.m.isLeader(), 3000, 'B takes over');
    const takeover = Date.now() - killedAt;
    expect(takeover).toBeLessThanOrEqual(leaseTtlMs + 400);
    await eventually(() => subs().join() === '101,102,103', 2000, 'B reconciled');
    expect(b.m.status().reconcileCalls.subscribe).toBe(3);
    await eventually(() => !a.m.isLeader(), 1000, 'A stepped down');
    expect(a.m.status().reconcileCalls.subscribe).toBe(callsBefore);
  });

  it('when an instance dies with agent sockets open, then its presence lapses and the extension is unsubscribed a grace later', async () => {
    const prefix = uniquePrefix('subs-presence');
    const a = await startManager({ prefix, instanceId: 'A', graceS: 0.3, presenceTtlMs: 400 });
    await eventually(() => a.m.isLeader(), 3000, 'A leads');
    const b = await startManager({ prefix, instanceId: 'B', graceS: 0.3, presenceTtlMs: 400 });
    const c = claims('104');
    await pbxClient().crmSubscribe('104', pw('104'));
    await b.m.agentSignedIn(c, pw('104'));
    b.m.socketOpened(c);
    await letTimePass(900); // heartbeats keep it desired past the grace
    expect(subs()).toEqual(['104']);
    expect(await a.m.view('104')).toMatchObject({ desired: true, sources: ['agent'] });

    b.redis?.disconnect(); // B dies: no goodbye, no more heartbeats
    const diedAt = Date.now();
    await eventually(() => subs().length === 0, 3000, 'unsubscribed');
    // Not before its last heartbeat lapsed plus the grace period.
    expect(Date.now() - diedAt).toBeGreaterThanOrEqual(300);
  });

  it('when the leader closes gracefully, then it releases the lease and the other takes it at once; subscriptions stay in place', async () => {
    const prefix = uniquePrefix('subs-handover');
    const a = await startManager({ prefix, instanceId: 'A', leaseTtlMs: 10_000 });
    await eventually(() => a.m.isLeader(), 3000, 'A leads');
    const b = await startManager({ prefix, instanceId: 'B', leaseTtlMs: 10_000 });
    await registerAll(a.m, ['101']);
    const unsubscribesBefore = h.simulator.requestCounts().crmUnSubscribe;
    const closedAt = Date.now();
    await a.m.close();
    await eventually(() => b.m.isLeader(), 2000, 'B takes over');
    expect(Date.now() - closedAt).toBeLessThan(2000);
    expect(subs()).toEqual(['101']);
    expect(h.simulator.requestCounts().crmUnSubscribe).toBe(unsubscribesBefore);
  });
});
