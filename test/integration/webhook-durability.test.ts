/**
 * Durability and isolation of CRM webhook delivery with Redis: processes killed with SIGKILL between and
 * during attempts, two instances side by side, and a dead endpoint next to a healthy one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { createLogger } from '../../src/logger.js';
import { createRedisClient } from '../../src/store/redis.js';
import { RedisEventLog } from '../../src/events/redis-event-log.js';
import { RedisEndpointStore } from '../../src/crm-webhooks/stores.js';
import { generateSecret } from '../../src/crm-webhooks/signing.js';
import { admin, createHarness, postJson, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { startReceiver, type Hit, type Receiver } from '../helpers/webhook-receiver.js';
import { eventuallyValue, letTimePass } from '../helpers/wait.js';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../helpers/redis-server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));


/** Process starts and BullMQ's stalled-job checks take seconds here. */
const eventually = <T,>(read: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000) => eventuallyValue(read, ok, timeoutMs);

function verify(secret: string, hit: Hit): unknown {
  return new Webhook(secret).verify(hit.body, { 'webhook-id': hit.id, 'webhook-timestamp': hit.timestamp, 'webhook-signature': hit.signature });
}

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`child did not print ${pattern} in time; output: ${buffer.slice(-2000)}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const m = pattern.exec(buffer);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(m[1] ?? m[0]);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before printing ${pattern}; output: ${buffer.slice(-2000)}`));
    });
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await exited;
}

const children: ChildProcess[] = [];
const receivers: Receiver[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) await kill(c);
});
afterAll(async () => {
  for (const r of receivers) await r.close();
});

describe('a bridge process killed with SIGKILL while a delivery waits for its retry', () => {
  let redis: RedisServerHandle;
  let h: Harness;
  afterAll(async () => {
    await h?.close();
    await redis?.stop();
  });

  it('when a second process starts, then the retry is made by it with the same webhook-id and a valid signature', async () => {
    redis = await startRedisServer();
    h = await createHarness();
    const receiver = await startReceiver((hit) => (hit.n === 1 ? { status: 500 } : { status: 200 }));
    receivers.push(receiver);
    const env = {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      PBX_BASE_URL: h.simulatorApi,
      PBX_TOKEN: SECRETS.pbxToken,
      PBX_CALLBACK_SECRET: SECRETS.callbackSecret,
      SESSION_SECRET: SECRETS.sessionSecret,
      CREDENTIALS_KEY: SECRETS.credentialsKey,
      ADMIN_API_KEY: SECRETS.adminApiKey,
      REDIS_URL: redis.url,
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_SCHEDULE: '1.5',
      LOG_LEVEL: 'info',
    };
    const startProcess = async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      const url = await waitForLine(child, /"url":"(http:\/\/[^"]+)"/);
      return { child, url };
    };

    const first = await startProcess();
    const reg = await postJson(`${first.url}/api/webhooks`, { url: receiver.url }, admin);
    expect(reg.status).toBe(201);
    const secret = String(reg.body.secret);
    const endpointId = String(reg.body.id);
    const cb = await postJson(`${first.url}/pbx/callback?secret=${SECRETS.callbackSecret}`, { extension: '101', caller: '+14155550132', call_id: randomUUID() });
    const eventId = String(cb.body.eventId);
    await eventually(() => receiver.hitsFor(eventId), (x) => x.length === 1);
    // Wait until the first attempt's outcome is recorded and the retry scheduled, then kill.
    await eventually(
      async () => {
        const res = await fetch(`${first.url}/api/webhooks/${endpointId}/deliveries?status=pending`, { headers: admin });
        return ((await res.json()) as { deliveries: Array<{ attempts: unknown[]; nextAttemptAt: string | null }> }).deliveries;
      },
      (d) => d.length === 1 && d[0]!.attempts.length === 1 && d[0]!.nextAttemptAt !== null,
    );
    await kill(first.child);

    await startProcess();
    const hits = await eventually(() => receiver.hitsFor(eventId), (x) => x.length === 2, 15_000);
    expect(hits[1]!.id).toBe(eventId);
    expect(verify(secret, hits[1]!)).toMatchObject({ id: eventId });
    expect(hits[1]!.at - hits[0]!.at).toBeGreaterThanOrEqual(1100);
    // No third attempt (from the killed process's job as well as the new one's) may arrive in this time.
    await letTimePass(300);
    expect(receiver.hitsFor(eventId)).toHaveLength(2);
  }, 60_000);
});

describe('a delivery worker killed with SIGKILL during an attempt', () => {
  it('when another worker starts, then the job is recovered from BullMQ stalled-job check and delivered with the same webhook-id; an event appended while no worker ran is delivered too', async () => {
    const redisUrl = inject('redisUrl');
    const prefix = uniquePrefix('webhook-kill');
    const dir = mkdtempSync(join(tmpdir(), 'webhook-child-'));
    const script = join(dir, 'worker.mts');
    const src = (p: string) => JSON.stringify(new URL(`../../src/${p}`, import.meta.url).href);
    writeFileSync(
      script,
      `import { createRedisClient, RedisKeyValueStore, RedisLock } from ${src('store/redis.ts')};
import { RedisEventLog } from ${src('events/redis-event-log.ts')};
import { startWebhookService } from ${src('crm-webhooks/service.ts')};
import { createLogger } from ${src('logger.ts')};
const [url, prefix] = process.argv.slice(2);
const logger = createLogger('warn');
const redis = createRedisClient(url, 'child-commands');
const tail = createRedisClient(url, 'child-tail', { maxRetriesPerRequest: null });
const eventLog = new RedisEventLog({ redis, subscriberRedis: tail, prefix, logger, blockMs: 200 });
await eventLog.start();
await startWebhookService({ logger, eventLog, kv: new RedisKeyValueStore(redis, prefix), lock: new RedisLock(redis, prefix), redis, redisUrl: url,
  prefix, allowPrivate: true, retryScheduleS: [0.2, 0.5], timeoutMs: 30000, lockDurationMs: 1000, stalledIntervalMs: 500, dispatchLockTtlMs: 1000 });
process.stdout.write('worker ready\\n');
`,
    );
    const startWorker = async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, redisUrl, prefix], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      await waitForLine(child, /worker ready/);
      return child;
    };

    const receiver = await startReceiver((hit) => (hit.n === 1 ? 'hang' : { status: 200 }));
    receivers.push(receiver);
    const logger = createLogger('silent');
    const redis = createRedisClient(redisUrl, 'test-commands');
    const tail = createRedisClient(redisUrl, 'test-tail', { maxRetriesPerRequest: null });
    const log = new RedisEventLog({ redis, subscriberRedis: tail, prefix, logger });
    try {
      const secret = generateSecret();
      await new RedisEndpointStore(redis, prefix).create({
        id: 'ep_kill',
        url: receiver.url,
        events: null,
        description: null,
        secret,
        status: 'active',
        disabledReason: null,
        disabledAt: null,
        createdAt: new Date().toISOString(),
      });
      const event = (callId: string) => ({
        type: 'call.ringing' as const,
        timestamp: new Date().toISOString(),
        data: {
          extension: '101',
          call: { id: callId, from: '+14155550132', fromRaw: '+14155550132', fromName: null, to: '101', direction: 'inbound' as const, sessionId: 'session-1' },
          contact: null,
          otherContacts: [],
          links: {},
        },
      });

      const first = await startWorker();
      const { id: eventId } = await log.append(event('c1'), null);
      await eventually(() => receiver.hitsFor(eventId), (x) => x.length === 1, 15_000);
      await kill(first); // mid-attempt: the receiver has the request and has not answered

      // While no worker runs, another event is appended (as if the instance that accepted it died before enqueueing).
      const { id: lateId } = await log.append(event('c2'), null);

      await startWorker();
      const hits = await eventually(() => receiver.hitsFor(eventId), (x) => x.length === 2, 15_000);
      expect(verify(secret, hits[1]!)).toMatchObject({ id: eventId });
      const late = await eventually(() => receiver.hitsFor(lateId), (x) => x.length === 1, 15_000);
      expect(verify(secret, late[0]!)).toMatchObject({ id: lateId });
      // Neither delivery may be made again (the stalled job recovered twice) in this time.
      await letTimePass(500);
      expect(receiver.hitsFor(eventId)).toHaveLength(2);
      expect(receiver.hitsFor(lateId)).toHaveLength(1);
    } finally {
      await log.close();
      tail.disconnect();
      await redis.quit();
    }
  }, 60_000);
});

describe('two bridge instances on one Redis', () => {
  let h: Harness;
  let bridges: Bridge[] = [];
  afterAll(async () => h?.close());

  it('when events arrive at both, then every attempt of every delivery is made exactly once', async () => {
    h = await createHarness();
    const prefix = uniquePrefix('webhook-two');
    const env = { REDIS_URL: inject('redisUrl'), WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_SCHEDULE: '0.1', LOG_LEVEL: 'warn' };
    bridges = [await h.startBridge(env, { redisPrefix: prefix }), await h.startBridge(env, { redisPrefix: prefix })];
    const receiver = await startReceiver((hit) => (hit.n === 1 ? { status: 500 } : { status: 200 }));
    receivers.push(receiver);
    const reg = await postJson(`${bridges[0]!.url}/api/webhooks`, { url: receiver.url }, admin);
    expect(reg.status).toBe(201);
    // Both instances see the endpoint (shared store).
    const listed = await fetch(`${bridges[1]!.url}/api/webhooks`, { headers: admin }).then((r) => r.json() as Promise<{ webhooks: unknown[] }>);
    expect(listed.webhooks).toHaveLength(1);

    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const b = bridges[i % 2]!;
      const r = await postJson(`${b.url}/pbx/callback?secret=${SECRETS.callbackSecret}`, { extension: '101', caller: '+14155550132', call_id: randomUUID() });
      ids.push(String(r.body.eventId));
    }
    await eventually(() => ids.every((id) => receiver.hitsFor(id).length >= 2), Boolean, 10_000);
    // No attempt may be made a second time (by the other instance) in this time.
    await letTimePass(500);
    for (const id of ids) {
      const hits = receiver.hitsFor(id);
      expect(hits.map((x) => x.n)).toEqual([1, 2]);
      expect(verify(String(reg.body.secret), hits[1]!)).toMatchObject({ id });
    }
    expect(receiver.hits).toHaveLength(60);
  }, 30_000);
});

describe('a dead endpoint next to a healthy one', () => {
  let h: Harness;
  afterAll(async () => h?.close());

  it('when the dead one never answers, then deliveries to the healthy one are not delayed', async () => {
    h = await createHarness();
    const bridge = await h.startBridge(
      { REDIS_URL: inject('redisUrl'), WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_SCHEDULE: '0.1,0.1', WEBHOOK_TIMEOUT_MS: '5000', LOG_LEVEL: 'warn' },
      { redisPrefix: uniquePrefix('webhook-dead') },
    );
    const dead = await startReceiver(() => 'hang');
    const healthy = await startReceiver(() => ({ status: 200 }));
    receivers.push(dead, healthy);
    expect((await postJson(`${bridge.url}/api/webhooks`, { url: dead.url }, admin)).status).toBe(201);
    expect((await postJson(`${bridge.url}/api/webhooks`, { url: healthy.url }, admin)).status).toBe(201);

    const sentAt = new Map<string, number>();
    for (let i = 0; i < 80; i++) {
      const t = Date.now();
      const r = await postJson(`${bridge.url}/pbx/callback?secret=${SECRETS.callbackSecret}`, { extension: '101', caller: '+14155550132', call_id: randomUUID() });
      sentAt.set(String(r.body.eventId), t);
    }
    await eventually(() => healthy.hits.length, (n) => n === 80, 10_000);
    const latencies = healthy.hits.map((hit) => hit.at - (sentAt.get(hit.id) ?? 0)).sort((a, b) => a - b);
    // The dead endpoint holds at most its share of attempt slots, each for the whole 5 s timeout: a healthy
    // delivery queued behind one of them would take at least that long. (Absolute latency is measured by
    // bench/webhooks.ts; this machine may be busy.)
    expect(latencies[latencies.length - 1]).toBeLessThan(2500);
    expect(dead.hits.length).toBeGreaterThan(0);
  }, 30_000);
});
