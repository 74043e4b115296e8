/**
 * "This token was revoked": told to every instance so each closes the token's open WebSockets at once
 * (docs/security.md). With Redis it is a channel (src/store/channel.ts) whose message is the token's jti as
 * is. A message lost while its connection is down is made up for when it is back: `onReconnect` listeners
 * re-check every open token, whose revocation is in the shared store anyway.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Logger } from '../logger.js';
import { MemoryChannel, RedisChannel, type Channel } from '../store/channel.js';

/** `onMessage`: every revoked jti published by any instance, this one included. */
export type RevocationBus = Channel<string>;

const JTI = z.string().regex(/^[A-Za-z0-9-]{1,64}$/);

/** One instance: the revocation reaches only this process's listeners. */
export class MemoryRevocationBus extends MemoryChannel<string> {
  constructor(logger?: Logger) {
    super(logger ?? null, 'token revocation listener threw');
  }
}

/** Publishes on the shared command connection; listens on `subscriber`, a connection this bus owns and closes. */
export class RedisRevocationBus extends RedisChannel<string> {
  constructor(redis: Redis, subscriber: Redis, prefix: string, logger: Logger) {
    super(redis, subscriber, { name: `${prefix}tokens:revoked`, schema: JTI, wire: 'text', logger, listenerError: 'token revocation listener threw' });
  }
}
