/** The call journal in both modes, for the tests that run one suite against each (docs/calls.md, "The journal"). */
import { afterAll, inject } from 'vitest';
import type { Redis } from 'ioredis';
import { MemoryCallJournal, type CallJournal } from '../../src/calls/journal.js';
import { RedisCallJournal } from '../../src/calls/redis-journal.js';
import { createRedisClient } from '../../src/store/redis.js';
import { uniquePrefix } from './redis-server.js';

/** `[mode, make]` pairs for describe.each; the Redis clients made are closed after the file's tests. */
export function journalImplementations(name: string): Array<[string, () => CallJournal]> {
  const clients: Redis[] = [];
  afterAll(() => clients.forEach((c) => c.disconnect()));
  return [
    ['memory', () => new MemoryCallJournal('IN')],
    [
      'redis',
      () => {
        const c = createRedisClient(inject('redisUrl'), `test-${name}`);
        clients.push(c);
        return new RedisCallJournal(c, uniquePrefix(name), 'IN', 90);
      },
    ],
  ];
}
