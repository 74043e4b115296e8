/** The call journal in both modes, for the tests that run one suite against each (docs/calls.md, "The journal"). */
import { afterAll, inject } from 'vitest';
import type { Redis } from 'ioredis';
import { MemoryCallJournal, type CallJournal, type JournalEntry } from '../../src/calls/journal.js';
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

/**
 * A completed call for the journal: session id `s-<n>` (zero-padded to `idDigits`), started `n` seconds after
 * `base`, rung on `extensions`, answered by `answeredBy` or missed.
 */
export function journalEntry(
  base: number,
  n: number,
  call: { fromRaw: string; extensions: string[]; answeredBy: string | null; idDigits?: number },
): JournalEntry {
  const startedAt = new Date(base + n * 1000).toISOString();
  const { fromRaw, extensions, answeredBy } = call;
  return {
    sessionId: `s-${String(n).padStart(call.idDigits ?? 3, '0')}`,
    callId: null,
    from: fromRaw,
    fromRaw,
    fromName: null,
    direction: 'inbound',
    contact: null,
    extensions,
    answeredBy,
    outcome: answeredBy ? 'answered' : 'missed',
    cdr: {
      startedAt,
      answeredAt: null,
      endedAt: startedAt,
      durationS: 0,
      talkS: null,
      answeredBy,
      caller: fromRaw,
      callee: extensions[0] ?? null,
      recordingUrl: null,
      source: 'observed',
    },
    events: [],
  };
}
