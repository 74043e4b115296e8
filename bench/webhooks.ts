/**
 * CRM webhook delivery benchmark: `node --import tsx bench/webhooks.ts`
 *
 * 1. Throughput: deliveries per second to a local receiver (answers 204 at once), memory and Redis mode.
 * 2. Isolation: delivery latency (event appended -> receiver got it) to a healthy endpoint, p50/p99, with and
 *    without a dead endpoint (accepts the connection, never answers) registered next to it.
 *
 * Uses REDIS_URL when set, else starts a throwaway redis-server. Env: BENCH_EVENTS (default 2000),
 * BENCH_LATENCY_EVENTS (default 300), BENCH_RATE (events/s in the latency runs, default 100).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { createLogger } from '../src/logger.js';
import type { NewCallEvent } from '../src/core/event.js';
import type { EventLog, KeyValueStore, Lock } from '../src/core/ports.js';
import { MemoryEventLog } from '../src/events/memory-event-log.js';
import { RedisEventLog } from '../src/events/redis-event-log.js';
import { MemoryKeyValueStore, MemoryLock } from '../src/store/memory.js';
import { createRedisClient, RedisKeyValueStore, RedisLock } from '../src/store/redis.js';
import { startWebhookService, type WebhookService } from '../src/crm-webhooks/service.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { answerHelp } from './lib/help.js';

answerHelp(`
usage: node --import tsx bench/webhooks.ts

CRM webhook delivery: throughput to a local receiver (memory and Redis mode), and delivery latency to a
healthy endpoint with and without a dead one next to it.

options:
  -h, --help     this text
env: REDIS_URL (else a throwaway redis-server), BENCH_EVENTS (2000), BENCH_LATENCY_EVENTS (300),
     BENCH_RATE (events/s in the latency runs, 100)
`);

const EVENTS = Number(process.env.BENCH_EVENTS ?? 2000);
const LATENCY_EVENTS = Number(process.env.BENCH_LATENCY_EVENTS ?? 300);
const RATE = Number(process.env.BENCH_RATE ?? 100);
const logger = createLogger('error');

function event(i: number): NewCallEvent {
  return {
    type: 'call.ringing',
    timestamp: new Date().toISOString(),
    data: {
      extension: '101',
      call: { id: `bench-${i}`, from: '+14155550132', fromRaw: '+14155550132', fromName: 'BENCH', to: '101', direction: 'inbound', sessionId: 'session-1' },
      contact: null,
      otherContacts: [],
      links: { crm: 'https://crm.example.com/search?phone=%2B14155550132' },
    },
  };
}

interface Receiver {
  url: string;
  arrivals: Map<string, number>;
  close(): Promise<void>;
}

async function receiver(dead: boolean): Promise<Receiver> {
  const arrivals = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (dead) return; // never answers
      arrivals.set(String(req.headers['webhook-id']), performance.now());
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    arrivals,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

interface Setup {
  service: WebhookService;
  eventLog: EventLog;
  close(): Promise<void>;
}

let run = 0;
async function setup(mode: 'memory' | 'redis', redisUrl: string): Promise<Setup> {
  const common = { logger, allowPrivate: true, retryScheduleS: [1, 5], timeoutMs: 5000 };
  if (mode === 'memory') {
    const eventLog = new MemoryEventLog({ logger, maxEvents: 50_000 });
    const kv: KeyValueStore = new MemoryKeyValueStore();
    const lock: Lock = new MemoryLock();
    const service = await startWebhookService({ ...common, eventLog, kv, lock, redis: null, redisUrl: null, prefix: '' });
    return { service, eventLog, close: async () => (await service.close(), await eventLog.close()) };
  }
  const prefix = `bench:webhooks:${process.pid}:${run++}:`;
  const redis = createRedisClient(redisUrl, 'bench-commands');
  const tail = createRedisClient(redisUrl, 'bench-tail', { maxRetriesPerRequest: null });
  const eventLog = new RedisEventLog({ redis, subscriberRedis: tail, prefix, logger, maxEvents: 50_000 });
  await eventLog.start();
  const service = await startWebhookService({
    ...common,
    eventLog,
    kv: new RedisKeyValueStore(redis, prefix),
    lock: new RedisLock(redis, prefix),
    redis,
    redisUrl,
    prefix,
  });
  return {
    service,
    eventLog,
    close: async () => {
      await service.close();
      await eventLog.close();
      tail.disconnect();
      await redis.quit();
    },
  };
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

async function throughput(mode: 'memory' | 'redis', redisUrl: string): Promise<void> {
  const s = await setup(mode, redisUrl);
  const r = await receiver(false);
  const created = await s.service.createEndpoint({ url: r.url });
  if (!created.ok) throw new Error(created.message);
  const started = performance.now();
  for (let i = 0; i < EVENTS; i++) await s.eventLog.append(event(i), null);
  const appended = performance.now();
  const ok = await waitFor(() => r.arrivals.size >= EVENTS, 120_000);
  const elapsed = (performance.now() - started) / 1000;
  console.log(
    `${mode.padEnd(6)} throughput: ${EVENTS} deliveries in ${elapsed.toFixed(2)} s = ${(r.arrivals.size / elapsed).toFixed(0)} deliveries/s` +
      ` (appending took ${((appended - started) / 1000).toFixed(2)} s)${ok ? '' : ' [INCOMPLETE]'}`,
  );
  await s.close();
  await r.close();
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

async function latency(mode: 'memory' | 'redis', redisUrl: string, withDead: boolean): Promise<void> {
  const s = await setup(mode, redisUrl);
  const healthy = await receiver(false);
  const dead = await receiver(true);
  if (withDead) await s.service.createEndpoint({ url: dead.url });
  const h = await s.service.createEndpoint({ url: healthy.url });
  if (!h.ok) throw new Error(h.message);
  const appendedAt = new Map<string, number>();
  const gap = 1000 / RATE;
  const t0 = performance.now();
  for (let i = 0; i < LATENCY_EVENTS; i++) {
    const wait = t0 + i * gap - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const at = performance.now();
    const { id } = await s.eventLog.append(event(i), null);
    appendedAt.set(id, at);
  }
  const ok = await waitFor(() => healthy.arrivals.size >= LATENCY_EVENTS, 60_000);
  const lat = [...healthy.arrivals].map(([id, at]) => at - (appendedAt.get(id) ?? at)).sort((a, b) => a - b);
  console.log(
    `${mode.padEnd(6)} healthy-endpoint latency ${withDead ? 'WITH a dead endpoint   ' : 'without a dead endpoint'}: ` +
      `p50 ${pct(lat, 0.5).toFixed(1)} ms, p99 ${pct(lat, 0.99).toFixed(1)} ms, max ${pct(lat, 1).toFixed(1)} ms` +
      ` (${LATENCY_EVENTS} events at ${RATE}/s${withDead ? '; dead endpoint: 5 s timeout' : ''})${ok ? '' : ' [INCOMPLETE]'}`,
  );
  await s.close();
  await healthy.close();
  await dead.close();
}

async function main(): Promise<void> {
  let redisUrl = process.env.REDIS_URL ?? '';
  const own = redisUrl ? null : await startRedisServer();
  if (own) redisUrl = own.url;
  try {
    for (const mode of ['memory', 'redis'] as const) await throughput(mode, redisUrl);
    for (const mode of ['memory', 'redis'] as const) {
      await latency(mode, redisUrl, false);
      await latency(mode, redisUrl, true);
    }
  } finally {
    if (own) await own.stop();
    else {
      const r = new Redis(redisUrl);
      const keys = await r.keys('bench:webhooks:*');
      if (keys.length > 0) await r.del(...keys);
      r.disconnect();
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
