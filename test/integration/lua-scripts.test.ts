/**
 * Lua scripts registered once per connection (src/store/lua.ts), on a real redis-server of this file's own:
 * its SCRIPT FLUSHes would make the other test files' scripts answer NOSCRIPT on the shared one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { defineLuaScript, LuaScript } from '../../src/store/lua.js';
import { createRedisClient, RedisLock } from '../../src/store/redis.js';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../helpers/redis-server.js';

const clients: Redis[] = [];
let server: RedisServerHandle;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  clients.forEach((c) => c.disconnect());
  await server.stop();
});

function redisClient(extra: { enableAutoPipelining?: boolean } = {}): Redis {
  const c = createRedisClient(server.url, 'test-lua', extra);
  clients.push(c);
  return c;
}

/** KEYS[1] a string key; ARGV[1] a suffix. Appends and answers the new value. */
const APPEND_SUFFIX = defineLuaScript('hbTestAppendSuffix', `redis.call('APPEND', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])`, 1);
/** KEYS[1] a counter. */
const COUNTER = defineLuaScript('hbTestCounter', `return redis.call('INCR', KEYS[1])`, 1);
/** Any number of keys: answers how many it got and the first ARGV. */
const COUNT_KEYS = defineLuaScript('hbTestCountKeys', `return {#KEYS, ARGV[1]}`);

describe.each([
  ['a plain client', {}],
  ['a client with enableAutoPipelining', { enableAutoPipelining: true }],
])('Lua scripts on %s', (_name, extra) => {
  it('when a script runs, then it gets its keys and arguments and answers its reply', async () => {
    const redis = redisClient(extra);
    const key = `${uniquePrefix('lua')}s`;
    expect(await APPEND_SUFFIX.run(redis, [key], ['a'])).toBe('a');
    expect(await APPEND_SUFFIX.run(redis, [key], ['b'])).toBe('ab');
    expect(await COUNT_KEYS.run(redis, [], ['x'])).toEqual([0, 'x']);
    expect(await COUNT_KEYS.run(redis, [`${key}1`, `${key}2`, `${key}3`], [7])).toEqual([3, '7']);
  });

  it('when the server forgets its scripts (SCRIPT FLUSH), then the next call still runs', async () => {
    const redis = redisClient(extra);
    const key = `${uniquePrefix('lua')}s`;
    expect(await APPEND_SUFFIX.run(redis, [key], ['a'])).toBe('a');
    await redis.script('FLUSH');
    expect(await APPEND_SUFFIX.run(redis, [key], ['b'])).toBe('ab');
    // Concurrent calls right after a flush each recover too.
    await redis.script('FLUSH');
    const replies = await Promise.all(['c', 'd', 'e'].map((s) => APPEND_SUFFIX.run(redis, [key], [s])));
    expect(replies.map((r) => String(r).length).sort()).toEqual([3, 4, 5]);
    expect(await redis.get(key)).toHaveLength(5);
  });

  it('when another client flushes scripts again and again during calls, then every call runs exactly once', async () => {
    const redis = redisClient(extra);
    const flusher = redisClient();
    const key = `${uniquePrefix('lua')}n`;
    let calls = 0;
    let flushes = 0;
    let stop = false;
    // A flush lands between a call's NOSCRIPT and ioredis's one resend often enough within a few hundred rounds.
    const flushing = (async () => {
      while (!stop) {
        await flusher.script('FLUSH');
        flushes++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      for (let round = 0; round < 300; round++) {
        await Promise.all(Array.from({ length: 20 }, () => COUNTER.run(redis, [key], [])));
        calls += 20;
      }
    } finally {
      stop = true;
      await flushing;
    }
    expect(flushes).toBeGreaterThan(0);
    expect(Number(await redis.get(key))).toBe(calls);
  });

  it('when a lock is extended and released after SCRIPT FLUSH, then both still work', async () => {
    const redis = redisClient(extra);
    const lock = new RedisLock(redis, uniquePrefix('lua-lock'));
    const token = await lock.acquire('l', 10_000);
    expect(token).not.toBeNull();
    await redis.script('FLUSH');
    expect(await lock.extend('l', token as string, 10_000)).toBe(true);
    await redis.script('FLUSH');
    await lock.release('l', token as string);
    expect(await lock.acquire('l', 10_000)).not.toBeNull();
  });
});

describe('Lua script definitions', () => {
  it('when a script is called with the wrong number of keys, then it is refused before reaching Redis', async () => {
    await expect(APPEND_SUFFIX.run(redisClient(), ['a', 'b'], ['x'])).rejects.toThrow(/takes 1 keys, got 2/);
  });

  it('when a script is named after a client method, then it is refused instead of replacing the method', async () => {
    const clash = new LuaScript('get', `return 1`, 0);
    await expect(clash.run(redisClient(), [], [])).rejects.toThrow(/already has a method of that name/);
  });

  it('when a second script takes a name in use, then it is refused', () => {
    expect(() => defineLuaScript('hbTestAppendSuffix', `return 1`)).toThrow(/defined already/);
  });
});

describe('Lua scripts and auto-pipelining', () => {
  it('when a script is first used in the same tick as other commands on an auto-pipelining client, then every command answers', async () => {
    // Declared after the client was made, so it is defined lazily, while an auto-pipeline is pending.
    const redis = redisClient({ enableAutoPipelining: true });
    const late = defineLuaScript('hbTestLateScript', `return ARGV[1]`, 0);
    const key = `${uniquePrefix('lua')}k`;
    const replies = await Promise.all([redis.set(key, 'v'), late.run(redis, [], ['x']), redis.get(key), late.run(redis, [], ['y'])]);
    expect(replies).toEqual(['OK', 'x', 'v', 'y']);
  });

  it('when createRedisClient makes an auto-pipelining client, then the declared scripts ride in its auto-pipelines', async () => {
    const redis = redisClient({ enableAutoPipelining: true });
    expect(redis.options.autoPipeliningIgnoredCommands ?? []).not.toContain(APPEND_SUFFIX.name);
    const key = `${uniquePrefix('lua')}s`;
    const replies = await Promise.all([redis.set(key, 'a'), APPEND_SUFFIX.run(redis, [key], ['b']), redis.get(key)]);
    expect(replies).toEqual(['OK', 'ab', 'ab']);
  });
});
