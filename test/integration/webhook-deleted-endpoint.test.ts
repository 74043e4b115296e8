/**
 * An endpoint deleted while the dispatcher is enqueueing for it: the dispatcher listed the endpoints, then the
 * admin's DELETE removed the endpoint and its history, then the dispatcher wrote the delivery records (Redis
 * keys `webhooks:deliveries:<id>` and `webhooks:delivery-order:<id>`) for an endpoint that no longer exists.
 * Nothing ever removed those keys. The job of such a delivery finds the endpoint gone: it removes them now.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createLogger } from '../../src/logger.js';
import { WebhookDispatcher } from '../../src/crm-webhooks/dispatcher.js';
import { DeliveryEngine } from '../../src/crm-webhooks/engine.js';
import { MemoryDeliveryQueue } from '../../src/crm-webhooks/memory-queue.js';
import { WebhookSender } from '../../src/crm-webhooks/sender.js';
import { RedisDeliveryStore, RedisEndpointStore } from '../../src/crm-webhooks/stores.js';
import type { DeliveryRecord } from '../../src/crm-webhooks/types.js';
import type { NewCallEvent } from '../../src/core/event.js';
import { MemoryEventLog } from '../../src/events/memory-event-log.js';
import { MemoryKeyValueStore, MemoryLock } from '../../src/store/memory.js';
import { createRedisClient } from '../../src/store/redis.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { startReceiver } from '../helpers/webhook-receiver.js';
import { eventually } from '../helpers/wait.js';

const logger = createLogger('silent');
const clients: Redis[] = [];
afterAll(() => clients.forEach((c) => c.disconnect()));

const ringing = (): NewCallEvent => ({
  type: 'call.ringing',
  timestamp: new Date().toISOString(),
  data: {
    extension: '101',
    call: { id: 'c-1', from: '+919824740472', fromRaw: '+919824740472', fromName: null, to: '101', direction: 'inbound', sessionId: 's-1' },
    contact: null,
    otherContacts: [],
    links: {},
  },
});

describe('a webhook endpoint deleted while deliveries to it are being enqueued', () => {
  it('when its delivery job runs, then no delivery history of the deleted endpoint is left in Redis', async () => {
    const redis = createRedisClient(inject('redisUrl'), 'test-deleted-endpoint');
    clients.push(redis);
    const prefix = uniquePrefix('deleted-endpoint');
    const receiver = await startReceiver();
    let endpoints: RedisEndpointStore | null = null;
    let deleted = false;
    /** The admin's DELETE lands between the dispatcher's listing of the endpoints and its first record. */
    class DeleteFirst extends RedisDeliveryStore {
      override async createIfAbsent(record: DeliveryRecord): Promise<DeliveryRecord | null> {
        if (!deleted && endpoints) {
          deleted = true;
          await endpoints.delete(record.endpointId);
        }
        return super.createIfAbsent(record);
      }
    }
    const deliveries = new DeleteFirst(redis, prefix);
    endpoints = new RedisEndpointStore(redis, prefix, deliveries);
    await endpoints.create({
      id: 'ep_gone', url: receiver.url, events: null, description: null, secret: 'whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdA==',
      status: 'active', disabledReason: null, disabledAt: null, createdAt: new Date().toISOString(),
    });
    const sender = new WebhookSender({ timeoutMs: 1000, allowPrivate: true });
    const engine = new DeliveryEngine({ endpoints, deliveries, sender, policy: { scheduleS: [] }, logger });
    const queue = new MemoryDeliveryQueue(engine, logger);
    const eventLog = new MemoryEventLog();
    const dispatcher = new WebhookDispatcher({ eventLog, kv: new MemoryKeyValueStore(), lock: new MemoryLock(), endpoints, deliveries, queue, logger });
    await dispatcher.start();
    try {
      await eventLog.append(ringing(), null);
      await eventually(() => deleted, 3000, 'the dispatcher to enqueue for the endpoint');
      await dispatcher.idle();
      // The job ran (the endpoint is gone, so nothing is sent); the history it would have shown is gone too.
      await eventually(
        async () => (await redis.exists(`${prefix}webhooks:deliveries:ep_gone`, `${prefix}webhooks:delivery-order:ep_gone`)) === 0,
        3000,
        'the deleted endpoint to have no delivery history in Redis',
      );
      expect(receiver.hits).toHaveLength(0);
    } finally {
      await dispatcher.stop();
      await queue.close();
      await sender.close();
      await eventLog.close();
      await receiver.close();
    }
  });
});
