/**
 * Agent tokens for one instance, and the bus that tells every instance about a revoked token so each closes
 * its sockets at once (docs/security.md): over Redis pub/sub with several instances, in memory with one.
 */
import type { KeyValueStore } from '../core/ports.js';
import type { Logger } from '../logger.js';
import type { SharedRedis } from '../stores.js';
import { createRedisClient } from '../store/redis.js';
import { MemoryRevocationBus, RedisRevocationBus, type RevocationBus } from './revocation-bus.js';
import { TokenService } from './tokens.js';

export interface Auth {
  tokens: TokenService;
  revocations: RevocationBus;
  close(): Promise<void>;
}

export async function openAuth(o: { sessionSecret: string; kv: KeyValueStore; redis: SharedRedis | null; logger: Logger }): Promise<Auth> {
  const { logger, redis } = o;
  let revocations: RevocationBus = new MemoryRevocationBus(logger);
  if (redis) {
    const bus = new RedisRevocationBus(redis.client, createRedisClient(redis.url, 'bridge-token-revocations', { maxRetriesPerRequest: null }), redis.prefix, logger);
    try {
      await bus.start();
    } catch (err) {
      await bus.close();
      throw err;
    }
    revocations = bus;
  }
  const tokens = new TokenService(o.sessionSecret, o.kv, Date.now, (jti) =>
    revocations.publish(jti).catch((err: unknown) => {
      // The revocation itself is stored: other instances refuse the token, and re-check open sockets on reconnect.
      logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not tell other instances about a revoked token');
    }),
  );
  return { tokens, revocations, close: () => revocations.close() };
}
