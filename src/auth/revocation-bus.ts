/**
 * "This token was revoked": told to every instance so each closes the token's open WebSockets at once
 * (docs/security.md). With Redis it is pub/sub on a connection of its own. A message lost while that
 * connection is down is made up for when it is back: listeners are told to re-check every open token
 * (`onResync`), whose revocation is in the shared store anyway.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

export interface RevocationBus {
  publish(jti: string): Promise<void>;
  /** Every revocation published by any instance, this one included. */
  onRevoked(listener: (jti: string) => void): void;
  /** Called after the bus reconnected: messages may have been missed. */
  onResync(listener: () => void): void;
  close(): Promise<void>;
}

/** One instance: the revocation reaches only this process's listeners. */
export class MemoryRevocationBus implements RevocationBus {
  private readonly listeners: Array<(jti: string) => void> = [];

  async publish(jti: string): Promise<void> {
    for (const listener of this.listeners) queueMicrotask(() => listener(jti));
  }

  onRevoked(listener: (jti: string) => void): void {
    this.listeners.push(listener);
  }

  onResync(): void {}

  async close(): Promise<void> {
    this.listeners.length = 0;
  }
}

const JTI = /^[A-Za-z0-9-]{1,64}$/;

/** Publishes on the shared command connection; listens on `subscriber`, a connection this bus owns and closes. */
export class RedisRevocationBus implements RevocationBus {
  private readonly listeners: Array<(jti: string) => void> = [];
  private readonly resyncListeners: Array<() => void> = [];
  private readonly channel: string;
  private subscribedOnce = false;

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    prefix: string,
    private readonly logger: Logger,
  ) {
    this.channel = `${prefix}tokens:revoked`;
    subscriber.on('error', () => undefined);
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel || !JTI.test(message)) return;
      for (const listener of this.listeners) this.call(() => listener(message));
    });
    // ioredis re-subscribes by itself after a reconnect; anything published meanwhile was missed.
    subscriber.on('ready', () => {
      if (!this.subscribedOnce) return;
      for (const listener of this.resyncListeners) this.call(listener);
    });
  }

  async start(): Promise<void> {
    await this.subscriber.subscribe(this.channel);
    this.subscribedOnce = true;
  }

  async publish(jti: string): Promise<void> {
    await this.redis.publish(this.channel, jti);
  }

  onRevoked(listener: (jti: string) => void): void {
    this.listeners.push(listener);
  }

  onResync(listener: () => void): void {
    this.resyncListeners.push(listener);
  }

  async close(): Promise<void> {
    this.listeners.length = 0;
    this.resyncListeners.length = 0;
    this.subscriber.disconnect();
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error({ err }, 'token revocation listener threw');
    }
  }
}
