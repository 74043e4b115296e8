/**
 * ioredis attaches the failed command's arguments to a Redis error (`err.command.args`), and pino's err
 * serializer prints every enumerable property of a logged error, so a command whose arguments carry a secret
 * could put it in the log. Here a webhook endpoint is stored (HSET with the endpoint's JSON, signing secret
 * included) while Redis refuses the write: the request's error is logged, the `whsec_…` secret is not.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { admin, createHarness, postJson, type Harness } from '../helpers/bridge-harness.js';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../helpers/redis-server.js';

describe('Redis errors in logs', () => {
  let redis: RedisServerHandle;
  let h: Harness;
  let bridge: Bridge;
  let control: Redis;

  beforeAll(async () => {
    // A redis-server of its own: the test changes what the default user may run.
    redis = await startRedisServer();
    control = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await control.connect();
    h = await createHarness();
    bridge = await h.startBridge({ REDIS_URL: redis.url, WEBHOOK_ALLOW_PRIVATE: 'true' }, { redisPrefix: uniquePrefix('redis-error-secrets') });
  });
  afterAll(async () => {
    await control.call('ACL', 'SETUSER', 'default', '+@all').catch(() => undefined);
    control.disconnect();
    await h?.close();
    await redis?.stop();
  });

  it('when storing a webhook endpoint fails in Redis, then the answer is 500 and no log line carries its signing secret', async () => {
    // Writes of endpoints are refused from now on (NOPERM); reads and everything else keep working.
    await control.call('ACL', 'SETUSER', 'default', '-hset');
    const r = await postJson(`${bridge.url}/api/webhooks`, { url: 'http://127.0.0.1:9/hook' }, admin);
    await control.call('ACL', 'SETUSER', 'default', '+@all');
    expect(r.status).toBe(500);
    expect(JSON.stringify(r.body)).not.toContain('whsec_');
    expect(h.logs.text()).toContain('unhandled error in request');
    expect(h.logs.text()).not.toContain('whsec_');
  });
});
