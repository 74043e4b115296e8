/** Redis connections and the Redis KeyValueStore and Lock. Every key carries the instance's prefix. */
import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { KeyValueStore, Lock } from '../core/ports.js';
import { withTimeout } from '../timeouts.js';
import { FailFastRedis } from './fail-fast-redis.js';
import { defineLuaScript, defineLuaScriptsOn } from './lua.js';

export const DEFAULT_KEY_PREFIX = 'hodubridge:';

/**
 * Opens a client that reconnects forever with a capped backoff, and fails commands fast while Redis is down
 * instead of queueing them without bound.
 */
export function createRedisClient(url: string, name: string, extra: RedisOptions = {}): Redis {
  const options: RedisOptions = {
    connectionName: name,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2000),
    ...extra,
  };
  // Connections that wait for Redis on purpose (subscribers, blocking reads: maxRetriesPerRequest null) keep queueing.
  const client = options.maxRetriesPerRequest === null ? new Redis(url, options) : new FailFastRedis(url, options);
  // Before any command can start an auto-pipeline (see src/store/lua.ts).
  if (client.options.enableAutoPipelining) defineLuaScriptsOn(client);
  return client;
}

/** Whether `redis` is ready and not refusing commands because Redis hangs (src/store/fail-fast-redis.ts). */
export function redisAnswering(redis: Redis): boolean {
  return redis.status === 'ready' && !(redis instanceof FailFastRedis && redis.refusing);
}

/**
 * Drops a connection now. ioredis's disconnect() only ends the socket, which stays open while a hung server
 * (SIGSTOP, a cut-off network) never closes its side; destroying it fails the commands it holds and ends the
 * client at once.
 */
export function dropRedisClient(redis: Redis): void {
  redis.disconnect();
  const socket: { destroyed: boolean; destroy(): void } | undefined = redis.stream;
  if (socket && !socket.destroyed) socket.destroy();
}

/** How long QUIT may wait for its answer before the connection is dropped (a hung Redis never answers). */
const QUIT_TIMEOUT_MS = 1000;

/**
 * Closes a connection without waiting on an unreachable or hung Redis: QUIT (which lets what was sent be
 * answered) while it answers, within QUIT_TIMEOUT_MS; else it is dropped.
 */
export async function closeRedisClient(redis: Redis): Promise<void> {
  if (!redisAnswering(redis)) {
    dropRedisClient(redis);
    return;
  }
  await withTimeout(redis.quit(), QUIT_TIMEOUT_MS, 'Redis').catch(() => dropRedisClient(redis));
}

export class RedisKeyValueStore implements KeyValueStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string = DEFAULT_KEY_PREFIX,
  ) {}

  async get(key: string): Promise<string | null> {
    return this.redis.get(this.prefix + key);
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs) await this.redis.set(this.prefix + key, value, 'PX', ttlMs);
    else await this.redis.set(this.prefix + key, value);
  }

  async del(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }

  async incrWithTtl(key: string, ttlMs: number): Promise<number> {
    const k = this.prefix + key;
    const [[incrErr, n] = [null, 0]] = (await this.redis.multi().incr(k).pexpire(k, ttlMs, 'NX').exec()) ?? [];
    if (incrErr) throw incrErr;
    return Number(n);
  }

  async pushCapped(key: string, value: string | readonly string[], maxLength: number): Promise<void> {
    const values = typeof value === 'string' ? [value] : value;
    if (values.length === 0) return;
    const k = this.prefix + key;
    await this.redis.multi().lpush(k, ...values).ltrim(k, 0, maxLength - 1).exec();
  }

  async list(key: string): Promise<string[]> {
    return this.redis.lrange(this.prefix + key, 0, -1);
  }

  /** The connection belongs to whoever created it (main.ts); this store only borrows it. */
  async close(): Promise<void> {}
}

const EXTEND_SCRIPT = defineLuaScript(
  'hbLockExtend',
  `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`,
  1,
);
const RELEASE_SCRIPT = defineLuaScript(
  'hbLockRelease',
  `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`,
  1,
);

export class RedisLock implements Lock {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string = DEFAULT_KEY_PREFIX,
  ) {}

  async acquire(name: string, ttlMs: number): Promise<string | null> {
    const token = randomUUID();
    const ok = await this.redis.set(`${this.prefix}lock:${name}`, token, 'PX', ttlMs, 'NX');
    return ok === 'OK' ? token : null;
  }

  async extend(name: string, token: string, ttlMs: number): Promise<boolean> {
    const r = await EXTEND_SCRIPT.run(this.redis, [`${this.prefix}lock:${name}`], [token, String(ttlMs)]);
    return r === 1;
  }

  async release(name: string, token: string): Promise<void> {
    await RELEASE_SCRIPT.run(this.redis, [`${this.prefix}lock:${name}`], [token]);
  }
}
