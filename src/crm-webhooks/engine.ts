/**
 * The delivery policy, independent of where jobs wait: one attempt of one job, and what happens next
 * (done, retry at a time, or put back because the endpoint already has its share of this instance's
 * attempt slots). Both queues (BullMQ and memory) run jobs through this.
 */
import type { Logger } from '../logger.js';
import type { WebhookSender } from './sender.js';
import { nextDelayMs, type RetryPolicy } from './retry-policy.js';
import { secretKey, signedHeaders } from './signing.js';
import { MAX_ATTEMPTS_KEPT, type DeliveryAttempt, type DeliveryJob, type DeliveryRecord, type DeliveryStore, type EndpointStore } from './types.js';

export type ProcessOutcome =
  | { kind: 'done' }
  /** A failed attempt: the job runs again at `at` with `attempt` attempts made. */
  | { kind: 'retry'; at: number; attempt: number }
  /** Not attempted (the endpoint is at its in-flight limit here, or the instance is closing): run again at `at`, same attempt count. */
  | { kind: 'defer'; at: number };

export interface EngineHooks {
  /** Every attempt made: `succeeded`, `failed` (will retry), `exhausted` (marked failed), `gone` (410, endpoint disabled). */
  onAttempt?(outcome: 'succeeded' | 'failed' | 'exhausted' | 'gone', durationMs: number): void;
}

export interface DeliveryEngineOptions {
  endpoints: EndpointStore;
  deliveries: DeliveryStore;
  sender: WebhookSender;
  policy: RetryPolicy;
  logger: Logger;
  /** How many attempts to one endpoint may run at once on this instance. Default 10. */
  perEndpointConcurrency?: number;
  /** Longest a job is put back for while its endpoint is at its limit (use the attempt timeout). Default 15,000. */
  maxDeferMs?: number;
  hooks?: EngineHooks;
  now?: () => number;
}

export class DeliveryEngine {
  /** Start times of the attempts running per endpoint on this instance. */
  private readonly inFlight = new Map<string, number[]>();
  /** Recent attempt duration per endpoint (moving average): how long until one of its slots frees up. */
  private readonly avgMs = new Map<string, number>();
  private readonly perEndpoint: number;
  private readonly maxDeferMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: DeliveryEngineOptions) {
    this.perEndpoint = Math.max(1, opts.perEndpointConcurrency ?? 10);
    this.maxDeferMs = Math.max(100, opts.maxDeferMs ?? 15_000);
    this.now = opts.now ?? Date.now;
  }

  async process(job: DeliveryJob): Promise<ProcessOutcome> {
    const { endpoints, sender, logger } = this.opts;
    const running = this.inFlight.get(job.endpointId) ?? [];
    if (running.length >= this.perEndpoint) {
      // This endpoint already holds its share of our slots (it is slow or dead): others go first. Come back
      // about when one of its slots should free up (its recent attempt time, or how long the oldest running
      // one has taken so far), so a dead endpoint's backlog waits instead of spinning.
      const oldestAge = this.now() - Math.min(...running);
      const expected = Math.min(this.maxDeferMs, Math.max(100, this.avgMs.get(job.endpointId) ?? 0, oldestAge));
      return { kind: 'defer', at: this.now() + Math.round(expected * (0.5 + Math.random())) };
    }
    // Take the slot before anything is awaited, so concurrent jobs for this endpoint see it.
    const reservedAt = this.now();
    running.push(reservedAt);
    this.inFlight.set(job.endpointId, running);
    const release = () => {
      const i = running.indexOf(reservedAt);
      if (i >= 0) running.splice(i, 1);
      if (running.length === 0 && this.inFlight.get(job.endpointId) === running) this.inFlight.delete(job.endpointId);
    };

    let endpoint;
    let result;
    let startedAt;
    try {
      endpoint = await endpoints.get(job.endpointId);
      if (!endpoint) {
        // Deleted, and its history with it; a dispatcher that listed it just before may have written records
        // for it since, which nothing else would ever remove.
        await this.opts.deliveries.removeEndpoint(job.endpointId);
        return { kind: 'done' };
      }
      if (endpoint.status === 'disabled') {
        const reason = endpoint.disabledReason ?? 'by the bridge';
        await this.finish(job, (r) => {
          r.status = 'failed';
          r.lastError = `endpoint disabled: ${reason}`;
          r.nextAttemptAt = null;
        });
        return { kind: 'done' };
      }
      startedAt = this.now();
      const headers = signedHeaders(secretKey(endpoint.secret), job.eventId, job.body, startedAt);
      result = await sender.send(endpoint.url, headers, job.body);
    } finally {
      release();
    }
    if (result.interrupted) return { kind: 'defer', at: this.now() };
    const prev = this.avgMs.get(job.endpointId);
    this.avgMs.set(job.endpointId, prev === undefined ? result.durationMs : prev * 0.7 + result.durationMs * 0.3);

    const attemptsMade = job.attempt + 1;
    const attempt: DeliveryAttempt = {
      at: new Date(startedAt).toISOString(),
      statusCode: result.statusCode,
      error: result.error,
      durationMs: result.durationMs,
    };

    if (result.ok) {
      this.opts.hooks?.onAttempt?.('succeeded', result.durationMs);
      return this.settle(job, 'succeeded', attempt);
    }

    if (result.statusCode === 410) {
      this.opts.hooks?.onAttempt?.('gone', result.durationMs);
      const now = new Date(this.now()).toISOString();
      await endpoints.update({ ...endpoint, status: 'disabled', disabledReason: 'the endpoint answered 410 Gone', disabledAt: now });
      logger.warn({ endpointId: endpoint.id, eventId: job.eventId }, 'webhook endpoint answered 410 Gone; disabled it');
      return this.settle(job, 'failed', attempt);
    }

    const delay = nextDelayMs(this.opts.policy, attemptsMade, result.retryAfterMs);
    if (delay === null) {
      this.opts.hooks?.onAttempt?.('exhausted', result.durationMs);
      logger.warn({ endpointId: endpoint.id, eventId: job.eventId, attempts: attemptsMade, error: result.error }, 'webhook delivery failed; no retries left');
      return this.settle(job, 'failed', attempt);
    }
    this.opts.hooks?.onAttempt?.('failed', result.durationMs);
    const at = this.now() + delay;
    logger.debug({ endpointId: endpoint.id, eventId: job.eventId, attempt: attemptsMade, error: result.error, retryInMs: delay }, 'webhook attempt failed');
    await this.finish(job, (r) => {
      r.status = 'pending';
      r.nextAttemptAt = new Date(at).toISOString();
    }, attempt);
    return { kind: 'retry', at, attempt: attemptsMade };
  }

  /** Applies an attempt and a status change to the delivery's record, if it is still kept. */
  /** A delivery with no attempt left to make: record the last attempt and the final status. */
  private async settle(job: DeliveryJob, status: 'succeeded' | 'failed', attempt: DeliveryAttempt): Promise<{ kind: 'done' }> {
    await this.finish(job, (r) => {
      r.status = status;
      r.nextAttemptAt = null;
    }, attempt);
    return { kind: 'done' };
  }

  private async finish(job: DeliveryJob, change: (r: DeliveryRecord) => void, attempt?: DeliveryAttempt): Promise<void> {
    const record = await this.opts.deliveries.get(job.endpointId, job.deliveryId);
    if (!record) return;
    if (attempt) {
      record.attempts.push(attempt);
      if (record.attempts.length > MAX_ATTEMPTS_KEPT) record.attempts.splice(0, record.attempts.length - MAX_ATTEMPTS_KEPT);
      record.lastStatusCode = attempt.statusCode;
      record.lastError = attempt.error;
    }
    change(record);
    record.updatedAt = new Date(this.now()).toISOString();
    await this.opts.deliveries.update(record);
  }
}
