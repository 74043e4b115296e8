/**
 * One tail loop over a Redis Stream: `XREAD BLOCK … STREAMS key <lastSeenId>`, always continuing from the
 * last id it saw (never `$`), so nothing appended between two reads is skipped. While Redis is unreachable it
 * backs off (doubling, capped), logs once per outage, and resumes from the same id.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { isNoSuchKey, parseStreamInfo } from './redis-stream-info.js';

export interface RedisStreamTailOptions {
  redis: Redis;
  subscriberRedis: Redis;
  streamKey: string;
  logger: Logger;
  blockMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  batchSize?: number;
  onEntry: (id: string, fields: string[]) => void;
  /** Told the id the tail starts after, once it knows it. */
  onPositioned?: (id: string) => void;
}

export class RedisStreamTail {
  private startPromise: Promise<void> | null = null;
  private loopDone: Promise<void> | null = null;
  private stopped = false;
  private lastSeenId: string | null = null;
  /** The subscriber connection's CLIENT ID, so stop() can CLIENT UNBLOCK its pending XREAD. */
  private blockedClientId: number | null = null;
  /** Aborted by stop(): wakes a backoff sleep at once. */
  private readonly stopping = new AbortController();
  private inOutage = false;

  constructor(private readonly opts: RedisStreamTailOptions) {}

  start(): Promise<void> {
    if (!this.startPromise) {
      this.startPromise = new Promise<void>((positioned) => {
        this.loopDone = this.run(positioned);
      });
    }
    return this.startPromise;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    const loopDone = this.loopDone;
    if (!loopDone) return;
    let finished = false;
    void loopDone.then(() => (finished = true));
    // Repeat the unblock: the first one can reach Redis before the XREAD it is meant for.
    const deadline = Date.now() + this.opts.blockMs + 1000;
    while (!finished && Date.now() < deadline) {
      const clientId = this.blockedClientId;
      if (clientId !== null) await this.opts.redis.client('UNBLOCK', clientId).catch(() => undefined);
      await settledWithin(loopDone, 25);
    }
  }

  private async run(positioned: () => void): Promise<void> {
    let delay = this.opts.retryMinMs;
    while (!this.stopped) {
      try {
        if (this.lastSeenId === null) {
          this.lastSeenId = await this.streamEnd();
          this.opts.onPositioned?.(this.lastSeenId);
          positioned();
        } else {
          await this.readBatch(this.lastSeenId);
        }
        this.recovered();
        delay = this.opts.retryMinMs;
      } catch (err) {
        if (this.stopped) break;
        this.failed(err);
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.opts.retryMaxMs);
      }
    }
    positioned(); // a stop before the position was known still settles start()
  }

  private async streamEnd(): Promise<string> {
    try {
      return parseStreamInfo(await this.opts.redis.xinfo('STREAM', this.opts.streamKey)).lastGeneratedId;
    } catch (err) {
      if (isNoSuchKey(err)) return '0-0';
      throw err;
    }
  }

  private async readBatch(afterId: string): Promise<void> {
    const sub = this.opts.subscriberRedis;
    // Sent back to back on the same connection: the id reply arrives before the XREAD starts blocking.
    const clientId = sub.client('ID');
    const read = sub.xread('COUNT', this.opts.batchSize ?? 2000, 'BLOCK', this.opts.blockMs, 'STREAMS', this.opts.streamKey, afterId);
    clientId.then(
      (id) => (this.blockedClientId = id),
      () => undefined,
    );
    try {
      const reply = await read;
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          this.lastSeenId = id;
          this.opts.onEntry(id, fields);
        }
      }
    } finally {
      this.blockedClientId = null;
    }
  }

  private failed(err: unknown): void {
    if (this.inOutage) return;
    this.inOutage = true;
    this.opts.logger.warn({ err, stream: this.opts.streamKey }, 'event log tail cannot read from Redis; retrying with backoff');
  }

  private recovered(): void {
    if (!this.inOutage) return;
    this.inOutage = false;
    this.opts.logger.info({ stream: this.opts.streamKey, lastSeenId: this.lastSeenId }, 'event log tail reads from Redis again');
  }

  /** Backs off for `ms`, or less when stop() is called meanwhile. */
  private async sleep(ms: number): Promise<void> {
    await delay(ms, undefined, { signal: this.stopping.signal }).catch(() => undefined);
  }
}

/** Waits for `p` or `ms`, whichever is first, and leaves no timer behind. */
async function settledWithin(p: Promise<void>, ms: number): Promise<void> {
  const done = new AbortController();
  try {
    await Promise.race([p, delay(ms, undefined, { signal: done.signal }).catch(() => undefined)]);
  } finally {
    done.abort();
  }
}
