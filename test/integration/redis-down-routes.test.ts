/**
 * Every HTTP route while the bridge's Redis is down (a real redis-server, stopped once for the whole file and
 * started again): the routes that need Redis answer `503 unavailable` (STORE_ERR_UNAVAILABLE) with
 * `Retry-After` at once, never 500 and never a hang; the routes that do without it keep their outage answers
 * (docs/operations.md, "Redis is unreachable"); once Redis is back every route gives its normal answer again;
 * and no log line carries a secret or a stack for the outage.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { ERRORS } from '../../src/errors.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { admin, createHarness, login, postJson, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';
import { openAgentSocket, type AgentSocket } from '../helpers/ws-client.js';

const METRICS_TOKEN = 'metrics-token-4b7c1e9d';
const STORE_DOWN = { error: ERRORS.STORE_ERR_UNAVAILABLE.error, message: ERRORS.STORE_ERR_UNAVAILABLE.message };

interface Route {
  method: string;
  path: string;
  who: 'none' | 'agent' | 'logout' | 'admin' | 'metrics';
  body?: unknown;
  /** The answer while Redis is down: 'store' for 503 STORE_ERR_UNAVAILABLE, or the status it keeps. */
  down: 'store' | number;
  /** The status once Redis is back. */
  up: number;
}

describe('every route while Redis is down, and once it is back', () => {
  let redis: RedisServerHandle;
  let dataDir: string;
  let h: Harness;
  let bridge: Bridge;
  const sockets: AgentSocket[] = [];
  const auth: Record<Route['who'], Record<string, string>> = {
    none: {},
    agent: {},
    logout: {},
    admin,
    metrics: { authorization: `Bearer ${METRICS_TOKEN}` },
  };
  let routes: Route[] = [];
  let agentToken = '';

  beforeAll(async () => {
    // Persistence, so that what the routes read before the outage is still there after it.
    dataDir = mkdtempSync(join(tmpdir(), 'redis-down-routes-'));
    redis = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dataDir] });
    h = await createHarness();
    bridge = await h.startBridge({ REDIS_URL: redis.url, WEBHOOK_ALLOW_PRIVATE: 'true', METRICS_TOKEN });

    agentToken = await login(bridge.url, '101', DEMO_EXTENSIONS['101'] ?? '');
    auth.agent = { authorization: `Bearer ${agentToken}` };
    auth.logout = { authorization: `Bearer ${await login(bridge.url, '102', DEMO_EXTENSIONS['102'] ?? '')}` };
    const minted = await postJson(`${bridge.url}/api/tokens`, { extension: '103', role: 'agent', ttlSeconds: 600 }, admin);
    const webhook = await postJson(`${bridge.url}/api/webhooks`, { url: 'http://127.0.0.1:9/hook' }, admin);
    const registered = await fetch(`${bridge.url}/api/extensions/104`, {
      method: 'PUT',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ password: DEMO_EXTENSIONS['104'] }),
    });
    expect([minted.status, webhook.status, registered.status]).toEqual([200, 201, 200]);
    const tokenId = String(minted.body.id);
    const ep = String(webhook.body.id);

    routes = [
      { method: 'GET', path: '/healthz', who: 'none', down: 200, up: 200 },
      { method: 'GET', path: '/readyz', who: 'none', down: 503, up: 200 },
      { method: 'GET', path: '/metrics', who: 'metrics', down: 200, up: 200 },
      { method: 'GET', path: '/openapi.json', who: 'none', down: 200, up: 200 },
      { method: 'GET', path: '/', who: 'none', down: 200, up: 200 },
      { method: 'POST', path: `/pbx/callback?secret=${SECRETS.callbackSecret}`, who: 'none', body: { extension: '101', caller: '5550100', call_id: 'redis-down-1' }, down: 200, up: 200 },
      { method: 'GET', path: '/api/agents/session', who: 'agent', down: 'store', up: 200 },
      { method: 'GET', path: '/api/agents/calls', who: 'agent', down: 'store', up: 200 },
      { method: 'GET', path: '/api/contacts/fields', who: 'agent', down: 'store', up: 200 },
      { method: 'POST', path: '/api/contacts', who: 'agent', body: { firstName: 'Dana', lastName: 'Reyes', phoneNumber: '5550177', customFields: { City: 'Kochi', Company: 'Globex' } }, down: 'store', up: 201 },
      { method: 'POST', path: '/api/agents/login', who: 'none', body: { extension: '105', password: DEMO_EXTENSIONS['105'] }, down: 'store', up: 200 },
      { method: 'POST', path: '/api/agents/logout', who: 'logout', down: 'store', up: 204 },
      // Issuing signs a token and records its id at best: it works without Redis (it cannot be revoked by id).
      { method: 'POST', path: '/api/tokens', who: 'admin', body: { extension: '103', role: 'agent', ttlSeconds: 600 }, down: 200, up: 200 },
      { method: 'DELETE', path: `/api/tokens/${tokenId}`, who: 'admin', down: 'store', up: 204 },
      { method: 'GET', path: '/api/phonebook/lookup?number=5550100', who: 'admin', down: 200, up: 200 },
      // Answers `refreshed: false` with the reason while the snapshot cannot be stored.
      { method: 'POST', path: '/api/phonebook/refresh', who: 'admin', down: 200, up: 200 },
      { method: 'GET', path: '/api/callbacks/recent', who: 'admin', down: 'store', up: 200 },
      { method: 'GET', path: '/api/calls', who: 'admin', down: 'store', up: 200 },
      { method: 'GET', path: '/api/calls/no-such-session', who: 'admin', down: 'store', up: 404 },
      { method: 'GET', path: '/api/extensions', who: 'admin', down: 'store', up: 200 },
      { method: 'PUT', path: '/api/extensions/105', who: 'admin', body: { password: DEMO_EXTENSIONS['105'] }, down: 'store', up: 200 },
      { method: 'DELETE', path: '/api/extensions/104', who: 'admin', down: 'store', up: 200 },
      { method: 'POST', path: '/api/webhooks', who: 'admin', body: { url: 'http://127.0.0.1:9/other' }, down: 'store', up: 201 },
      { method: 'GET', path: '/api/webhooks', who: 'admin', down: 'store', up: 200 },
      { method: 'GET', path: `/api/webhooks/${ep}`, who: 'admin', down: 'store', up: 200 },
      { method: 'POST', path: `/api/webhooks/${ep}/enable`, who: 'admin', down: 'store', up: 200 },
      { method: 'GET', path: `/api/webhooks/${ep}/deliveries`, who: 'admin', down: 'store', up: 200 },
      { method: 'POST', path: `/api/webhooks/${ep}/deliveries/no-such-delivery/retry`, who: 'admin', down: 'store', up: 404 },
      { method: 'DELETE', path: `/api/webhooks/${ep}`, who: 'admin', down: 'store', up: 204 },
    ];
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    // Closing a bridge while its Redis is down waits on BullMQ: start it again if a test left it stopped.
    const stopped = redis && (redis.process.exitCode !== null || redis.process.signalCode !== null);
    if (stopped) await redis.restart().catch(() => undefined);
    await h?.close();
    await redis?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const call = async (r: Route, timeoutMs = 5000) => {
    const res = await fetch(`${bridge.url}${r.path}`, {
      method: r.method,
      headers: { ...auth[r.who], ...(r.body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: r.body === undefined ? undefined : JSON.stringify(r.body),
      // A hang fails the test with the route's name instead of the test's timeout.
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let body: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json')) body = text ? (JSON.parse(text) as unknown) : null;
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
  };
  const name = (r: Route) => `${r.method} ${r.path.split('?')[0] ?? ''}`;

  it('answers 503 unavailable with Retry-After on every route that needs Redis, its outage answer on the others, and the normal answer once Redis is back', async () => {
    const logsBefore = h.logs.lines.length;
    await redis.stop();
    // The store knows it is down once a reconnect has failed; until then a command may wait for it.
    await eventually(async () => (await call(routes.find((r) => r.path === '/api/agents/session') as Route)).status === 503, 10_000, 'the store refusing');

    for (const r of routes) {
      const answer = await call(r);
      if (r.down === 'store') {
        expect([name(r), answer.status, answer.retryAfter, answer.body]).toEqual([name(r), 503, '1', STORE_DOWN]);
      } else {
        expect([name(r), answer.status, answer.status === r.down ? null : answer.body]).toEqual([name(r), r.down, null]);
      }
    }
    // The socket's handshake has its own 503 (WS_ERR_UNAVAILABLE).
    await expect(openAgentSocket(bridge.url, agentToken)).rejects.toThrow(/503/);

    const outageLogs = h.logs.parsed().slice(logsBefore);
    expect(outageLogs.filter((l) => l.msg === 'unhandled error in request')).toEqual([]);
    const refused = outageLogs.filter((l) => l.msg === 'request refused: Redis is unreachable');
    expect(refused.length).toBeGreaterThan(0);
    // At debug, without a stack: the outage is logged once elsewhere.
    for (const line of refused) expect([line.level, typeof line.err]).toEqual([20, 'string']);
    const handshakes = outageLogs.filter((l) => String(l.msg).includes('refusing the websocket'));
    expect(handshakes.map((l) => [l.level, typeof l.err])).toEqual([[20, 'string']]);

    await redis.restart();
    await eventually(async () => (await call(routes[1] as Route)).status === 200, 15_000, '/readyz 200 again');
    for (const r of routes) {
      const answer = await call(r);
      // The body only when the status is not the expected one, to say what went wrong.
      expect([name(r), answer.status, answer.status === r.up ? null : answer.body]).toEqual([name(r), r.up, null]);
    }
    const socket = await openAgentSocket(bridge.url, agentToken);
    sockets.push(socket);
    await socket.waitFor((f) => f.some((x) => x.type === 'ready'));

    const all = h.logs.text();
    for (const secret of [SECRETS.adminApiKey, SECRETS.callbackSecret, SECRETS.sessionSecret, SECRETS.pbxToken, METRICS_TOKEN, agentToken, 'whsec_']) {
      expect(all.includes(secret), 'a secret in the log').toBe(false);
    }
    expect(h.logs.parsed().filter((l) => l.msg === 'unhandled error in request')).toEqual([]);
  }, 60_000);

  it('when Redis hangs (SIGSTOP) instead of going away, then new requests answer 503 once the oldest command has waited the hang limit, and the normal answer once it answers again', async () => {
    const session = routes.find((r) => r.path === '/api/agents/session') as Route;
    const resume = redis.hang();
    try {
      // Sent before the hang is known: it waits for Redis (its command may still run), and is answered then.
      const early = call(session, 30_000);
      // Until the hang is seen, a request waits with the rest: polled with a short abort, which counts as no.
      const refusing = () => call(session, 1000).then((a) => a.status === 503, () => false);
      await eventually(refusing, 10_000, 'the store refusing while Redis hangs');
      const refused = await call(routes.find((r) => r.path === '/api/webhooks') as Route);
      expect([refused.status, refused.retryAfter, refused.body]).toEqual([503, '1', STORE_DOWN]);
      resume();
      expect((await early).status).toBe(200);
      await eventually(async () => (await call(session)).status === 200, 10_000, 'the store answering again');
      expect(h.logs.parsed().filter((l) => l.msg === 'unhandled error in request')).toEqual([]);
    } finally {
      resume();
    }
  }, 60_000);
});
