/**
 * Redis mode's one-step ringing write: the call store's group claim, the new session, the event and the
 * ringing note in one append script run; and the tail asking CLIENT ID once per connection.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import type { NewCallEvent, StoredEvent } from '../../src/core/event.js';
import type { CallSession } from '../../src/calls/model.js';
import { RedisCallStateStore } from '../../src/calls/redis-store.js';
import { RedisEventLog } from '../../src/events/redis-event-log.js';
import { createRedisClient } from '../../src/store/redis.js';
import { eventually } from '../helpers/wait.js';
import { startRedisServer, uniquePrefix } from '../helpers/redis-server.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

function client(url: string, name: string, autoPipelining = false): Redis {
  const c = createRedisClient(url, name, autoPipelining ? { enableAutoPipelining: true } : {});
  c.on('error', () => undefined);
  cleanups.push(() => c.disconnect());
  return c;
}

async function open(url: string, prefix = uniquePrefix('append-claimed')): Promise<{ log: RedisEventLog; store: RedisCallStateStore; redis: Redis; prefix: string }> {
  const redis = client(url, 'test-commands', true);
  const log = new RedisEventLog({ redis, subscriberRedis: client(url, 'test-tail'), prefix, logger: pino({ level: 'silent' }) });
  cleanups.push(() => log.close());
  await log.start();
  return { log, store: new RedisCallStateStore(redis, prefix), redis, prefix };
}

function ringing(sessionId: string, extension = '122'): NewCallEvent {
  return {
    type: 'call.ringing',
    timestamp: '2026-12-01T10:00:00.000Z',
    data: {
      extension,
      call: { id: 'c-1', from: '+15550100', fromRaw: '5550100', fromName: null, to: extension, direction: 'inbound', sessionId },
      contact: null,
      otherContacts: [],
      links: {},
    },
  };
}

function session(sessionId: string, extension = '122'): CallSession {
  const now = Date.parse('2026-12-01T10:00:00.000Z');
  return {
    sessionId,
    callId: 'c-1',
    fromRaw: '5550100',
    from: '+15550100',
    fromName: null,
    direction: 'inbound',
    contact: null,
    otherContacts: [],
    links: {},
    startedAt: now,
    answeredAt: null,
    answeredBy: null,
    endedAt: null,
    answerUnknown: false,
    legs: [{ extension, state: 'ringing', ringingAt: now }],
    phase: 'open',
    observed: { seen: false, absentBeforeSeen: false, maxLegsListed: 0, groupCallee: null, goneAt: null },
    callLog: { nextAt: now + 3000, attempts: 0, deadline: null },
    recording: null,
    cdr: null,
    outbox: [],
    events: [],
    via: null,
  };
}

const note = { type: 'call.ringing' as const, extension: '122', timestamp: '2026-12-01T10:00:00.000Z' };

describe('redis append behind a claim', () => {
  it('when the group is free, then the claim, the session, the event and its note are written together, and the event is delivered once', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const { log, store } = await open(server.url);
    const seen: StoredEvent[] = [];
    log.subscribe((e) => seen.push(e));

    const outcome = await log.appendClaimed(
      ringing('s-1'),
      { key: 'cb:1', ttlMs: 60_000 },
      store.claimForAppend('cid:c-1', session('s-1'), 60_000, null),
      store.noteWithAppend('s-1', note),
    );
    if (!('result' in outcome)) throw new Error('expected the claim to be made');
    expect(outcome.result).toEqual({ id: outcome.result.id, duplicate: false, noted: true });
    expect(await store.group('cid:c-1')).toBe('s-1');
    const read = await store.read('s-1');
    expect(read?.version).toBe(1);
    expect(read?.session.events).toEqual([{ id: outcome.result.id, ...note }]);
    expect(await store.openCount()).toBe(1);
    await eventually(() => seen.length === 1);
    expect(seen.map((e) => e.id)).toEqual([outcome.result.id]);
  });

  it('when the group belongs to another session, then it answers that session and appends and writes nothing', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const { log, store } = await open(server.url);
    expect(await store.claimGroup('cid:c-1', session('s-first'), 60_000, null)).toBe('s-first');
    const before = await log.lastId();

    const outcome = await log.appendClaimed(
      ringing('s-2', '123'),
      { key: 'cb:2', ttlMs: 60_000 },
      store.claimForAppend('cid:c-1', session('s-2', '123'), 60_000, null),
      store.noteWithAppend('s-2', { ...note, extension: '123' }),
    );
    expect(outcome).toEqual({ owner: 's-first' });
    expect(await log.lastId()).toBe(before);
    expect(await store.read('s-2')).toBeNull();
    expect(await store.group('cid:c-1')).toBe('s-first');
    // The dedupe key was not taken: the same callback can still be appended by the usual join.
    const later = await log.append(ringing('s-first', '123'), { key: 'cb:2', ttlMs: 60_000 });
    expect(later.duplicate).toBe(false);
  });

  it('when the callback is a duplicate, then it answers the first event and claims nothing', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const { log, store } = await open(server.url);
    const first = await log.append(ringing('s-0'), { key: 'cb:3', ttlMs: 60_000 });

    const outcome = await log.appendClaimed(
      ringing('s-3'),
      { key: 'cb:3', ttlMs: 60_000 },
      store.claimForAppend('cid:c-3', session('s-3'), 60_000, null),
      store.noteWithAppend('s-3', note),
    );
    expect(outcome).toEqual({ result: { id: first.id, duplicate: true } });
    expect(await store.group('cid:c-3')).toBeNull();
    expect(await store.read('s-3')).toBeNull();
    expect(await store.openCount()).toBe(0);
  });

  it('when the claimed record exists already, then it is left as it is and the note is written beside it', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const { log, store } = await open(server.url);
    expect(await store.claimGroup('cid:c-4', session('s-4'), 60_000, null)).toBe('s-4');
    expect(await store.compareAndSet({ ...session('s-4'), fromName: 'kept' }, 1)).toBe(true);

    // The group names the record's own session as stale: claimed again, the record is not written twice.
    const outcome = await log.appendClaimed(
      ringing('s-4'),
      { key: 'cb:4', ttlMs: 60_000 },
      store.claimForAppend('cid:c-4', session('s-4'), 60_000, 's-4'),
      store.noteWithAppend('s-4', note),
    );
    if (!('result' in outcome)) throw new Error('expected the claim to be made');
    expect(outcome.result).toEqual({ id: outcome.result.id, duplicate: false, noted: true });
    const read = await store.read('s-4');
    expect(read?.version).toBe(2);
    expect(read?.session.fromName).toBe('kept');
    expect(read?.session.events).toEqual([{ id: outcome.result.id, ...note }]);
  });

  it('when the tail reads many batches on one connection, then CLIENT ID is asked once, not per read', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const { log, redis, prefix } = await open(server.url);
    // Another instance's events: this one's appends deliver themselves, so only foreign entries make its tail read.
    const other = await open(server.url, prefix);
    const seen: StoredEvent[] = [];
    log.subscribe((e) => seen.push(e));
    for (let i = 0; i < 20; i++) {
      await other.log.append(ringing(`s-${i}`), null);
      // Wait for each one, so the tail wakes for each.
      await eventually(() => seen.length === i + 1);
    }
    const stats = await redis.info('commandstats');
    const calls = (name: string) => Number(new RegExp(`cmdstat_${name.replace('|', '\\|')}:calls=(\\d+)`).exec(stats)?.[1] ?? '0');
    expect(calls('xread')).toBeGreaterThanOrEqual(20);
    // One per tail connection (this log's and the other's), not one per read.
    expect(calls('client|id')).toBe(2);
  });
});
