/**
 * The webhook dispatcher reads the shared event log (the Redis stream), never the resilient log's local stand-in.
 *
 * When a replay read gets no answer within its timeout, the resilient log serves it from this instance's ring
 * of recent events, which only vouches for what this instance saw (from its start on). An answer from there
 * that says "incomplete" reads, to the dispatcher, like a stream trimmed past its cursor: it used to enqueue the
 * ring's events and move its cursor past the ones it never read, which are still in the stream and were never
 * delivered. Here Redis is made slow (CLIENT PAUSE, on a redis-server of the test's own) right after the
 * dispatcher read its cursor, on an instance that started after three events it has to dispatch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import type { NewCallEvent, StoredEvent } from '../../src/core/event.js';
import type { KeyValueStore } from '../../src/core/ports.js';
import { CURSOR_KEY, WebhookDispatcher } from '../../src/crm-webhooks/dispatcher.js';
import { MemoryDeliveryStore, MemoryEndpointStore } from '../../src/crm-webhooks/stores.js';
import type { DeliveryJob, DeliveryQueue } from '../../src/crm-webhooks/types.js';
import { RedisEventLog } from '../../src/events/redis-event-log.js';
import { ResilientEventLog } from '../../src/events/resilient-event-log.js';
import { MemoryLock } from '../../src/store/memory.js';
import { createRedisClient, RedisKeyValueStore } from '../../src/store/redis.js';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';

const logger = pino({ level: 'silent' });

function ringing(n: number): NewCallEvent {
  return {
    type: 'call.ringing',
    timestamp: new Date().toISOString(),
    data: {
      extension: '101',
      call: { id: `c-${n}`, from: '+919824740472', fromRaw: '+919824740472', fromName: null, to: '101', direction: 'inbound', sessionId: `s-${n}` },
      contact: null,
      otherContacts: [],
      links: {},
    },
  };
}

/** One bridge instance's Redis event log, as src/stores.ts builds it. */
async function instanceLog(url: string, prefix: string, name: string, readTimeoutMs?: number) {
  const commands = createRedisClient(url, `${name}-commands`, { enableAutoPipelining: true });
  const tail = createRedisClient(url, `${name}-tail`, { maxRetriesPerRequest: null });
  commands.on('error', () => undefined);
  tail.on('error', () => undefined);
  const shared = new RedisEventLog({ redis: commands, subscriberRedis: tail, prefix, logger });
  const log = new ResilientEventLog({ inner: shared, redis: commands, logger, instanceId: name, ...(readTimeoutMs ? { readTimeoutMs } : {}) });
  await log.start();
  return {
    commands,
    shared,
    log,
    async close() {
      await log.close(0);
      await shared.close();
      tail.disconnect();
      commands.disconnect();
    },
  };
}

describe('the webhook dispatcher on an instance whose replay read times out', () => {
  let server: RedisServerHandle;
  let control: Redis;
  const closers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    // A server of its own: the test pauses every client of it.
    server = await startRedisServer();
    control = createRedisClient(server.url, 'test-control');
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    control?.disconnect();
    await server?.stop();
  });

  it('when its ring of recent events cannot vouch for the cursor, then no event between the cursor and the ring is skipped', async () => {
    const prefix = uniquePrefix('dispatch-shared');
    // Instance A accepts three events and dies before any dispatcher enqueued them: the cursor is before them.
    const a = await instanceLog(server.url, prefix, 'a');
    closers.push(() => a.close());
    const kvStore = new RedisKeyValueStore(a.commands, prefix);
    const first = await a.log.append(ringing(0), null);
    await kvStore.set(CURSOR_KEY, first.id);
    const missed: string[] = [];
    for (let n = 1; n <= 3; n++) missed.push((await a.log.append(ringing(n), null)).id);

    // Instance B starts after them (its ring vouches for nothing before its start) and sees one more event.
    const b = await instanceLog(server.url, prefix, 'b', 300);
    closers.push(() => b.close());
    const seenByB: StoredEvent[] = [];
    b.log.subscribe((e) => seenByB.push(e));
    const later = (await a.log.append(ringing(4), null)).id;
    await eventually(() => seenByB.some((e) => e.id === later), 5000, 'instance B to see the later event');

    // Redis stalls for a second right after B's dispatcher read its cursor: the replay read times out.
    let paused = false;
    const kv: KeyValueStore = Object.assign(Object.create(kvStore) as KeyValueStore, {
      async get(key: string): Promise<string | null> {
        const value = await kvStore.get(key);
        if (key === CURSOR_KEY && !paused) {
          paused = true;
          await control.client('PAUSE', 1000, 'ALL');
        }
        return value;
      },
    });
    const enqueued: string[] = [];
    const queue: DeliveryQueue = {
      async enqueue(jobs: DeliveryJob[]) {
        for (const j of jobs) enqueued.push(j.eventId);
      },
      async close() {},
    };
    const deliveries = new MemoryDeliveryStore();
    const endpoints = new MemoryEndpointStore(deliveries);
    await endpoints.create({
      id: 'ep_1', url: 'https://crm.example/hook', events: null, description: null, secret: 'whsec_x',
      status: 'active', disabledReason: null, disabledAt: null, createdAt: new Date().toISOString(),
    });
    const dispatcher = new WebhookDispatcher({
      eventLog: b.log, sharedLog: b.shared, kv, lock: new MemoryLock(), endpoints, deliveries, queue, logger, lockTtlMs: 600,
    });
    closers.push(() => dispatcher.stop());
    await dispatcher.start();

    // Every event after the cursor gets its delivery, in order, once Redis answers again.
    await eventually(() => enqueued.includes(later), 10_000, 'the later event to be enqueued');
    await dispatcher.idle();
    expect(enqueued).toEqual([...missed, later]);
  }, 20_000);
});
