/**
 * One tail loop over a Redis Stream: `XREAD BLOCK … STREAMS key <lastSeenId>`, always continuing from the
 * last id it saw (never `$`), so nothing appended between two reads is skipped. While Redis is unreachable it
 * backs off (doubling, capped), logs once per outage, and resumes from the same id.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { compareEventIds } from '../core/event.js';
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
  /**
   * The newest id everything up to which was handed on already (by someone else: the appends that deliver
   * their own entries). The next read starts after it when it is ahead of the tail, instead of reading those
   * entries back only to skip them.
   */
  deliveredUpTo?: () => string | null;
  /**
   * Pause after a read that brought entries (and not a full batch) before reading again: at a high append
   * rate the blocked read would otherwise be woken once per append, mostly for this instance's own entries,
   * which their appends deliver already. Entries of other instances wait at most this much longer; a full
   * batch (catching up) is followed at once. Default 0 (read again at once).
   */
  readPauseMs?: number;
}

export class RedisStreamTail {
  private startPromise: Promise<void> | null = null;
  private loopDone: Promise<void> | null = null;
  private stopped = false;
  private lastSeenId: string | null = null;
  /** The subscriber connection's CLIENT ID, so stop() can CLIENT UNBLOCK its pending XREAD. */
  private blockedClientId: number | null = null;
  /** The subscriber connection's CLIENT ID, asked once per connection (forgotten when it closes). */
  private knownClientId: number | null = null;
  private readonly forgetClientId = (): void => {
    this.knownClientId = null;
  };
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
    // A reconnected connection has a new id (the old one would unblock nothing).
    this.opts.subscriberRedis.on('close', this.forgetClientId);
    while (!this.stopped) {
      try {
        if (this.lastSeenId === null) {
          this.lastSeenId = await this.streamEnd();
          this.opts.onPositioned?.(this.lastSeenId);
          positioned();
          this.recovered();
        } else {
          const read = await this.readBatch(this.resumeAfter(this.lastSeenId));
          this.recovered();
          const pause = this.opts.readPauseMs ?? 0;
          if (read > 0 && read < this.batchSize && pause > 0 && !this.stopped) await this.sleep(pause);
        }
        delay = this.opts.retryMinMs;
      } catch (err) {
        if (this.stopped) break;
        this.failed(err);
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.opts.retryMaxMs);
      }
    }
    this.opts.subscriberRedis.off('close', this.forgetClientId);
    positioned(); // a stop before the position was known still settles start()
  }

  /** Where the next read starts: after the tail's own position, or after what was handed on already. */
  private resumeAfter(lastSeenId: string): string {
    const delivered = this.opts.deliveredUpTo?.() ?? null;
    if (delivered !== null && compareEventIds(delivered, lastSeenId) > 0) {
      this.lastSeenId = delivered;
      return delivered;
    }
    return lastSeenId;
  }

  private async streamEnd(): Promise<string> {
    try {
      return parseStreamInfo(await this.opts.redis.xinfo('STREAM', this.opts.streamKey)).lastGeneratedId;
    } catch (err) {
      if (isNoSuchKey(err)) return '0-0';
      throw err;
    }
  }

  private get batchSize(): number {
    return this.opts.batchSize ?? 2000;
  }

  /** One read; answers how many entries it brought. */
  private async readBatch(afterId: string): Promise<number> {
    const sub = this.opts.subscriberRedis;
    // Sent back to back on the same connection: the id reply arrives before the XREAD starts blocking.
    const clientId = this.knownClientId === null ? sub.client('ID') : null;
    const read = sub.xread('COUNT', this.batchSize, 'BLOCK', this.opts.blockMs, 'STREAMS', this.opts.streamKey, afterId);
    if (clientId) {
      clientId.then(
        (id) => (this.blockedClientId = this.knownClientId = id),
        () => undefined,
      );
    } else {
      this.blockedClientId = this.knownClientId;
    }
    try {
      const reply = await read;
      let count = 0;
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          this.lastSeenId = id;
          this.opts.onEntry(id, fields);
          count++;
        }
      }
      return count;
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
