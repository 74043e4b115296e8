/**
 * Nudges between instances: "look at this extension now" (an intent changed) and "the lease is free" (the
 * leader shut down). With Redis it is pub/sub on a connection of its own; a nudge lost while that connection
 * is down only costs latency, because the leader also sweeps every extension periodically.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

export type Nudge =
  /** Look at `extension` now; `reset` also forgets its backoff (new credentials). */
  | { kind: 'extension'; extension: string; reset: boolean; from: string }
  /** The leader released the lease: followers may take it at once. */
  | { kind: 'released'; from: string };

export interface NudgeBus {
  publish(nudge: Nudge): Promise<void>;
  /** Every nudge published by any instance, this one included. */
  onNudge(listener: (nudge: Nudge) => void): void;
  close(): Promise<void>;
}

export class MemoryNudgeBus implements NudgeBus {
  private readonly listeners: Array<(nudge: Nudge) => void> = [];

  async publish(nudge: Nudge): Promise<void> {
    for (const listener of this.listeners) queueMicrotask(() => listener(nudge));
  }

  onNudge(listener: (nudge: Nudge) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.listeners.length = 0;
  }
}

function parseNudge(text: string): Nudge | null {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null) return null;
    const o = v as Record<string, unknown>;
    if (typeof o.from !== 'string') return null;
    if (o.kind === 'released') return { kind: 'released', from: o.from };
    if (o.kind === 'extension' && typeof o.extension === 'string') {
      return { kind: 'extension', extension: o.extension, reset: o.reset === true, from: o.from };
    }
    return null;
  } catch {
    return null;
  }
}

/**
 * Publishes on the shared command connection; listens on `subscriber`, a connection this bus owns and closes.
 */
export class RedisNudgeBus implements NudgeBus {
  private readonly listeners: Array<(nudge: Nudge) => void> = [];
  private readonly channel: string;
  private started: Promise<void> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    prefix: string,
    private readonly logger: Logger,
  ) {
    this.channel = `${prefix}subs:nudge`;
    subscriber.on('error', () => undefined);
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      const nudge = parseNudge(message);
      if (!nudge) return;
      for (const listener of this.listeners) {
        try {
          listener(nudge);
        } catch (err) {
          this.logger.error({ err }, 'subscription nudge listener threw');
        }
      }
    });
  }

  /** Subscribes (ioredis re-subscribes by itself after a reconnect). */
  start(): Promise<void> {
    this.started ??= this.subscriber.subscribe(this.channel).then(() => undefined);
    return this.started;
  }

  async publish(nudge: Nudge): Promise<void> {
    await this.redis.publish(this.channel, JSON.stringify(nudge));
  }

  onNudge(listener: (nudge: Nudge) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.listeners.length = 0;
    this.subscriber.disconnect();
  }
}
