/**
 * CRM webhooks for one bridge instance: endpoint registration, delivery history, the dispatcher that turns
 * log events into delivery jobs, and the queue that runs them (BullMQ with Redis, timers without).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { EventType } from '../core/event.js';
import type { EventLog, KeyValueStore, Lock } from '../core/ports.js';
import type { Logger } from '../logger.js';
import { withTimeout } from '../timeouts.js';
import { BullDeliveryQueue } from './bullmq-queue.js';
import { WebhookDispatcher, type SharedLaterSignal, type SharedLogReader } from './dispatcher.js';
import { DeliveryEngine } from './engine.js';
import { MemoryDeliveryQueue } from './memory-queue.js';
import { WebhookSender } from './sender.js';
import { generateSecret } from './signing.js';
import { checkWebhookUrl, type Resolver, type UrlCheck } from './ssrf.js';
import { MemoryDeliveryStore, MemoryEndpointStore, RedisDeliveryStore, RedisEndpointStore } from './stores.js';
import {
  type DeliveryQueue,
  type DeliveryRecord,
  type DeliveryStatus,
  type DeliveryStore,
  type EndpointStore,
  type PublicDelivery,
  type PublicEndpoint,
  publicDelivery,
  publicEndpoint,
} from './types.js';

export interface WebhookServiceOptions {
  logger: Logger;
  eventLog: EventLog;
  /** The shared stream itself (with Redis), which the dispatcher reads (dispatcher.ts says why). */
  sharedLog?: SharedLogReader | null;
  /** The resilient log's signal that its outage events reached the shared stream (wakes the dispatcher). */
  sharedLater?: SharedLaterSignal | null;
  kv: KeyValueStore;
  lock: Lock;
  /** The bridge's command connection (borrowed), or null for the in-memory mode. */
  redis: Redis | null;
  /** Needed with `redis`: BullMQ gets connections of its own. */
  redisUrl: string | null;
  prefix: string;
  allowPrivate: boolean;
  retryScheduleS: number[];
  timeoutMs: number;
  /** Where delivery metrics go; none when absent. */
  registry?: Registry;
  /** Attempts at once per instance. Default 50. */
  concurrency?: number;
  /** Attempts at once to one endpoint per instance. Default 10. */
  perEndpointConcurrency?: number;
  /** BullMQ job lock; a crashed attempt is re-run after about this plus two stalled intervals. Default 15,000. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Dispatcher lock lifetime (failover time). Default 10,000. */
  dispatchLockTtlMs?: number;
  maxDeliveriesPerEndpoint?: number;
  /** Replaces DNS resolution (registration and connect time), for tests. */
  resolve?: Resolver;
  /** How long registration waits for DNS. Default REGISTRATION_LOOKUP_TIMEOUT_MS (src/crm-webhooks/ssrf.ts). */
  lookupTimeoutMs?: number;
}

export type CreateEndpointResult =
  | { ok: true; id: string; secret: string; endpoint: PublicEndpoint }
  | { ok: false; reason: Exclude<UrlCheck, { ok: true }>['reason']; message: string };

export type RetryResult = { ok: true; delivery: PublicDelivery } | { ok: false; reason: 'not_found' | 'not_failed' | 'endpoint_disabled' };

export interface WebhookService {
  createEndpoint(input: { url: string; events?: EventType[] | null; description?: string | null }): Promise<CreateEndpointResult>;
  listEndpoints(): Promise<PublicEndpoint[]>;
  getEndpoint(id: string): Promise<PublicEndpoint | null>;
  deleteEndpoint(id: string): Promise<boolean>;
  /** Re-enables an endpoint disabled by a 410; null when there is no such endpoint. */
  enableEndpoint(id: string): Promise<PublicEndpoint | null>;
  listDeliveries(endpointId: string, status: DeliveryStatus | null, limit: number): Promise<PublicDelivery[] | null>;
  retryDelivery(endpointId: string, deliveryId: string): Promise<RetryResult>;
  /** Resolves when the dispatcher has enqueued everything it has seen (tests, benchmarks). */
  idle(): Promise<void>;
  readonly mode: 'redis' | 'memory';
  close(): Promise<void>;
}

export async function startWebhookService(opts: WebhookServiceOptions): Promise<WebhookService> {
  const { logger } = opts;
  const log = logger.child({ component: 'crm-webhooks' });
  let deliveries: DeliveryStore;
  let endpoints: EndpointStore;
  if (opts.redis) {
    deliveries = new RedisDeliveryStore(opts.redis, opts.prefix, opts.maxDeliveriesPerEndpoint);
    endpoints = new RedisEndpointStore(opts.redis, opts.prefix, deliveries);
  } else {
    deliveries = new MemoryDeliveryStore(opts.maxDeliveriesPerEndpoint);
    endpoints = new MemoryEndpointStore(deliveries);
  }

  let attemptsCounter: Counter<'outcome'> | null = null;
  let attemptSeconds: Histogram | null = null;
  if (opts.registry) {
    attemptsCounter = new Counter({
      name: 'bridge_webhook_attempts_total',
      help: 'CRM webhook delivery attempts by outcome (succeeded, failed: will retry, exhausted: marked failed, gone: 410)',
      labelNames: ['outcome'],
      registers: [opts.registry],
    });
    attemptSeconds = new Histogram({
      name: 'bridge_webhook_attempt_seconds',
      help: 'Duration of CRM webhook delivery attempts',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
      registers: [opts.registry],
    });
  }

  const sender = new WebhookSender({ timeoutMs: opts.timeoutMs, allowPrivate: opts.allowPrivate, resolve: opts.resolve });
  const engine = new DeliveryEngine({
    endpoints,
    deliveries,
    sender,
    policy: { scheduleS: opts.retryScheduleS },
    logger: log,
    perEndpointConcurrency: opts.perEndpointConcurrency,
    maxDeferMs: opts.timeoutMs,
    hooks: {
      onAttempt(outcome, durationMs) {
        attemptsCounter?.inc({ outcome });
        attemptSeconds?.observe(durationMs / 1000);
      },
    },
  });

  let queue: DeliveryQueue;
  if (opts.redis) {
    if (!opts.redisUrl) throw new Error('redisUrl is required with redis');
    const bull = new BullDeliveryQueue({
      redisUrl: opts.redisUrl,
      prefix: opts.prefix,
      engine,
      logger: log,
      concurrency: opts.concurrency,
      lockDurationMs: opts.lockDurationMs,
      stalledIntervalMs: opts.stalledIntervalMs,
      abortInFlight: () => sender.abortInFlight(),
    });
    queue = bull;
    try {
      await bull.ready();
    } catch (err) {
      await bull.close().catch(() => undefined);
      await sender.close();
      throw err;
    }
  } else {
    queue = new MemoryDeliveryQueue(engine, log, opts.concurrency);
  }

  const dispatcher = new WebhookDispatcher({
    eventLog: opts.eventLog,
    sharedLog: opts.sharedLog ?? null,
    sharedLater: opts.sharedLater,
    kv: opts.kv,
    lock: opts.lock,
    endpoints,
    deliveries,
    queue,
    logger: log,
    lockTtlMs: opts.dispatchLockTtlMs,
  });
  await dispatcher.start();

  return {
    mode: opts.redis ? 'redis' : 'memory',

    async createEndpoint(input) {
      const check = await checkWebhookUrl(input.url, { allowPrivate: opts.allowPrivate, resolve: opts.resolve, lookupTimeoutMs: opts.lookupTimeoutMs });
      if (!check.ok) return { ok: false, reason: check.reason, message: check.message };
      const endpoint = {
        id: `ep_${randomBytes(10).toString('hex')}`,
        url: check.url,
        events: input.events && input.events.length > 0 ? [...new Set(input.events)] : null,
        description: input.description ?? null,
        secret: generateSecret(),
        status: 'active' as const,
        disabledReason: null,
        disabledAt: null,
        createdAt: new Date().toISOString(),
      };
      await endpoints.create(endpoint);
      dispatcher.endpointsChanged();
      log.info({ endpointId: endpoint.id, events: endpoint.events }, 'webhook endpoint registered');
      return { ok: true, id: endpoint.id, secret: endpoint.secret, endpoint: publicEndpoint(endpoint) };
    },

    async listEndpoints() {
      return (await endpoints.list()).map(publicEndpoint);
    },

    async getEndpoint(id) {
      const e = await endpoints.get(id);
      return e ? publicEndpoint(e) : null;
    },

    async deleteEndpoint(id) {
      const deleted = await endpoints.delete(id);
      if (deleted) dispatcher.endpointsChanged();
      if (deleted) log.info({ endpointId: id }, 'webhook endpoint removed');
      return deleted;
    },

    async enableEndpoint(id) {
      const e = await endpoints.get(id);
      if (!e) return null;
      const enabled = { ...e, status: 'active' as const, disabledReason: null, disabledAt: null };
      await endpoints.update(enabled);
      dispatcher.endpointsChanged();
      return publicEndpoint(enabled);
    },

    async listDeliveries(endpointId, status, limit) {
      if (!(await endpoints.get(endpointId))) return null;
      return (await deliveries.list(endpointId, status, limit)).map(publicDelivery);
    },

    async retryDelivery(endpointId, deliveryId) {
      const endpoint = await endpoints.get(endpointId);
      const record = endpoint ? await deliveries.get(endpointId, deliveryId) : null;
      if (!endpoint || !record) return { ok: false, reason: 'not_found' };
      if (record.status !== 'failed') return { ok: false, reason: 'not_failed' };
      if (endpoint.status === 'disabled') return { ok: false, reason: 'endpoint_disabled' };
      const now = new Date().toISOString();
      const next: DeliveryRecord = { ...record, status: 'pending', nextAttemptAt: now, manualRetries: record.manualRetries + 1, updatedAt: now };
      // Only one of two concurrent retries wins the failed -> pending change.
      if (!(await deliveries.replaceIfStatus(next, 'failed'))) return { ok: false, reason: 'not_failed' };
      try {
        await queue.enqueue([
          {
            jobId: `${record.id}.r${next.manualRetries}`,
            deliveryId: record.id,
            endpointId,
            eventId: record.eventId,
            body: record.body,
            attempt: 0,
          },
        ]);
      } catch (err) {
        // No job: put the record back as it was, so it can be asked for again (a pending one would wait forever).
        await deliveries.replaceIfStatus(record, 'pending').catch(() => undefined);
        throw err;
      }
      log.info({ endpointId, deliveryId }, 'webhook delivery re-sent on request');
      return { ok: true, delivery: publicDelivery(next) };
    },

    idle: () => dispatcher.idle(),

    async close() {
      // Its last batch waits on Redis: with Redis hung that is for ever, and the queue must still be closed.
      await withTimeout(dispatcher.stop(), DISPATCHER_STOP_MS, 'the webhook dispatcher').catch((err: unknown) =>
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'webhook dispatcher did not stop in time; closing the queue anyway'),
      );
      // Memory mode has nowhere to hand running attempts back to: cut them short now.
      if (!opts.redis) await sender.abortInFlight();
      await queue.close();
      await sender.close();
    },
  };
}

/** How long closing waits for the dispatcher's last batch. */
const DISPATCHER_STOP_MS = 2000;
