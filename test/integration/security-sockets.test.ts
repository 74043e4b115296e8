/**
 * Signing out (or revoking a token by id) closes that token's open sockets on every instance, and a token or
 * a process cannot open sockets without bound. Memory mode with one bridge; Redis mode with two bridges on
 * one Redis, the socket on one and the sign-out on the other.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { admin, createHarness, login, postJson, type Harness } from '../helpers/bridge-harness.js';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../helpers/redis-server.js';
import { openAgentSocket, type AgentSocket } from '../helpers/ws-client.js';

const modes = [
  ['memory', () => ({}), 1],
  ['redis', () => ({ REDIS_URL: inject('redisUrl') }), 2],
] as const;

/** Resolves with the close, or fails when the socket is still open after `ms`. */
function closedWithin(s: AgentSocket, ms: number): Promise<{ code: number; reason: string }> {
  return Promise.race([
    s.closed,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms)),
  ]);
}

describe.each(modes)('token revocation in %s mode', (mode, env, instances) => {
  let h: Harness;
  let a: Bridge;
  let b: Bridge;
  const sockets: AgentSocket[] = [];
  const open = async (bridge: Bridge, token: string) => {
    const s = await openAgentSocket(bridge.url, token);
    sockets.push(s);
    await s.waitFor((f) => f.some((x) => x.type === 'ready'));
    return s;
  };

  beforeAll(async () => {
    h = await createHarness();
    const prefix = uniquePrefix(`sec-revoke-${mode}`);
    a = await h.startBridge({ ...env(), LOG_LEVEL: 'warn' }, { redisPrefix: prefix });
    b = instances === 2 ? await h.startBridge({ ...env(), LOG_LEVEL: 'warn' }, { redisPrefix: prefix }) : a;
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await h.close();
  });

  it('when an agent signs out, then every socket of that token closes within 2 s with 4001, on every instance', async () => {
    const token = await login(a.url, '101', DEMO_EXTENSIONS['101'] ?? '');
    const onA = await open(a, token);
    const onB = await open(b, token);
    const other = await open(b, await login(a.url, '102', DEMO_EXTENSIONS['102'] ?? ''));
    const out = await fetch(`${a.url}/api/agents/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(out.status).toBe(204);
    const [closeA, closeB] = await Promise.all([closedWithin(onA, 2000), closedWithin(onB, 2000)]);
    expect(closeA.code).toBe(4001);
    expect(closeB).toEqual({ code: 4001, reason: 'token revoked' });
    expect(other.ws.readyState).toBe(other.ws.OPEN);
    await expect(openAgentSocket(b.url, token)).rejects.toThrow('HTTP 401');
  });

  it('when an admin deletes a minted token by its id, then its sockets close on every instance', async () => {
    const minted = await postJson(`${a.url}/api/tokens`, { extension: '*', role: 'supervisor', ttlSeconds: 30 * 86400 }, admin);
    expect(minted.status).toBe(200);
    const id = String(minted.body.id);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const s = await open(b, String(minted.body.token));
    const del = await fetch(`${a.url}/api/tokens/${id}`, { method: 'DELETE', headers: admin });
    expect(del.status).toBe(204);
    expect((await closedWithin(s, 2000)).code).toBe(4001);
    await expect(openAgentSocket(a.url, String(minted.body.token))).rejects.toThrow('HTTP 401');
  });

  it('when the id is unknown or malformed, or the key is missing, then DELETE /api/tokens/:id answers 404, 400 or 401', async () => {
    const unknown = await fetch(`${a.url}/api/tokens/00000000-0000-4000-8000-000000000000`, { method: 'DELETE', headers: admin });
    expect(unknown.status).toBe(404);
    const malformed = await fetch(`${a.url}/api/tokens/not-an-id`, { method: 'DELETE', headers: admin });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { message: string }).message).toContain('id');
    const noKey = await fetch(`${a.url}/api/tokens/00000000-0000-4000-8000-000000000000`, { method: 'DELETE' });
    expect(noKey.status).toBe(401);
  });
});

// A Redis server of its own: the test cuts every pub/sub connection on it.
describe('token revocation across a cut pub/sub connection', () => {
  let h: Harness;
  let redis: RedisServerHandle;
  let a: Bridge;
  let b: Bridge;
  const sockets: AgentSocket[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    h = await createHarness();
    a = await h.startBridge({ REDIS_URL: redis.url, LOG_LEVEL: 'warn' });
    b = await h.startBridge({ REDIS_URL: redis.url, LOG_LEVEL: 'warn' });
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await h?.close();
    await redis?.stop();
  });

  it('when the revocation message is missed, then the socket still closes once the instance is back on pub/sub', async () => {
    const token = await login(a.url, '103', DEMO_EXTENSIONS['103'] ?? '');
    const s = await openAgentSocket(b.url, token);
    sockets.push(s);
    await s.waitFor((f) => f.some((x) => x.type === 'ready'));
    const admin = new Redis(redis.url);
    try {
      const names = String(await admin.client('LIST'));
      expect(names.split('\n').filter((l) => l.includes('name=bridge-token-revocations')).length).toBe(2);
      // Cut every subscriber, then sign out before they are back (they reconnect after ~100 ms).
      await admin.client('KILL', 'TYPE', 'pubsub');
      const out = await fetch(`${a.url}/api/agents/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      expect(out.status).toBe(204);
      expect((await closedWithin(s, 5000)).code).toBe(4001);
    } finally {
      admin.disconnect();
    }
  });
});

describe.each(modes)('socket caps in %s mode', (mode, env) => {
  let h: Harness;
  let bridge: Bridge;
  let small: Bridge;
  const sockets: AgentSocket[] = [];
  const mint = async (url: string, extension: string) => {
    const r = await postJson(`${url}/api/tokens`, { extension, role: 'agent', ttlSeconds: 600 }, admin);
    return String(r.body.token);
  };
  const open = async (url: string, token: string) => {
    const s = await openAgentSocket(url, token);
    sockets.push(s);
    await s.waitFor((f) => f.some((x) => x.type === 'ready'));
    return s;
  };

  beforeAll(async () => {
    h = await createHarness();
    bridge = await h.startBridge({ ...env(), LOG_LEVEL: 'warn' }, { redisPrefix: uniquePrefix(`sec-caps-${mode}`) });
    small = await h.startBridge({ ...env(), LOG_LEVEL: 'warn', WS_MAX_SOCKETS: '3', WS_MAX_SOCKETS_PER_TOKEN: '2' }, { redisPrefix: uniquePrefix(`sec-caps-small-${mode}`) });
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await h.close();
  });

  it('when one token has 10 sockets open, then the 11th upgrade gets HTTP 429, and a closed one frees its place', async () => {
    const token = await mint(bridge.url, '103');
    const ten = await Promise.all(Array.from({ length: 10 }, () => open(bridge.url, token)));
    await expect(openAgentSocket(bridge.url, token)).rejects.toThrow('HTTP 429');
    // Another token is not affected.
    await open(bridge.url, await mint(bridge.url, '103'));
    ten[0]?.close();
    await ten[0]?.closed;
    await open(bridge.url, token);
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    expect(metrics).toMatch(/bridge_ws_upgrades_refused_total\{limit="token"\} 1/);
  });

  it('when the process has WS_MAX_SOCKETS open, then the next upgrade gets HTTP 503; the per-token cap is configurable', async () => {
    const t1 = await mint(small.url, '104');
    await open(small.url, t1);
    await open(small.url, t1);
    await expect(openAgentSocket(small.url, t1)).rejects.toThrow('HTTP 429');
    await open(small.url, await mint(small.url, '105'));
    await expect(openAgentSocket(small.url, await mint(small.url, '106'))).rejects.toThrow('HTTP 503');
    const metrics = await (await fetch(`${small.url}/metrics`)).text();
    expect(metrics).toMatch(/bridge_ws_upgrades_refused_total\{limit="process"\} 1/);
    expect(metrics).toMatch(/bridge_ws_upgrades_refused_total\{limit="token"\} 1/);
    expect(metrics).toContain('bridge_ws_sockets 3');
  });
});
