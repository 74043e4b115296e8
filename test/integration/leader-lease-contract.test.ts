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

  it('when the lease is taken, extended and then lost to another instance, then onAcquired and onLost say so once each', async () => {
    const lock = makeLock();
    const seen: string[] = [];
    const a = new LeaderLease({ lock, name: 'poller', ttlMs: 150, onAcquired: () => seen.push('acquired'), onLost: (r) => seen.push(`lost: ${r}`) });
    const b = new LeaderLease({ lock, name: 'poller', ttlMs: 5000 });
    expect(await a.hold()).toBe(true);
    expect(await a.hold()).toBe(true);
    expect(seen).toEqual(['acquired']);
    await eventually(() => b.hold(), 3000, 'the second instance to take the lease');
    expect(await a.hold()).toBe(false);
    expect(seen).toEqual(['acquired', 'lost: lease lost']);
    expect(a.held).toBe(false);
  });

  it('when the Lock fails, then a lease held stays valid until its local deadline and counts as lost after it', async () => {
    const real = makeLock();
    let broken = false;
    const fail = (): never => {
      throw new Error('lock unreachable');
    };
    const lock: Lock = {
      acquire: (name, ttlMs) => (broken ? Promise.resolve().then(fail) : real.acquire(name, ttlMs)),
      extend: (name, token, ttlMs) => (broken ? Promise.resolve().then(fail) : real.extend(name, token, ttlMs)),
      release: (name, token) => real.release(name, token),
    };
    let clock = 1_000_000;
    const errors: unknown[] = [];
    const lost: string[] = [];
    const a = new LeaderLease({ lock, name: 'poller', ttlMs: 60_000, now: () => clock, onError: (e) => errors.push(e), onLost: (r) => lost.push(r) });
    expect(await a.hold()).toBe(true);
    broken = true;
    clock += 30_000;
    expect(await a.hold()).toBe(true);
    expect(a.isLeader()).toBe(true);
    expect(errors).toHaveLength(1);
    clock += 20_000; // past 80 % of the ttl since the last extension
    expect(await a.hold()).toBe(false);
    expect(a.isLeader()).toBe(false);
    expect(lost).toEqual(['lease could not be extended']);
    await a.release();
  });

  it('when release() is called while a hold() is under way, then the lease is not kept and another takes it at once', async () => {
    const lock = makeLock();
    const a = new LeaderLease({ lock, name: 'poller', ttlMs: 5000 });
    const b = new LeaderLease({ lock, name: 'poller', ttlMs: 5000 });
    const holding = a.hold();
    expect(await a.release()).toBe(false);
    expect(await holding).toBe(false);
    expect(a.held).toBe(false);
    expect(await b.hold()).toBe(true);
  });
});
