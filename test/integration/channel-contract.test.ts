/**
 * One contract suite for the pub/sub channel (src/store/channel.ts) over both forms (memory and real Redis),
 * then what only the Redis form has: validation of what arrives on the wire, and the reconnect callback.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { z } from 'zod';
import { MemoryChannel, RedisChannel, type Channel } from '../../src/store/channel.js';
import { createRedisClient } from '../../src/store/redis.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';

const logger = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

function redisClient(name: string): Redis {
  const c = createRedisClient(inject('redisUrl'), name, { maxRetriesPerRequest: null });
  cleanups.push(() => c.disconnect());
  return c;
}

const Ping = z.object({ n: z.number(), from: z.string() });
type Ping = z.infer<typeof Ping>;

/** One channel per "instance", all on the same name. */
type MakeChannels = (count: number) => Promise<Array<Channel<Ping>>>;

async function redisChannels(name: string, count: number, wire?: 'json' | 'text'): Promise<Array<RedisChannel<Ping>>> {
  const commands = redisClient('test-channel');
  const out: Array<RedisChannel<Ping>> = [];
  for (let i = 0; i < count; i++) {
    const channel = new RedisChannel(commands, redisClient(`test-channel-sub-${i}`), { name, schema: Ping, wire, logger, listenerError: 'test listener threw' });
    cleanups.push(() => channel.close());
    await channel.start();
    out.push(channel);
  }
  return out;
}

const implementations: Array<[string, MakeChannels]> = [
  [
    'memory',
    async (count) => {
      // One process: every "instance" is the same channel.
      const channel = new MemoryChannel<Ping>(logger, 'test listener threw');
      cleanups.push(() => channel.close());
      return Array.from({ length: count }, () => channel);
    },
  ],
  ['redis', (count) => redisChannels(`${uniquePrefix('channel')}ping`, count)],
];

describe.each(implementations)('%s channel', (_name, make) => {
  it('when an instance publishes, then every instance hears it, the publisher included, as the typed message', async () => {
    const [a, b] = await make(2);
    if (!a || !b) throw new Error('two channels expected');
    const heardA: Ping[] = [];
    const heardB: Ping[] = [];
    a.onMessage((m) => heardA.push(m));
    b.onMessage((m) => heardB.push(m));
    await a.publish({ n: 1, from: 'a' });
    await eventually(() => heardA.length === 1 && heardB.length === 1, 5000, 'both instances to hear the message');
    expect(heardA).toEqual([{ n: 1, from: 'a' }]);
    expect(heardB).toEqual([{ n: 1, from: 'a' }]);
  });

  it('when a listener throws, then the other listeners still hear the message', async () => {
    const [a] = await make(1);
    if (!a) throw new Error('a channel expected');
    const heard: Ping[] = [];
    a.onMessage(() => {
      throw new Error('listener bug');
    });
    a.onMessage((m) => heard.push(m));
    await a.publish({ n: 2, from: 'a' });
    await eventually(() => heard.length === 1, 5000, 'the second listener to hear the message');
  });

  it('when closed, then its listeners hear nothing more', async () => {
    const [a, b] = await make(2);
    if (!a || !b) throw new Error('two channels expected');
    const heardB: Ping[] = [];
    b.onMessage((m) => heardB.push(m));
    await b.close();
    const heardA: Ping[] = [];
    if (a !== b) a.onMessage((m) => heardA.push(m));
    await a.publish({ n: 3, from: 'a' });
    // Redis: the open instance heard it, so it was delivered; memory delivers in microtasks, all run by the next check phase.
    if (a !== b) await eventually(() => heardA.length === 1, 5000, 'the open channel to hear the message');
    else await new Promise((resolve) => setImmediate(resolve));
    expect(heardB).toEqual([]);
  });
});

describe('redis channel', () => {
  it('when something that does not fit the schema is published on its name, then it is dropped and later messages still arrive', async () => {
    const name = `${uniquePrefix('channel')}ping`;
    const [a] = await redisChannels(name, 1);
    if (!a) throw new Error('a channel expected');
    const heard: Ping[] = [];
    a.onMessage((m) => heard.push(m));
    const raw = redisClient('test-channel-raw');
    await raw.publish(name, 'not json');
    await raw.publish(name, JSON.stringify({ n: 'one', from: 'x' }));
    await raw.publish(name, JSON.stringify({ n: 4, from: 'raw' }));
    await eventually(() => heard.length === 1, 5000, 'the valid message to arrive');
    expect(heard).toEqual([{ n: 4, from: 'raw' }]);
  });

  it('when the wire is text, then a string message goes as is and is validated as is', async () => {
    const name = `${uniquePrefix('channel')}jti`;
    const commands = redisClient('test-channel-text');
    const jti = z.string().regex(/^[a-z0-9]{1,8}$/);
    const channel = new RedisChannel(commands, redisClient('test-channel-text-sub'), { name, schema: jti, wire: 'text', logger, listenerError: 'test listener threw' });
    cleanups.push(() => channel.close());
    await channel.start();
    const heard: string[] = [];
    channel.onMessage((m) => heard.push(m));
    const rawHeard: string[] = [];
    const rawSubscriber = redisClient('test-channel-text-raw');
    rawSubscriber.on('message', (_channel: string, message: string) => rawHeard.push(message));
    await rawSubscriber.subscribe(name);
    await commands.publish(name, 'NOT-VALID!');
    await channel.publish('abc123');
    await eventually(() => heard.length === 1 && rawHeard.length === 2, 5000, 'the message on both subscribers');
    expect(heard).toEqual(['abc123']);
    expect(rawHeard).toEqual(['NOT-VALID!', 'abc123']);
  });

  it('when the subscriber connection drops and comes back, then onReconnect is called and messages arrive again (re-subscribed)', async () => {
    const name = `${uniquePrefix('channel')}ping`;
    const commands = redisClient('test-channel-reconnect');
    const subscriber = redisClient('test-channel-reconnect-sub');
    // Asked before subscribing: a subscribed connection takes no other commands.
    const id = await subscriber.client('ID');
    const channel = new RedisChannel(commands, subscriber, { name, schema: Ping, logger, listenerError: 'test listener threw' });
    cleanups.push(() => channel.close());
    await channel.start();
    let reconnects = 0;
    channel.onReconnect(() => reconnects++);
    const heard: Ping[] = [];
    channel.onMessage((m) => heard.push(m));
    // The server drops the subscriber's connection, as a restart or a network cut would.
    await commands.client('KILL', 'ID', String(id));
    await eventually(() => reconnects === 1, 10_000, 'the reconnect callback');
    await eventually(
      async () => {
        await channel.publish({ n: 5, from: 'after' });
        return heard.length > 0;
      },
      10_000,
      'a message after the reconnect',
    );
    expect(heard[0]).toEqual({ n: 5, from: 'after' });
  });
});
