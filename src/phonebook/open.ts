/**
 * One instance's phonebook: the service, with Redis the bus that tells the other instances about contacts
 * created from the pop (docs/phonebook.md), its metrics and its /readyz field. The first load is the
 * caller's to start (the bridge starts it once it listens).
 */
import type { Registry } from 'prom-client';
import type { CallerDirectory } from '../core/call-events.js';
import type { CountryCode } from '../core/phone-number.js';
import type { KeyValueStore, Lock, PbxApi } from '../core/ports.js';
import type { Logger } from '../logger.js';
import type { ReadinessPart } from '../ops/readiness.js';
import type { SharedRedis } from '../stores.js';
import { createRedisClient } from '../store/redis.js';
import { RedisAddedContactsBus } from './added-bus.js';
import { phonebookReadiness, registerPhonebookMetrics } from './metrics.js';
import { PhonebookService } from './service.js';

export interface Phonebook {
  service: PhonebookService;
  /** What the callback path looks callers up in (counted: hits and misses). */
  directory: CallerDirectory;
  readiness: ReadinessPart;
  close(): Promise<void>;
}

export async function openPhonebook(o: {
  pbx: PbxApi;
  kv: KeyValueStore;
  lock: Lock;
  redis: SharedRedis | null;
  country: CountryCode;
  refreshIntervalMs: number;
  logger: Logger;
  registry: Registry;
}): Promise<Phonebook> {
  const bus = o.redis
    ? new RedisAddedContactsBus(o.redis.client, createRedisClient(o.redis.url, 'bridge-phonebook-added', { maxRetriesPerRequest: null }), o.redis.prefix, o.logger)
    : null;
  try {
    await bus?.start();
  } catch (err) {
    await bus?.close();
    throw err;
  }
  const service = new PhonebookService({
    pbx: o.pbx,
    kv: o.kv,
    lock: o.lock,
    country: o.country,
    refreshIntervalMs: o.refreshIntervalMs,
    logger: o.logger,
    // One process alone has nobody to share the snapshot with.
    shareSnapshot: o.redis !== null,
    ...(bus ? { bus } : {}),
  });
  return {
    service,
    directory: registerPhonebookMetrics(o.registry, service),
    readiness: phonebookReadiness(service),
    async close() {
      await service.close();
      await bus?.close();
    },
  };
}
