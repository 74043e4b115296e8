/**
 * The bridge's state: key-value store, lock and event log, in Redis (several instances) or in memory (one),
 * with the Redis connections they run on, their metrics and their /readyz fields.
 */
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { EventLog, KeyValueStore, Lock } from './core/ports.js';
import type { Logger } from './logger.js';
import { MemoryEventLog } from './events/memory-event-log.js';
import { RedisEventLog } from './events/redis-event-log.js';
import { ResilientEventLog } from './events/resilient-event-log.js';
import { registerResilientLogMetrics, resilientLogReadiness } from './events/resilient-metrics.js';
import { addGauge } from './metrics.js';
import type { ReadinessPart, ReadinessReport } from './ops/readiness.js';
import { MemoryKeyValueStore, MemoryLock } from './store/memory.js';
import { closeRedisClient, createRedisClient, dropRedisClient, RedisKeyValueStore, RedisLock, redisAnswering } from './store/redis.js';

/** The shared Redis: the command connection (borrowed by every module), its URL for modules' own pub/sub connections, the key prefix. */
export interface SharedRedis {
  client: Redis;
  url: string;
  prefix: string;
}

export interface Stores extends ReadinessPart {
  kv: KeyValueStore;
  lock: Lock;
  eventLog: EventLog;
  redis: SharedRedis | null;
  /** The Redis event log with its outage mode (tells when an outage's events are shared); null in memory mode. */
  resilient: ResilientEventLog | null;
  /** The Redis stream itself, without the outage stand-in, for readers that must see only what is shared (the webhook dispatcher); null in memory mode. */
  shared: RedisEventLog | null;
  /** Whether the command connection can be used now (always in memory mode). */
  available(): boolean;
  close(): Promise<void>;
}

export interface StoresOptions {
  /** REDIS_URL; null: memory. */
  redisUrl: string | null;
  prefix: string;
  /** This process's id: tags the events it appends, so it recognises them when the stream gives them back. */
  instanceId: string;
  logger: Logger;
  registry: Registry;
}

export async function openStores(o: StoresOptions): Promise<Stores> {
  if (!o.redisUrl) {
    // Ids start at the start time, so they keep growing across a restart (src/events/memory-event-log.ts).
    const eventLog = new MemoryEventLog({ logger: o.logger, epoch: Date.now() });
    return {
      kv: new MemoryKeyValueStore(),
      lock: new MemoryLock(),
      eventLog,
      redis: null,
      resilient: null,
      shared: null,
      available: () => true,
      readiness: () => ({ fields: { redis: 'not_configured', eventLog: 'memory' } }),
      close: () => eventLog.close(),
    };
  }
  const { logger, prefix } = o;
  // Commands issued in the same tick (appends, records, counters of concurrent callbacks) share one write.
  const redis = createRedisClient(o.redisUrl, 'bridge-commands', { enableAutoPipelining: true });
  const tail = createRedisClient(o.redisUrl, 'bridge-event-tail', { maxRetriesPerRequest: null });
  let redisDown = false;
  redis.on('error', (err: Error) => {
    if (!redisDown) logger.warn({ err: err.message }, 'Redis connection error');
    redisDown = true;
  });
  redis.on('ready', () => {
    if (redisDown) logger.info('Redis connection restored');
    redisDown = false;
  });
  tail.on('error', () => undefined);
  const shared = new RedisEventLog({ redis, subscriberRedis: tail, prefix, logger });
  // While Redis is unreachable it accepts events locally and shares them when Redis is back (docs/operations.md: "Redis is unreachable").
  const eventLog = new ResilientEventLog({ inner: shared, redis, logger, instanceId: o.instanceId });
  await eventLog.start();
  const available = () => redis.status === 'ready';
  addGauge(o.registry, 'bridge_redis_up', '1 while the Redis command connection is ready', () => (available() ? 1 : 0));
  registerResilientLogMetrics(o.registry, eventLog);
  return {
    kv: new RedisKeyValueStore(redis, prefix),
    lock: new RedisLock(redis, prefix),
    eventLog,
    redis: { client: redis, url: o.redisUrl, prefix },
    resilient: eventLog,
    shared,
    available,
    readiness(): ReadinessReport {
      const log = resilientLogReadiness(eventLog);
      const up = available();
      return { fields: { redis: up ? 'ok' : 'unreachable', ...log.fields }, reasons: [...(up ? [] : ['Redis is unreachable']), ...(log.reasons ?? [])] };
    },
    async close() {
      await eventLog.close();
      // With Redis unreachable the tail's reads wait in the connections' queues: dropping both ends them now,
      // where stopping the tail first would wait out its block time and more.
      if (tail.status !== 'ready' || !redisAnswering(redis)) {
        dropRedisClient(tail);
        dropRedisClient(redis);
      }
      await shared.close();
      tail.disconnect();
      await closeRedisClient(redis);
    },
  };
}
