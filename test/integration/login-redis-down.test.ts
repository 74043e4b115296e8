/**
 * Sign-in while the bridge's Redis is down: `503 unavailable` (STORE_ERR_UNAVAILABLE) before the PBX is asked,
 * so the extension is not subscribed at the PBX for a sign-in the bridge could not keep; once Redis is back,
 * sign-in works again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { ERRORS } from '../../src/errors.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { admin, createHarness, type Harness } from '../helpers/bridge-harness.js';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';

describe('when an agent signs in while Redis is down', () => {
  let h: Harness;
  let redis: RedisServerHandle;
  let bridge: Bridge;

  beforeAll(async () => {
    redis = await startRedisServer();
    h = await createHarness();
    bridge = await h.startBridge({ REDIS_URL: redis.url }, { redisPrefix: uniquePrefix('login-down') });
  });
  afterAll(async () => {
    await h?.close();
    await redis?.stop();
  });

  const signIn = async (extension: string) => {
    const res = await fetch(`${bridge.url}/api/agents/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ extension, password: DEMO_EXTENSIONS[extension] ?? '' }),
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
  };

  it('then it answers 503 unavailable and the PBX is never asked to subscribe the extension', async () => {
    await redis.stop();
    await eventually(async () => (await fetch(`${bridge.url}/readyz`)).status === 503, 10_000, '/readyz 503');
    const subscribesBefore = h.simulator.requestCounts().crmSubscribe;

    for (const extension of ['101', '102']) {
      const r = await signIn(extension);
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ error: ERRORS.STORE_ERR_UNAVAILABLE.error });
      expect(r.retryAfter).toBe(String(ERRORS.STORE_ERR_UNAVAILABLE.retryAfterS));
    }
    expect(h.simulator.requestCounts().crmSubscribe).toBe(subscribesBefore);
    expect(h.simulator.subscriptions()).not.toContain('101');

    await redis.restart();
    await eventually(async () => (await fetch(`${bridge.url}/readyz`)).status === 200, 10_000, '/readyz 200');
    const back = await signIn('101');
    expect(back.status).toBe(200);
    expect(h.simulator.requestCounts().crmSubscribe).toBeGreaterThan(subscribesBefore);
  }, 30_000);

  it('when Redis hangs (SIGSTOP) instead, then once commands are refused sign-in answers 503 without asking the PBX', async () => {
    const thaw = redis.hang();
    try {
      // Refused at once only after the oldest command has waited the hang time; a request sent before then waits with it.
      const refused = async () => {
        const r = await fetch(`${bridge.url}/api/webhooks`, { headers: admin, signal: AbortSignal.timeout(500) }).catch(() => null);
        return r?.status === 503;
      };
      await eventually(refused, 15_000, 'admin route refused while Redis hangs');
      const subscribesBefore = h.simulator.requestCounts().crmSubscribe;
      const r = await signIn('103');
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ error: ERRORS.STORE_ERR_UNAVAILABLE.error });
      expect(h.simulator.requestCounts().crmSubscribe).toBe(subscribesBefore);
    } finally {
      thaw();
    }
  }, 30_000);
});
