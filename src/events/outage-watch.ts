/**
 * Whether the resilient event log is in a Redis outage: since when, logged once each way, and while it lasts
 * a timer (besides the connection's `ready` event) that asks whether Redis is back.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

export interface OutageWatchOptions {
  /** The command connection: its status says whether Redis is reachable. */
  redis: Redis;
  logger: Logger;
  retryIntervalMs: number;
  now: () => number;
  /** Redis may be back (the connection is ready): try to share what waits. */
  onMaybeBack: () => void;
}

export class OutageWatch {
  private startedAt: number | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly o: OutageWatchOptions) {
    o.redis.on('close', this.onConnectionLost);
    o.redis.on('ready', this.onConnectionReady);
  }

  /** When the outage began (ms), or null when there is none. */
  get since(): number | null {
    return this.startedAt;
  }

  enter(err: unknown): void {
    if (this.startedAt === null) {
      this.startedAt = this.o.now();
      this.o.logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'Redis is unreachable: the event log is degraded; callbacks are accepted and sent to this instance\'s agents only, and shared when Redis is back',
      );
    }
    if (!this.retryTimer && !this.closed) {
      this.retryTimer = setInterval(() => {
        if (this.o.redis.status === 'ready') this.o.onMaybeBack();
      }, this.o.retryIntervalMs);
      this.retryTimer.unref();
    }
  }

  /** Ends the outage; `summary` goes with the log line. */
  exit(summary: Record<string, unknown>): void {
    const since = this.startedAt ?? this.o.now();
    this.startedAt = null;
    this.stopRetrying();
    this.o.logger.info({ degradedForMs: this.o.now() - since, ...summary }, 'Redis is reachable again: the event log is shared again');
  }

  close(): void {
    this.closed = true;
    this.stopRetrying();
    this.o.redis.off('close', this.onConnectionLost);
    this.o.redis.off('ready', this.onConnectionReady);
  }

  private readonly onConnectionLost = (): void => {
    if (!this.closed) this.enter(new Error('connection to Redis closed'));
  };

  private readonly onConnectionReady = (): void => {
    if (!this.closed && this.startedAt !== null) this.o.onMaybeBack();
  };

  private stopRetrying(): void {
    if (this.retryTimer) clearInterval(this.retryTimer);
    this.retryTimer = null;
  }
}
