/**
 * Nudges between instances: "look at this extension now" (an intent changed) and "the lease is free" (the
 * leader shut down). With Redis it is a channel (src/store/channel.ts); a nudge lost while its connection is
 * down only costs latency, because the leader also sweeps every extension periodically.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Logger } from '../logger.js';
import { MemoryChannel, RedisChannel, type Channel } from '../store/channel.js';

export type Nudge =
  /** Look at `extension` now; `reset` also forgets its backoff (new credentials). */
  | { kind: 'extension'; extension: string; reset: boolean; from: string }
  /** The leader released the lease: followers may take it at once. */
  | { kind: 'released'; from: string };

/** `onMessage`: every nudge published by any instance, this one included. */
export type NudgeBus = Channel<Nudge>;

const NUDGE: z.ZodType<Nudge> = z.union([
  z.object({ kind: z.literal('released'), from: z.string() }),
  // Anything but `true` is no reset.
  z.object({ kind: z.literal('extension'), extension: z.string(), reset: z.unknown().transform((v) => v === true), from: z.string() }),
]);

export class MemoryNudgeBus extends MemoryChannel<Nudge> {
  constructor(logger?: Logger) {
    super(logger ?? null, 'subscription nudge listener threw');
  }
}

/** Publishes on the shared command connection; listens on `subscriber`, a connection this bus owns and closes. */
export class RedisNudgeBus extends RedisChannel<Nudge> {
  constructor(redis: Redis, subscriber: Redis, prefix: string, logger: Logger) {
    super(redis, subscriber, { name: `${prefix}subs:nudge`, schema: NUDGE, logger, listenerError: 'subscription nudge listener threw' });
  }
}
