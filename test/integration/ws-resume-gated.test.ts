/**
 * The resume path's hand-over from replay to live, driven step by step against a real Redis with two
 * instances' logs on one stream: the hub's instance (whose own appends deliver themselves) and another one
 * (whose events reach the hub through the tail). The replay's read is held at two points, before it reads
 * and after it has read, while both instances append and the hub receives those events live; the resumed
 * socket must get every event after its id exactly once, in order.
 */
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, inject, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.js';
import type { EventLog, ReplayResult } from '../../src/core/ports.js';
import { RedisEventLog } from '../../src/events/redis-event-log.js';
import { createRedisClient } from '../../src/store/redis.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { startAgentHub } from '../helpers/agent-hub.js';
import { ringingEvent } from '../helpers/events.js';
import { cleanupsAfterEach } from '../helpers/cleanups.js';
import { eventually, letTimePass } from '../helpers/wait.js';
import { openAgentSocket } from '../helpers/ws-client.js';

const logger = pino({ level: 'silent' });
const cleanups = cleanupsAfterEach();

async function instanceLog(prefix: string, name: string): Promise<RedisEventLog> {
  const clients: Redis[] = [createRedisClient(inject('redisUrl'), name), createRedisClient(inject('redisUrl'), `${name}-tail`)];
  cleanups.push(() => clients.forEach((c) => c.disconnect()));
  const log = new RedisEventLog({ redis: clients[0] as Redis, subscriberRedis: clients[1] as Redis, prefix, logger });
  cleanups.push(() => log.close());
  await log.start();
  return log;
}

/** A step the test releases: `reached` once the code got there, `release()` lets it go on. */
function gate(): { reached: Promise<void>; arrive: () => void; passed: Promise<void>; release: () => void } {
  let arrive = () => {};
  let release = () => {};
  const reached = new Promise<void>((r) => (arrive = r));
  const passed = new Promise<void>((r) => (release = r));
  return { reached, arrive, passed, release };
}

describe('websocket resume against two instances on one Redis stream', () => {
  it('when both instances append before and after the replay is read, then the resumed socket gets each event once, in order', async () => {
    const prefix = uniquePrefix('ws-resume-gated');
    const here = await instanceLog(prefix, 'test-gated-here');
    const other = await instanceLog(prefix, 'test-gated-other');

    // The hub's log, with its replay read held twice: before it reads, and after it has read.
    const beforeRead = gate();
    const afterRead = gate();
    let reads = 0;
    const held: EventLog = {
      append: (e, d, n) => here.append(e, d, n),
      lastId: () => here.lastId(),
      subscribe: (l) => here.subscribe(l),
      close: () => here.close(),
      async readAfter(afterId: string, limit: number): Promise<ReplayResult> {
        if (reads++ > 0) return here.readAfter(afterId, limit);
        beforeRead.arrive();
        await beforeRead.passed;
        const result = await here.readAfter(afterId, limit);
        afterRead.arrive();
        await afterRead.passed;
        return result;
      },
    };
    const { port, token } = await startAgentHub(held, '401', logger, cleanups);
    // What the hub's instance received live: once an event is here, the hub (subscribed first) has it too.
    const live: StoredEvent[] = [];
    here.subscribe((e) => live.push(e));
    const liveHas = (ids: string[]) => eventually(() => ids.every((id) => live.some((e) => e.id === id)), 5000, 'the events delivered live');

    const expected: string[] = [];
    const appendOn = async (log: RedisEventLog, extension: string) => {
      const { id } = await log.append(ringingEvent(extension), null);
      if (extension === '401') expected.push(id);
      return id;
    };
    const seen = await appendOn(here, '401');
    expected.length = 0;
    // Missed while the agent was away, from both instances and for another extension too.
    const missed = [await appendOn(other, '401'), await appendOn(here, '402'), await appendOn(here, '401')];
    await liveHas(missed);

    const url = `http://127.0.0.1:${port}`;
    const socketOpened = openAgentSocket(url, token, seen);
    cleanups.push(async () => (await socketOpened).ws.terminate());

    // Before the read: these are live (held for the socket) and in the replay too.
    await beforeRead.reached;
    const duringRead = [await appendOn(other, '401'), await appendOn(here, '401'), await appendOn(other, '402')];
    await liveHas(duringRead);
    beforeRead.release();

    // After the read: these are live only.
    await afterRead.reached;
    const afterReadIds = [await appendOn(here, '401'), await appendOn(other, '401'), await appendOn(here, '401')];
    await liveHas(afterReadIds);
    afterRead.release();

    const s = await socketOpened;
    await eventually(() => s.events().length >= expected.length, 5000, 'every event after the id');
    // Then live ones keep coming, from both instances.
    const later = [await appendOn(other, '401'), await appendOn(here, '401')];
    await eventually(() => s.events().length >= expected.length, 5000, 'the live events after the resume');
    // No event may arrive a second time (replayed and then sent live) in this time.
    await letTimePass(100);

    expect(s.frames[0]).toEqual({ type: 'ready', extension: '401', resumed: true });
    expect(s.events().map((f) => f.id)).toEqual(expected);
    expect(later.every((id) => expected.includes(id))).toBe(true);
  });
});
