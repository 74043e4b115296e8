/** What only the Redis event log has: approximate trimming, a tail loop that survives outages, prompt close. */
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { compareEventIds, type NewCallEvent, type StoredEvent } from '../../src/core/event.js';
import { RedisEventLog, type RedisEventLogOptions } from '../../src/events/redis-event-log.js';
import { createRedisClient } from '../../src/store/redis.js';
import { eventually, eventuallyValue, letTimePass } from '../helpers/wait.js';
import { LogCapture } from '../helpers/log-capture.js';
import { startRedisServer, uniquePrefix } from '../helpers/redis-server.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

function client(url: string, name: string): Redis {
  const c = createRedisClient(url, name);
  c.on('error', () => undefined);
  cleanups.push(() => c.disconnect());
  return c;
}

async function openLog(url: string, extra: Partial<RedisEventLogOptions> = {}): Promise<RedisEventLog> {
  const log = new RedisEventLog({
    redis: client(url, 'test-events'),
    subscriberRedis: client(url, 'test-events-tail'),
    prefix: uniquePrefix('events-redis'),
    logger: pino({ level: 'silent' }),
    ...extra,
  });
  cleanups.push(() => log.close());
  await log.start();
  return log;
}

function newEvent(extension = '122'): NewCallEvent {
  return {
    type: 'call.ringing',
    timestamp: new Date().toISOString(),
    data: {
      extension,
      call: { id: null, from: '+15550100', fromRaw: '5550100', fromName: null, to: extension, direction: 'inbound', sessionId: 'session-1' },
      contact: null,
      otherContacts: [],
      links: {},
    },
  };
}

/** The tail's backoff after an outage takes seconds. */
const until = (check: () => boolean, timeoutMs = 10_000) => eventually(check, timeoutMs);

describe('redis event log', () => {
  it('when many appends come in one tick, then they are added in call order, a repeated dedupe key answers the first id, and each is delivered once in order', async () => {
    const log = await openLog(inject('redisUrl'));
    const seen: StoredEvent[] = [];
    log.subscribe((e) => seen.push(e));
    const dedupe = (key: string) => ({ key, ttlMs: 60_000 });
    const results = await Promise.all([
      log.append(newEvent('201'), dedupe('batch-a')),
      log.append(newEvent('202'), null),
      log.append(newEvent('203'), dedupe('batch-a')),
      ...Array.from({ length: 300 }, (_, i) => log.append(newEvent(String(1000 + i)), dedupe(`batch-${i}`))),
    ]);
    expect(results[2]).toEqual({ id: results[0]?.id, duplicate: true });
    const added = results.filter((r) => !r.duplicate).map((r) => r.id);
    expect(added).toHaveLength(302);
    expect([...added].sort(compareEventIds)).toEqual(added);
    await until(() => seen.length >= 302);
    expect(seen.map((e) => e.id)).toEqual(added);
    expect(seen.map((e) => e.extension).slice(0, 3)).toEqual(['201', '202', '1000']);
  });

  it('when two instances append at once, then each delivers every event once, in stream order, its own without waiting for the tail', async () => {
    const url = inject('redisUrl');
    const prefix = uniquePrefix('events-order');
    const open = async (): Promise<RedisEventLog> => {
      const log = new RedisEventLog({ redis: client(url, 'order'), subscriberRedis: client(url, 'order-tail'), prefix, logger: pino({ level: 'silent' }), blockMs: 200 });
      cleanups.push(() => log.close());
      await log.start();
      return log;
    };
    const [a, b] = [await open(), await open()];
    const seenA: string[] = [];
    const seenB: string[] = [];
    a.subscribe((e) => seenA.push(e.id));
    b.subscribe((e) => seenB.push(e.id));
    const appended: string[] = [];
    for (let round = 0; round < 20; round++) {
      // Bursts from both sides in the same tick: some of A's entries follow B's, which A has not read yet.
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 3 === 0 ? b : a).append(newEvent(), null)));
      appended.push(...results.map((r) => r.id));
    }
    const expected = [...appended].sort(compareEventIds);
    await until(() => seenA.length >= expected.length && seenB.length >= expected.length);
    expect(seenA).toEqual(expected);
    expect(seenB).toEqual(expected);
    // An append straight after everything was read is delivered before its promise resolves.
    const before = seenA.length;
    const own = await a.append(newEvent(), null);
    expect(seenA.slice(before)).toEqual([own.id]);
  });

  it('when trimming is approximate, then an old id is not complete and the oldest kept id replays without gaps', async () => {
    const log = await openLog(inject('redisUrl'), { maxEvents: 50 });
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) ids.push((await log.append(newEvent(), null)).id);
    expect((await log.readAfter(ids[0] as string, 1000)).complete).toBe(false);
    const kept = (await log.readAfter('0-0', 1000)).events.map((e) => e.id);
    expect(kept.length).toBeGreaterThanOrEqual(50);
    expect(kept).toEqual(ids.slice(ids.length - kept.length));
    const fromOldest = await log.readAfter(kept[0] as string, 1000);
    expect(fromOldest.complete).toBe(true);
    expect(fromOldest.events.map((e) => e.id)).toEqual(kept.slice(1));
  });

  it('when close is called during a long blocking read, then it returns promptly and leaves the connections open', async () => {
    const url = inject('redisUrl');
    const subscriberRedis = client(url, 'test-events-tail');
    const tailId = String(await subscriberRedis.client('ID'));
    const log = await openLog(url, { subscriberRedis, blockMs: 10_000 });
    log.subscribe(() => undefined);
    // Redis itself says when the tail's connection sits in its blocking read (flag b).
    const probe = client(url, 'test-events-probe');
    await eventually(async () => / flags=\w*b/.test(String(await probe.client('LIST', 'ID', tailId))), 5000, 'the tail to block in XREAD');
    const started = Date.now();
    await log.close();
    // Far less than the 10 s block: close() unblocks the read instead of waiting it out.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await subscriberRedis.ping()).toBe('PONG');
  });

  it('when Redis goes away and comes back, then the tail logs the outage once, backs off, and resumes without losing events', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const logs = new LogCapture();
    const messages = () => logs.parsed().map((l) => String(l.msg));
    const logger = pino({ level: 'info' }, logs.stream);
    const log = await openLog(server.url, { logger, retryMinMs: 50, retryMaxMs: 400, blockMs: 500 });
    const got: StoredEvent[] = [];
    log.subscribe((e) => got.push(e));
    const first = await log.append(newEvent(), null);
    await until(() => got.length === 1);

    await server.stop();
    await until(() => messages().some((m) => m.includes('cannot read from Redis')));
    // Several failed reads at 50-400 ms backoff: none of them may log the outage a second time.
    await letTimePass(1500);
    await server.restart();

    // Appends fail until the client has reconnected.
    const second = await eventuallyValue(
      () => log.append(newEvent(), null).then((r) => r.id, () => null),
      (id) => id !== null,
      10_000,
    );
    await until(() => got.length === 2, 15_000);
    expect(got.map((e) => e.id)).toEqual([first.id, second]);
    const outageLogs = messages().filter((m) => m.includes('cannot read from Redis'));
    expect(outageLogs).toHaveLength(1);
    expect(messages().filter((m) => m.includes('reads from Redis again'))).toHaveLength(1);
  });
});
