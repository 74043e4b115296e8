/**
 * Tells every instance about a contact just created, so the next call from its number pops it there too
 * without a phonebook refresh. With Redis it is a channel (src/store/channel.ts); a message lost while its
 * connection is down is made up from the shared list of additions, which the service reads again when the
 * connection is back, and which every newly built index re-applies (service.ts). The message is the addition's JSON text as the service stores it in that list, sent as is.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Logger } from '../logger.js';
import { RedisChannel, type Channel } from '../store/channel.js';

export type AddedContactsBus = Channel<string>;

/** Publishes on the shared command connection; listens on `subscriber`, a connection this bus owns and closes. */
export class RedisAddedContactsBus extends RedisChannel<string> {
  constructor(redis: Redis, subscriber: Redis, prefix: string, logger: Logger) {
    super(redis, subscriber, { name: `${prefix}phonebook:added`, schema: z.string(), wire: 'text', logger, listenerError: 'added-contact listener threw' });
  }
}
