/**
 * A manual retry (`POST …/deliveries/:id/retry`) whose job cannot be queued (Redis refuses BullMQ's write) must
 * leave the delivery as it found it, `failed`, so it can be asked for again; it used to stay `pending` with no
 * job behind it: never sent, and every later retry refused with 409 not_failed. Redis refuses the queue's keys
 * only (an ACL on a redis-server of the test's own), so the delivery records can still be read and written.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { admin, createHarness, postJson, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../helpers/redis-server.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';
import { eventuallyValue } from '../helpers/wait.js';

interface Delivery {
  id: string;
  eventId: string;
  status: string;
}

describe('a manual webhook retry that cannot be queued', () => {
  let redis: RedisServerHandle;
  let control: Redis;
  let h: Harness;
  let bridge: Bridge;
  let receiver: Receiver;
  const prefix = uniquePrefix('retry-enqueue');

  beforeAll(async () => {
    redis = await startRedisServer();
    control = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await control.connect();
    receiver = await startReceiver(() => ({ status: 500 }));
    h = await createHarness();
    bridge = await h.startBridge(
      { REDIS_URL: redis.url, WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_SCHEDULE: '0.05', WEBHOOK_TIMEOUT_MS: '500', LOG_LEVEL: 'warn' },
      { redisPrefix: prefix },
    );
  });
  afterAll(async () => {
    await control.call('ACL', 'SETUSER', 'default', 'allkeys').catch(() => undefined);
    control.disconnect();
    await h?.close();
    await receiver?.close();
    await redis?.stop();
  });

  const deliveries = async (endpointId: string): Promise<Delivery[]> => {
    const res = await fetch(`${bridge.url}/api/webhooks/${endpointId}/deliveries`, { headers: admin });
    return ((await res.json()) as { deliveries: Delivery[] }).deliveries;
  };

  it('when Redis refuses the job, then the answer is an error, the delivery is failed still, and a later retry sends it', async () => {
    const reg = await postJson(`${bridge.url}/api/webhooks`, { url: receiver.url }, admin);
    expect(reg.status).toBe(201);
    const endpointId = String(reg.body.id);
    const ringing = await postJson(`${bridge.url}/pbx/callback?secret=${SECRETS.callbackSecret}`, { extension: '101', caller: '+14155550132', call_id: randomUUID() });
    const eventId = String(ringing.body.eventId);
    const [failed] = await eventuallyValue(
      () => deliveries(endpointId),
      (list) => list.some((d) => d.eventId === eventId && d.status === 'failed'),
    );

    // Only the bridge's own keys stay writable: BullMQ's (`<prefix>bull:…`) are refused from now on.
    await control.call('ACL', 'SETUSER', 'default', 'resetkeys', `~${prefix}webhooks:*`, `~${prefix}calls:*`, `~${prefix}events*`, `~${prefix}lock:*`);
    const refused = await postJson(`${bridge.url}/api/webhooks/${endpointId}/deliveries/${failed!.id}/retry`, {}, admin);
    await control.call('ACL', 'SETUSER', 'default', 'allkeys');
    expect(refused.status).toBeGreaterThanOrEqual(500);
    expect((await deliveries(endpointId)).find((d) => d.id === failed!.id)?.status).toBe('failed');

    receiver.answer = () => ({ status: 204 });
    const again = await postJson(`${bridge.url}/api/webhooks/${endpointId}/deliveries/${failed!.id}/retry`, {}, admin);
    expect(again.status).toBe(202);
    await eventuallyValue(
      () => deliveries(endpointId),
      (list) => list.some((d) => d.id === failed!.id && d.status === 'succeeded'),
    );
    // Two attempts on the schedule, then the one retry that could be queued.
    expect(receiver.hitsFor(eventId)).toHaveLength(3);
  }, 20_000);
});
