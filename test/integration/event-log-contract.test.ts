/**
 * One contract suite for every EventLog implementation: the in-memory ring, the Redis Stream, and the Redis
 * Stream behind its outage mode (the resilient log, what the bridge runs with REDIS_URL), here with Redis up.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import type { NewCallEvent, StoredEvent } from '../../src/core/event.js';
import type { EventLog } from '../../src/core/ports.js';
import { MemoryEventLog } from '../../src/events/memory-event-log.js';
import { RedisEventLog } from '../../src/events/redis-event-log.js';
import { ResilientEventLog } from '../../src/events/resilient-event-log.js';
import { createRedisClient } from '../../src/store/redis.js';
import { eventually, eventuallyValue, letTimePass } from '../helpers/wait.js';
import { uniquePrefix } from '../helpers/redis-server.js';

const logger = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

function redisClient(name: string, extra: { enableAutoPipelining?: boolean } = {}): Redis {
  const c = createRedisClient(inject('redisUrl'), name, extra);
  cleanups.push(() => c.disconnect());
  return c;
}

interface Made {
  log: EventLog;
  /** A second instance on the same log (another bridge instance); in memory, where one process has one log, the same log. */
  peer: () => Promise<EventLog>;
}

async function redisLog(prefix: string, maxEvents?: number): Promise<RedisEventLog> {
  const log = new RedisEventLog({
    redis: redisClient('test-events'),
    subscriberRedis: redisClient('test-events-tail'),
    prefix,
    logger,
    maxEvents,
    // Exact trimming so the retained window is deterministic; approximate trimming has its own test below.
    trim: 'exact',
  });
  cleanups.push(() => log.close());
  await log.start();
  return log;
}

/** As the bridge builds it: the Redis log on an auto-pipelining command connection, wrapped in its outage mode. */
async function resilientLog(prefix: string, maxEvents?: number): Promise<ResilientEventLog> {
  const redis = redisClient('test-events', { enableAutoPipelining: true });
  const inner = new RedisEventLog({ redis, subscriberRedis: redisClient('test-events-tail'), prefix, logger, maxEvents, trim: 'exact' });
  cleanups.push(() => inner.close());
  const log = new ResilientEventLog({ inner, redis, logger, instanceId: randomUUID() });
  cleanups.push(() => log.close());
  await log.start();
  // The suite is about the shared log: a log that started degraded would pass some tests from its local ring.
  expect(log.stats()).toMatchObject({ mode: 'shared', redisUp: true });
  return log;
}

const implementations: Array<[string, (opts?: { maxEvents?: number }) => Promise<Made>]> = [
  [
    'memory',
    async (opts) => {
      const log = new MemoryEventLog({ logger, maxEvents: opts?.maxEvents });
      cleanups.push(() => log.close());
      return { log, peer: async () => log };
    },
  ],
  [
    'redis',
    async (opts) => {
      const prefix = uniquePrefix('events');
      const log = await redisLog(prefix, opts?.maxEvents);
      return { log, peer: () => redisLog(prefix, opts?.maxEvents) };
    },
  ],
  [
    'resilient',
    async (opts) => {
      const prefix = uniquePrefix('events');
      const log = await resilientLog(prefix, opts?.maxEvents);
      return { log, peer: () => resilientLog(prefix, opts?.maxEvents) };
    },
  ],
];

let seq = 0;
function newEvent(extension = '122', from = '+919824740472'): NewCallEvent {
  seq++;
  return {
    type: 'call.ringing',
    timestamp: new Date().toISOString(),
    data: {
      extension,
      call: { id: `call-${seq}`, from, fromRaw: from, fromName: null, to: extension, direction: 'inbound', sessionId: 'session-1' },
      contact: null,
      otherContacts: [],
      links: {},
    },
  };
}

function collect(log: EventLog): StoredEvent[] {
  const got: StoredEvent[] = [];
  cleanups.push(log.subscribe((e) => got.push(e)));
  return got;
}


function isAscending(ids: string[]): boolean {
  const parse = (id: string) => id.split('-').map(BigInt) as [bigint, bigint];
  for (let i = 1; i < ids.length; i++) {
    const [a0, a1] = parse(ids[i - 1] as string);
    const [b0, b1] = parse(ids[i] as string);
    if (!(a0 < b0 || (a0 === b0 && a1 < b1))) return false;
  }
  return true;
}

describe.each(implementations)('%s event log', (name, make) => {
  it('when events are appended one by one, then their ids increase in append order', async () => {
    const { log } = await make();
    expect(await log.lastId()).toBeNull();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await log.append(newEvent(), null)).id);
    expect(isAscending(ids)).toBe(true);
    expect(await log.lastId()).toBe(ids[4]);
  });

  it('when 200 appends run concurrently, then every id is unique and they increase in call order', async () => {
    const { log } = await make();
    const results = await Promise.all(Array.from({ length: 200 }, () => log.append(newEvent(), null)));
    const ids = results.map((r) => r.id);
    expect(new Set(ids).size).toBe(200);
    expect(results.every((r) => !r.duplicate)).toBe(true);
    expect(isAscending(ids)).toBe(true);
  });

  it('when the same dedupe key is appended within its ttl, then the first id comes back and no second event is delivered', async () => {
    const { log } = await make();
    const got = collect(log);
    const first = await log.append(newEvent(), { key: 'call-x', ttlMs: 300 });
    const again = await log.append(newEvent(), { key: 'call-x', ttlMs: 300 });
    const concurrent = await Promise.all(Array.from({ length: 10 }, () => log.append(newEvent(), { key: 'call-x', ttlMs: 300 })));
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ id: first.id, duplicate: true });
    expect(concurrent.every((r) => r.duplicate && r.id === first.id)).toBe(true);
    const marker = await log.append(newEvent(), null);
    await eventually(() => got.some((e) => e.id === marker.id));
    expect(got.map((e) => e.id)).toEqual([first.id, marker.id]);
  });

  it('when the dedupe ttl has passed, then the same key makes a new event', async () => {
    const { log } = await make();
    const first = await log.append(newEvent(), { key: 'call-y', ttlMs: 80 });
    // Appends inside the ttl are duplicates and change nothing; the first one after it is a new event.
    const later = await eventuallyValue(() => log.append(newEvent(), { key: 'call-y', ttlMs: 80 }), (r) => !r.duplicate);
    expect(later.duplicate).toBe(false);
    expect(later.id).not.toBe(first.id);
  });

  it('when reading after an id, then the later events come in order with their envelope json, id first', async () => {
    const { log } = await make();
    const appended: Array<{ id: string; event: NewCallEvent }> = [];
    for (let i = 0; i < 6; i++) {
      const event = newEvent(i % 2 ? '123' : '122');
      appended.push({ id: (await log.append(event, null)).id, event });
    }
    const after = appended[1]?.id as string;
    const { events, complete } = await log.readAfter(after, 100);
    expect(complete).toBe(true);
    expect(events.map((e) => e.id)).toEqual(appended.slice(2).map((a) => a.id));
    for (const [i, e] of events.entries()) {
      const source = appended[i + 2]?.event as NewCallEvent;
      const parsed = JSON.parse(e.json) as Record<string, unknown>;
      expect(Object.keys(parsed)[0]).toBe('id');
      expect(parsed).toEqual({ id: e.id, ...source });
      expect(e.extension).toBe(source.data.extension);
      expect(e.type).toBe('call.ringing');
    }
    const limited = await log.readAfter(after, 2);
    expect(limited.events.map((e) => e.id)).toEqual(appended.slice(2, 4).map((a) => a.id));
    const atEnd = await log.readAfter(appended[5]?.id as string, 100);
    expect(atEnd).toEqual({ events: [], complete: true });
  });

  it('when the id asked for is older than the retained window, then the read says it is not complete', async () => {
    const { log } = await make({ maxEvents: 50 });
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push((await log.append(newEvent(), null)).id);
    // Events 150..199 are kept. An id that was trimmed itself (149) is older than what the log keeps.
    expect((await log.readAfter(ids[10] as string, 1000)).complete).toBe(false);
    expect((await log.readAfter(ids[149] as string, 1000)).complete).toBe(false);
    expect((await log.readAfter('0-0', 1000)).complete).toBe(false);
    const oldestKept = await log.readAfter(ids[150] as string, 1000);
    expect(oldestKept.complete).toBe(true);
    expect(oldestKept.events.map((e) => e.id)).toEqual(ids.slice(151));
  });

  it('when the id is malformed or newer than anything appended, then the read is empty and not complete', async () => {
    const { log } = await make();
    expect(await log.readAfter('0-0', 10)).toEqual({ events: [], complete: true });
    await log.append(newEvent(), null);
    expect(await log.readAfter('not-an-id', 10)).toEqual({ events: [], complete: false });
    expect(await log.readAfter('99999999999999-0', 10)).toEqual({ events: [], complete: false });
  });

  it('when events are appended, then every subscriber gets each exactly once, in order, and a throwing one harms nobody', async () => {
    const { log } = await make();
    const a = collect(log);
    const b = collect(log);
    const unsubscribe = log.subscribe(() => {
      throw new Error('listener bug');
    });
    cleanups.push(unsubscribe);
    const ids = (await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(newEvent(String(100 + (i % 3))), null)))).map((r) => r.id);
    await eventually(() => a.length >= 50 && b.length >= 50);
    // No subscriber may get an event a second time in this time.
    await letTimePass(50);
    expect(a.map((e) => e.id)).toEqual(ids);
    expect(b.map((e) => e.id)).toEqual(ids);
  });

  it('when a listener appends while being called, then every listener still sees events in id order', async () => {
    const { log } = await make();
    let reentered = false;
    cleanups.push(
      log.subscribe(() => {
        if (reentered) return;
        reentered = true;
        void log.append(newEvent('999'), null);
      }),
    );
    const seen = collect(log);
    await log.append(newEvent(), null);
    await eventually(() => seen.length >= 2);
    expect(isAscending(seen.map((e) => e.id))).toBe(true);
  });

  it('when another instance appends to the same log, then subscribers of both get every event once, in order', async () => {
    const { log, peer } = await make();
    const other = await peer();
    const here = collect(log);
    const there = collect(other);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await (i % 2 ? other : log).append(newEvent(), null)).id);
    await eventually(() => here.length >= 40 && there.length >= 40);
    // No subscriber may get an event a second time (its own append, then again from the tail) in this time.
    await letTimePass(50);
    expect(here.map((e) => e.id)).toEqual(ids);
    expect(there.map((e) => e.id)).toEqual(ids);
  });
});
