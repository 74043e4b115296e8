/**
 * Builds the subscription manager for one bridge instance: Redis store, lease and pub/sub nudges when Redis
 * is configured (several instances), memory otherwise (one instance).
 */
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Lock, PbxApi } from '../core/ports.js';
import type { Logger } from '../logger.js';
import { createRedisClient } from '../store/redis.js';
import { MemoryNudgeBus, RedisNudgeBus } from './bus.js';
import { CredentialCipher } from './credential-cipher.js';
import { SubscriptionManager, type SubscriptionManagerOptions } from './manager.js';
import { RedisSubscriptionStore } from './redis-store.js';
import { MemorySubscriptionStore } from './store.js';
import { registerSubscriptionMetrics } from './metrics.js';

export { SubscriptionManager } from './manager.js';
export type { ExtensionView, RegisterResult, SubscriptionStatus, SubscriptionManagerOptions, DesireSource } from './manager.js';
export { CredentialCipher, CredentialError } from './credential-cipher.js';
export { backoffCeilingMs, backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
export type { SubscriptionState } from './store.js';

/** Tuning the bridge leaves at its defaults; tests shorten them. */
export type SubscriptionTuning = Pick<
  SubscriptionManagerOptions,
  'leaseTtlMs' | 'presenceTtlMs' | 'sweepIntervalMs' | 'backoff' | 'concurrency' | 'now' | 'random'
>;

export interface StartSubscriptionsOptions extends SubscriptionTuning {
  pbx: PbxApi;
  /** The shared lock (RedisLock with Redis, MemoryLock otherwise). */
  lock: Lock;
  /** With Redis: the shared command connection (borrowed), its URL (for the manager's own pub/sub connection) and the key prefix. */
  redis: { client: Redis; url: string; prefix: string } | null;
  /** CREDENTIALS_KEY: 32 bytes. */
  credentialsKey: Buffer;
  /** UNSUBSCRIBE_GRACE_S */
  graceS: number;
  /** RESUBSCRIBE_INTERVAL_S */
  resubscribeIntervalS: number;
  logger: Logger;
  /** This process's id (presence and nudges), made once per process by whoever starts it. */
  instanceId: string;
  /** Where the manager's gauges are registered; none: not measured. */
  registry?: Registry;
}

/** Creates and starts the manager (first lease attempt included). close() leaves PBX subscriptions in place. */
export async function startSubscriptions(opts: StartSubscriptionsOptions): Promise<SubscriptionManager> {
  const { pbx, lock, redis, credentialsKey, graceS, resubscribeIntervalS, logger, registry, ...tuning } = opts;
  const cipher = new CredentialCipher(credentialsKey);
  const common = { pbx, lock, cipher, logger, graceMs: graceS * 1000, resubscribeIntervalMs: resubscribeIntervalS * 1000, ...tuning };
  let manager: SubscriptionManager;
  if (redis) {
    const subscriber = createRedisClient(redis.url, 'bridge-subscriptions-nudges', { maxRetriesPerRequest: null });
    const bus = new RedisNudgeBus(redis.client, subscriber, redis.prefix, logger);
    try {
      await bus.start();
    } catch (err) {
      await bus.close();
      throw err;
    }
    manager = new SubscriptionManager({ ...common, store: new RedisSubscriptionStore(redis.client, redis.prefix, tuning.now), bus });
  } else {
    manager = new SubscriptionManager({ ...common, store: new MemorySubscriptionStore(tuning.now), bus: new MemoryNudgeBus(logger) });
  }
  await manager.start();
  if (registry) registerSubscriptionMetrics(registry, manager);
  return manager;
}
