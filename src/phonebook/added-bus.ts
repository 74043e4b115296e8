/**
 * Tells every instance about a contact just created, so the next call from its number pops it there too
 * without a phonebook refresh. With Redis it is pub/sub on a connection of its own; a message lost while that
 * connection is down is made up by the shared list of additions, which every newly built index re-applies
 * (service.ts).
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

export interface AddedContactsBus {
  /** Every message published by any instance, this one included. */
  publish(message: string): Promise<void>;
  onMessage(listener: (message: string) => void): void;
  close(): Promise<void>;
}

/** Publishes on the shared command connection; listens on `subscriber`, a connection this bus owns and closes. */
export class RedisAddedContactsBus implements AddedContactsBus {
  private readonly listeners: Array<(message: string) => void> = [];
  private readonly channel: string;
  private started: Promise<void> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    prefix: string,
    private readonly logger: Logger,
  ) {
    this.channel = `${prefix}phonebook:added`;
    subscriber.on('error', () => undefined);
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      for (const listener of this.listeners) {
        try {
          listener(message);
        } catch (err) {
          this.logger.error({ err }, 'added-contact listener threw');
        }
      }
    });
  }

  /** Subscribes (ioredis re-subscribes by itself after a reconnect). */
  start(): Promise<void> {
    this.started ??= this.subscriber.subscribe(this.channel).then(() => undefined);
    return this.started;
  }

  async publish(message: string): Promise<void> {
    await this.redis.publish(this.channel, message);
  }

  onMessage(listener: (message: string) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.listeners.length = 0;
    this.subscriber.disconnect();
  }
}
