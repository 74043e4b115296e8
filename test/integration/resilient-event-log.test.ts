/**
 * The resilient event log's own outage events coming back from the shared stream (a real redis-server the
 * test stops and starts): its listeners had them during the outage and are not given them again; the
 * `onSharedLater` listeners (the webhook dispatcher) are told, and replay knows them by their shared ids.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import type { NewCallEvent, StoredEvent } from '../../src/core/event.js';
import { RedisEventLog } from '../../src/events/redis-event-log.js';
import { ResilientEventLog } from '../../src/events/resilient-event-log.js';
import { createRedisClient } from '../../src/store/redis.js';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';

const logger = pino({ level: 'silent' });

function event(extension: string, from: string): NewCallEvent {
  return {
    type: 'call.ringing',
    timestamp: new Date().toISOString(),
    data: {
      extension,
      call: { id: null, from, fromRaw: from, fromName: null, to: extension, direction: 'inbound', sessionId: `s-${from}` },
      contact: null,
      otherContacts: [],
      links: {},
    },
  };
}

describe('when the resilient log accepts events during a Redis outage and Redis comes back', () => {
  let server: RedisServerHandle;
  let commands: Redis;
  let tail: Redis;
  let inner: RedisEventLog;
  let log: ResilientEventLog;

  beforeAll(async () => {
    server = await startRedisServer();
    commands = createRedisClient(server.url, 'test-resilient-commands', { enableAutoPipelining: true });
    tail = createRedisClient(server.url, 'test-resilient-tail', { maxRetriesPerRequest: null });
    commands.on('error', () => undefined);
    tail.on('error', () => undefined);
    inner = new RedisEventLog({ redis: commands, subscriberRedis: tail, prefix: uniquePrefix('resilient'), logger, retryMaxMs: 200 });
    log = new ResilientEventLog({ inner, redis: commands, logger, instanceId: 'resilient-test', retryIntervalMs: 50 });
    await log.start();
  });
  afterAll(async () => {
    await log?.close(0);
    await inner?.close();
    tail?.disconnect();
    commands?.disconnect();
    await server?.stop();
  });

  it('then listeners get each event once, onSharedLater is told of each, and replay has them under their shared ids', async () => {
    const heard: StoredEvent[] = [];
    log.subscribe((e) => heard.push(e));
    let sharedLater = 0;
    const stopListening = log.onSharedLater(() => sharedLater++);

    const before = await log.append(event('101', '5550001'), null);
    await eventually(() => heard.length === 1, 5000, 'the shared event to reach the listener');

    await server.stop();
    await eventually(() => log.mode() === 'degraded', 10_000, 'the log to notice the outage');
    const during = [await log.append(event('101', '5550002'), null), await log.append(event('101', '5550003'), null)];
    expect(heard.map((e) => e.id)).toEqual([before.id, ...during.map((r) => r.id)]);
    expect(sharedLater).toBe(0);

    await server.restart();
    await eventually(() => sharedLater === 2, 15_000, 'both outage events to be read back from the stream');
    expect(log.mode()).toBe('shared');
    // Nothing more reached the listeners: they had both events under their provisional ids.
    expect(heard.map((e) => e.id)).toEqual([before.id, ...during.map((r) => r.id)]);

    const replay = await log.readAfter(before.id, 10);
    expect(replay.events).toHaveLength(2);
    expect(replay.events.map((e) => (JSON.parse(e.json) as NewCallEvent).data.call.from)).toEqual(['5550002', '5550003']);
    // Shared under new stream ids, and without the log's internal origin tag.
    for (const e of replay.events) {
      expect(during.map((r) => r.id)).not.toContain(e.id);
      expect(e).not.toHaveProperty('echo');
    }

    stopListening();
    const after = await log.append(event('101', '5550004'), null);
    await eventually(() => heard.some((e) => e.id === after.id), 5000, 'a live event after the outage');
    expect(sharedLater).toBe(2);
  });
});
