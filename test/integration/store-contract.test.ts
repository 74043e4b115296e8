/** One contract suite for every KeyValueStore and Lock implementation (memory and real Redis). */
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { KeyValueStore, Lock } from '../../src/core/ports.js';
import { MemoryKeyValueStore, MemoryLock } from '../../src/store/memory.js';
import { createRedisClient, RedisKeyValueStore, RedisLock } from '../../src/store/redis.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { letTimePass } from '../helpers/wait.js';

const clients: Redis[] = [];
afterAll(() => clients.forEach((c) => c.disconnect()));

function redisClient(): Redis {
  const c = createRedisClient(inject('redisUrl'), 'test-store');
  clients.push(c);
  return c;
}

const implementations: Array<[string, () => { kv: KeyValueStore; lock: Lock }]> = [
  ['memory', () => ({ kv: new MemoryKeyValueStore(), lock: new MemoryLock() })],
  [
    'redis',
    () => {
      const prefix = uniquePrefix('store');
      const r = redisClient();
      return { kv: new RedisKeyValueStore(r, prefix), lock: new RedisLock(r, prefix) };
    },
  ],
];

describe.each(implementations)('%s store', (_name, make) => {
  it('when a key is set with a ttl, then it reads back until the ttl passes', async () => {
    const { kv } = make();
    await kv.set('a', 'one', 80);
    await kv.set('b', 'two');
    expect(await kv.get('a')).toBe('one');
    await letTimePass(150); // past the 80 ms ttl: expiry is what is tested
    expect(await kv.get('a')).toBeNull();
    expect(await kv.get('b')).toBe('two');
    await kv.del('b');
    expect(await kv.get('b')).toBeNull();
  });

  it('when a counter is incremented, then it counts within its window and restarts after', async () => {
    const { kv } = make();
    expect(await kv.incrWithTtl('c', 100)).toBe(1);
    expect(await kv.incrWithTtl('c', 100)).toBe(2);
    expect(await kv.incrWithTtl('c', 100)).toBe(3);
    await letTimePass(160); // past the 100 ms window
    expect(await kv.incrWithTtl('c', 100)).toBe(1);
  });

  it('when more items are pushed than the cap, then only the newest are kept, newest first', async () => {
    const { kv } = make();
    for (let i = 0; i < 60; i++) await kv.pushCapped('l', String(i), 50);
    const items = await kv.list('l');
    expect(items).toHaveLength(50);
    expect(items[0]).toBe('59');
    expect(items[49]).toBe('10');
  });

  it('when a lock is held, then nobody else acquires it until it is released or expires', async () => {
    const { lock } = make();
    const t1 = await lock.acquire('x', 100);
    expect(t1).not.toBeNull();
    expect(await lock.acquire('x', 100)).toBeNull();
    expect(await lock.extend('x', 'not-the-token', 100)).toBe(false);
    expect(await lock.extend('x', t1 ?? '', 100)).toBe(true);
    await lock.release('x', 'not-the-token');
    expect(await lock.acquire('x', 100)).toBeNull();
    await lock.release('x', t1 ?? '');
    const t2 = await lock.acquire('x', 50);
    expect(t2).not.toBeNull();
    await letTimePass(120); // past the 50 ms lease: it expires on its own
    expect(await lock.acquire('x', 50)).not.toBeNull();
  });
});
