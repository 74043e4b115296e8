/** One contract suite for the leader lease over both Lock forms (memory and real Redis). */
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { Lock } from '../../src/core/ports.js';
import { LeaderLease } from '../../src/lease/leader-lease.js';
import { MemoryLock } from '../../src/store/memory.js';
import { createRedisClient, RedisLock } from '../../src/store/redis.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';

const clients: Redis[] = [];
afterAll(() => clients.forEach((c) => c.disconnect()));

const implementations: Array<[string, () => Lock]> = [
  ['memory', () => new MemoryLock()],
  [
    'redis',
    () => {
      const c = createRedisClient(inject('redisUrl'), 'test-lease');
      clients.push(c);
      return new RedisLock(c, uniquePrefix('lease'));
    },
  ],
];

describe.each(implementations)('%s leader lease', (_name, makeLock) => {
  it('when two instances ask for the lease, then one holds it and keeps it by extending', async () => {
    const lock = makeLock();
    const a = new LeaderLease({ lock, name: 'poller', ttlMs: 2000 });
    const b = new LeaderLease({ lock, name: 'poller', ttlMs: 2000 });
    expect(await a.hold()).toBe(true);
    expect(await b.hold()).toBe(false);
    expect(await a.hold()).toBe(true);
    expect(a.isLeader()).toBe(true);
    expect(b.isLeader()).toBe(false);
  });

  it('when the holder releases, then the other takes the lease at once', async () => {
    const lock = makeLock();
    const a = new LeaderLease({ lock, name: 'poller', ttlMs: 5000 });
    const b = new LeaderLease({ lock, name: 'poller', ttlMs: 5000 });
    expect(await a.hold()).toBe(true);
    await a.release();
    expect(a.isLeader()).toBe(false);
    expect(await b.hold()).toBe(true);
  });

  it('when the holder stops extending (it died), then another takes over after the ttl', async () => {
    const lock = makeLock();
    const a = new LeaderLease({ lock, name: 'poller', ttlMs: 150 });
    const b = new LeaderLease({ lock, name: 'poller', ttlMs: 150 });
    expect(await a.hold()).toBe(true);
    await eventually(() => b.hold(), 3000, 'the second instance to take the lease');
    // The first one learns it lost the lease on its next hold().
    expect(await a.hold()).toBe(false);
  });

  it('when different names are asked for, then they are independent', async () => {
    const lock = makeLock();
    expect(await new LeaderLease({ lock, name: 'one', ttlMs: 2000 }).hold()).toBe(true);
    expect(await new LeaderLease({ lock, name: 'two', ttlMs: 2000 }).hold()).toBe(true);
  });
});
