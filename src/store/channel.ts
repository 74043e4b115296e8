/**
 * A typed broadcast between instances: every message published by any instance reaches every instance's
 * listeners, this one's included. With Redis it is pub/sub: published on the shared command connection, heard
 * on a subscriber connection the channel owns and closes. Pub/sub keeps nothing: a message published while
 * the subscriber is reconnecting is lost, so `onReconnect` listeners are told when it is back (ioredis
 * re-subscribes by itself) and make up from shared state what they may have missed. The memory form serves
 * one process.
 *
 * Messages are validated by a zod schema on the way in; one that does not fit is dropped, so a malformed or
 * foreign publish never reaches a listener.
 */
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import type { Logger } from '../logger.js';

export interface Channel<T> {
  publish(message: T): Promise<void>;
  /** Every message published by any instance, this one included. */
  onMessage(listener: (message: T) => void): void;
  /** Called after the subscriber connection came back: messages may have been missed. */
  onReconnect(listener: () => void): void;
  close(): Promise<void>;
}

export interface RedisChannelOptions<T> {
  /** The Redis channel name, key prefix included. */
  name: string;
  /** What a message must be; others are dropped. */
  schema: z.ZodType<T>;
  /**
   * `json` (default): JSON text. `text`: the message is a string sent as is (schema `z.string()` or narrower),
   * for channels whose wire format is a bare value that instances of other versions must still understand.
   */
  wire?: 'json' | 'text';
  logger: Logger;
  /** The log line when a listener throws. */
  listenerError: string;
}

/** Publishes on the shared command connection; listens on `subscriber`, a connection this channel owns and closes. */
export class RedisChannel<T> implements Channel<T> {
  private readonly listeners: Array<(message: T) => void> = [];
  private readonly reconnectListeners: Array<() => void> = [];
  private started: Promise<void> | null = null;
  private subscribed = false;

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly o: RedisChannelOptions<T>,
  ) {
    subscriber.on('error', () => undefined);
    subscriber.on('message', (channel: string, text: string) => {
      if (channel !== o.name) return;
      const message = this.decode(text);
      if (message === undefined) return;
      for (const listener of this.listeners) callListener(() => listener(message), o.logger, o.listenerError);
    });
    subscriber.on('ready', () => {
      if (!this.subscribed) return;
      for (const listener of this.reconnectListeners) callListener(listener, o.logger, o.listenerError);
    });
  }

  /** Subscribes; resolves once subscribed. Idempotent. */
  start(): Promise<void> {
    this.started ??= this.subscriber.subscribe(this.o.name).then(() => {
      this.subscribed = true;
    });
    return this.started;
  }

  async publish(message: T): Promise<void> {
    await this.redis.publish(this.o.name, this.o.wire === 'text' ? String(message) : JSON.stringify(message));
  }

  onMessage(listener: (message: T) => void): void {
    this.listeners.push(listener);
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  async close(): Promise<void> {
    this.listeners.length = 0;
    this.reconnectListeners.length = 0;
    this.subscriber.disconnect();
  }

  private decode(text: string): T | undefined {
    let value: unknown = text;
    if (this.o.wire !== 'text') {
      try {
        value = JSON.parse(text);
      } catch {
        return undefined;
      }
    }
    const parsed = this.o.schema.safeParse(value);
    return parsed.success ? parsed.data : undefined;
  }
}

/** A listener that throws is logged; the others still run. */
function callListener(fn: () => void, logger: Logger, listenerError: string): void {
  try {
    fn();
  } catch (err) {
    logger.error({ err }, listenerError);
  }
}

/**
 * One process: a message reaches only this process's listeners, each in a microtask of its own. Without a
 * logger, a listener that throws is an uncaught exception.
 */
export class MemoryChannel<T> implements Channel<T> {
  private readonly listeners: Array<(message: T) => void> = [];

  constructor(
    private readonly logger: Logger | null = null,
    private readonly listenerError = 'channel listener threw',
  ) {}

  async publish(message: T): Promise<void> {
    const { logger, listenerError } = this;
    for (const listener of this.listeners) {
      queueMicrotask(logger ? () => callListener(() => listener(message), logger, listenerError) : () => listener(message));
    }
  }

  onMessage(listener: (message: T) => void): void {
    this.listeners.push(listener);
  }

  /** Never called: there is no connection to lose. */
  onReconnect(): void {}

  async close(): Promise<void> {
    this.listeners.length = 0;
  }
}
