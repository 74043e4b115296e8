/**
 * The delivery queue with Redis: BullMQ. One job per delivery (jobId = delivery id, so adding it twice is a
 * no-op), one Worker per instance. The worker runs one attempt per activation through DeliveryEngine; a
 * retry is the same job moved to the delayed set for the time the policy chose (`moveToDelayed` +
 * `DelayedError`), so BullMQ's own backoff is not used for HTTP failures. BullMQ's job lock makes each
 * attempt run on one instance only, and its stalled-job check puts a job whose instance died mid-attempt
 * back in the queue after `lockDurationMs` (+ up to 2 × `stalledIntervalMs`).
 */
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { withTimeout } from '../timeouts.js';
import { closeRedisClient, createRedisClient, dropRedisClient, redisAnswering } from '../store/redis.js';
import type { DeliveryEngine } from './engine.js';
import type { DeliveryJob, DeliveryQueue } from './types.js';

export const QUEUE_NAME = 'webhooks';

export interface BullDeliveryQueueOptions {
  redisUrl: string;
  /** The bridge's key prefix; BullMQ keys become `<prefix>bull:webhooks:…`. */
  prefix: string;
  engine: DeliveryEngine;
  logger: Logger;
  /** Attempts run at once by this instance. Default 50. */
  concurrency?: number;
  /** How long a worker's claim on a running job lasts without renewal. Default 15,000 ms. */
  lockDurationMs?: number;
  /** How often stalled jobs are looked for. Default 7,500 ms: a crashed attempt is re-run within ~30 s. */
  stalledIntervalMs?: number;
  /** On close, how long running attempts may finish before they are cut short (and re-queued). Default 2,000 ms. */
  closeGraceMs?: number;
  /** Called on close after the grace period: aborts attempts still running. */
  abortInFlight: () => Promise<void>;
}

/** What a job keeps after it ends, so a late duplicate enqueue of the same delivery stays a no-op. */
const KEEP_COMPLETED = { age: 24 * 3600, count: 20_000 };
const KEEP_FAILED = { age: 7 * 24 * 3600, count: 20_000 };

export class BullDeliveryQueue implements DeliveryQueue {
  private readonly queueRedis: Redis;
  private readonly workerRedis: Redis;
  private readonly queue: Queue<DeliveryJob>;
  private readonly worker: Worker<DeliveryJob>;

  constructor(private readonly opts: BullDeliveryQueueOptions) {
    const bullPrefix = `${opts.prefix}bull`;
    this.queueRedis = createRedisClient(opts.redisUrl, 'bridge-webhooks-queue');
    this.workerRedis = createRedisClient(opts.redisUrl, 'bridge-webhooks-worker', { maxRetriesPerRequest: null });
    this.queueRedis.on('error', () => undefined);
    this.workerRedis.on('error', () => undefined);
    this.queue = new Queue<DeliveryJob>(QUEUE_NAME, {
      connection: this.queueRedis,
      prefix: bullPrefix,
      defaultJobOptions: {
        removeOnComplete: KEEP_COMPLETED,
        removeOnFail: KEEP_FAILED,
        // Only for unexpected errors (e.g. Redis unreachable while recording an attempt); HTTP failures are
        // scheduled by the engine and never reach BullMQ's retry logic.
        attempts: 50,
        backoff: { type: 'fixed', delay: 5000 },
      },
    });
    this.queue.on('error', (err) => opts.logger.warn({ err: err.message }, 'webhook queue error'));
    const lockDuration = opts.lockDurationMs ?? 15_000;
    this.worker = new Worker<DeliveryJob>(QUEUE_NAME, (job, token) => this.process(job, token), {
      connection: this.workerRedis,
      prefix: bullPrefix,
      concurrency: opts.concurrency ?? 50,
      lockDuration,
      stalledInterval: opts.stalledIntervalMs ?? Math.max(500, Math.floor(lockDuration / 2)),
      // A job whose instance keeps dying mid-attempt is still retried, not failed after one stall.
      maxStalledCount: 20,
    });
    this.worker.on('error', (err) => opts.logger.warn({ err: err.message }, 'webhook worker error'));
    this.worker.on('failed', (job, err) => {
      if (job) opts.logger.warn({ jobId: job.id, err: err.message, attemptsMade: job.attemptsMade }, 'webhook job failed unexpectedly');
    });
  }

  private async process(job: Job<DeliveryJob>, token: string | undefined): Promise<void> {
    const out = await this.opts.engine.process(job.data);
    if (out.kind === 'done') return;
    if (out.kind === 'retry') await job.updateData({ ...job.data, attempt: out.attempt });
    await job.moveToDelayed(Math.max(out.at, Date.now()), token);
    throw new DelayedError();
  }

  async enqueue(jobs: DeliveryJob[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.queue.addBulk(jobs.map((data) => ({ name: 'deliver', data, opts: { jobId: data.jobId } })));
  }

  /** Resolves once the worker is running (its connection is ready). */
  async ready(): Promise<void> {
    await this.worker.waitUntilReady();
    await this.queue.waitUntilReady();
  }

  /**
   * Lets running attempts finish for the grace period, then aborts them (they are re-queued). With Redis
   * unreachable BullMQ's graceful close waits for its blocked reads for ever, so the connections are dropped
   * and the close forced; a close still unanswered after the grace and CLOSE_AFTER_ABORT_MS is abandoned the
   * same way. A job running then keeps its lock until it runs out, and the stalled-job check re-queues it.
   */
  async close(): Promise<void> {
    const graceMs = this.opts.closeGraceMs ?? 2000;
    // The queue's connection fails fast, so it also tells a hung Redis (the worker's blocking one cannot).
    const redisDown = !redisAnswering(this.workerRedis) || !redisAnswering(this.queueRedis);
    if (redisDown) {
      // Nothing can be recorded anyway: dropping the connections fails the worker's queued reads, so it stops.
      dropRedisClient(this.workerRedis);
      dropRedisClient(this.queueRedis);
    }
    const closing = this.worker.close(redisDown);
    let graceTimer: NodeJS.Timeout | undefined;
    let giveUpTimer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      closing.then(() => 'closed' as const),
      new Promise<'abandoned'>((resolve) => {
        graceTimer = setTimeout(() => {
          void this.opts.abortInFlight();
          giveUpTimer = setTimeout(() => resolve('abandoned'), CLOSE_AFTER_ABORT_MS);
        }, graceMs);
      }),
    ]).finally(() => {
      clearTimeout(graceTimer);
      clearTimeout(giveUpTimer);
    });
    if (outcome === 'abandoned') {
      this.opts.logger.warn({ redis: this.workerRedis.status }, 'webhook worker did not close in time; its Redis connections are dropped');
      closing.catch(() => undefined);
    }
    let queueClosed = false;
    const queueClosing = this.queue.close().then(() => (queueClosed = true));
    queueClosing.catch(() => undefined);
    // With Redis hung (not yet refused by the connection) the queue's close waits on it: bounded as well.
    if (outcome === 'closed' && !redisDown) await withTimeout(queueClosing, CLOSE_AFTER_ABORT_MS, 'Redis').catch(() => undefined);
    if (outcome === 'abandoned' || !queueClosed) {
      dropRedisClient(this.workerRedis);
      dropRedisClient(this.queueRedis);
      return;
    }
    await closeRedisClient(this.workerRedis);
    await closeRedisClient(this.queueRedis);
  }
}

/** How long a worker's close may take once running attempts were aborted, before it is abandoned. */
const CLOSE_AFTER_ABORT_MS = 1000;
