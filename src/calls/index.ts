/** Builds the call tracker with its state, journal, lease and metrics, in Redis or in memory (docs/calls.md). */
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { CallsConfig } from '../config.js';
import type { CallerDirectory, CallEventOptions } from '../core/call-events.js';
import type { CountryCode } from '../core/phone-number.js';
import type { EventLog, Lock, PbxCallApi } from '../core/ports.js';
import { LeaderLease } from '../lease/leader-lease.js';
import type { Logger } from '../logger.js';
import { readinessDetail, type ReadinessPart } from '../ops/readiness.js';
import { MemoryCallJournal, type CallJournal } from './journal.js';
import { registerTrackerMetrics } from './metrics.js';
import { RedisCallJournal } from './redis-journal.js';
import { RedisCallStateStore } from './redis-store.js';
import { MemoryCallStateStore } from './store.js';
import { CallTracker } from './tracker.js';

export { CallTracker } from './tracker.js';
export type { CallJournal } from './journal.js';

export interface CallsModule {
  tracker: CallTracker;
  journal: CallJournal;
  /** The tracker's status under `calls` in /readyz. */
  readiness: ReadinessPart;
  close(): Promise<void>;
}

export function startCallTracker(deps: {
  config: CallsConfig;
  pbx: PbxCallApi;
  eventLog: EventLog;
  lock: Lock;
  redis: { client: Redis; prefix: string } | null;
  directory: CallerDirectory;
  eventOptions: CallEventOptions;
  country: CountryCode;
  logger: Logger;
  registry: Registry;
  storeAvailable?: () => boolean;
}): CallsModule {
  const store = deps.redis ? new RedisCallStateStore(deps.redis.client, deps.redis.prefix) : new MemoryCallStateStore();
  const journal = deps.redis
    ? new RedisCallJournal(deps.redis.client, deps.redis.prefix, deps.country, deps.config.journalDays)
    : new MemoryCallJournal(deps.country);
  // A lease a few polls long: a dead poller is replaced within about three intervals.
  const lease = new LeaderLease({ lock: deps.lock, name: 'calls-poller', ttlMs: Math.max(1000, deps.config.activeCallsPollMs * 3) });
  let tracker: CallTracker | null = null;
  const metrics = registerTrackerMetrics(deps.registry, () => {
    const s = tracker?.status();
    return { open: s?.open ?? 0, recordingsPending: s?.recordingsPending ?? 0, leader: s?.leader ?? false };
  });
  tracker = new CallTracker({
    store,
    journal,
    eventLog: deps.eventLog,
    pbx: deps.pbx,
    lease,
    directory: deps.directory,
    eventOptions: deps.eventOptions,
    country: deps.country,
    config: deps.config,
    logger: deps.logger,
    metrics,
    ...(deps.storeAvailable ? { storeAvailable: deps.storeAvailable } : {}),
  });
  tracker.start();
  const started = tracker;
  return {
    tracker: started,
    journal,
    readiness: readinessDetail('calls', () => started.status()),
    async close() {
      await started.close();
      await journal.close();
      await store.close();
    },
  };
}
