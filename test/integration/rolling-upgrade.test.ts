/**
 * A rolling upgrade as Kubernetes does it (deploy/kubernetes: maxSurge 1, maxUnavailable 0, preStop pause):
 * two bridge processes on one Redis; start a new one, wait for /readyz, take an old one out of the load
 * balancer, pause, SIGTERM it, and repeat until every old one is replaced. Meanwhile callbacks ring at a
 * steady rate through the "load balancer" (only ready, not-leaving instances; a failed callback is retried on
 * another, as the PBX retries) and agents stay connected, reconnecting with lastEventId when their instance
 * goes. No pop lost, none twice, no webhook delivery lost; the figures are printed.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, createHarness, postJson, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { spawnBridge, stopBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';
import { ResumingAgent } from '../helpers/resuming-agent.js';
import { eventually, letTimePass } from '../helpers/wait.js';

const EXTENSIONS = ['401', '402', '403', '404', '405', '406'];
const RATE_PER_S = 20;
/** The preStop pause, shortened: the instance is out of the pool, still serving, before SIGTERM. */
const PRE_STOP_MS = 300;
const TEST_TIMEOUT_MS = 180_000;

describe('a rolling upgrade under load', () => {
  let h: Harness;
  let redis: RedisServerHandle;
  let receiver: Receiver;
  const all: BridgeProcess[] = [];
  const agents: ResumingAgent[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    h = await createHarness();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    agents.forEach((a) => a.stop());
    await Promise.all(all.map((p) => stopBridge(p)));
    await receiver?.close();
    await h?.close();
    await redis?.stop();
  });

  const start = async (): Promise<BridgeProcess> => {
    const p = await spawnBridge({
      pbxApi: h.simulatorApi,
      redisUrl: redis.url,
      env: { LOG_LEVEL: 'warn', WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_SCHEDULE: '0.5,1,2,5' },
      startTimeoutMs: 60_000,
    });
    all.push(p);
    // Readiness, as the readinessProbe asks it, before the load balancer sends it anything.
    await eventually(async () => (await fetch(`${p.url}/readyz`).catch(() => null))?.status === 200, 30_000, 'readiness');
    return p;
  };

  it('loses no pop, shows none twice, and loses no webhook delivery', async () => {
    const pool: BridgeProcess[] = [await start(), await start()];
    const pick = () => {
      const p = pool[Math.floor(Math.random() * pool.length)];
      if (!p) throw new Error('no instance in the pool');
      return p.url;
    };
    const reg = await postJson(`${pick()}/api/webhooks`, { url: receiver.url }, admin);
    expect(reg.status).toBe(201);

    for (const ext of EXTENSIONS) {
      const r = await postJson(`${pick()}/api/tokens`, { extension: ext, role: 'agent', ttlSeconds: 600 }, admin);
      const agent = new ResumingAgent(ext, String(r.body.token), pick);
      agents.push(agent);
      await agent.connect();
    }

    // Callbacks at a steady rate; each is retried (same call id) on another instance until one answers 200.
    const accepted = new Map<string, string>(); // event id -> extension
    let rung = 0;
    let retried = 0;
    let sending = true;
    const inFlight = new Set<Promise<void>>();
    const ring = async (i: number) => {
      const extension = EXTENSIONS[i % EXTENSIONS.length] as string;
      const fields = { extension, caller: `+1202555${String(i).padStart(4, '0')}`, call_id: randomUUID(), state: 'ringing' };
      for (let attempt = 0; attempt < 50; attempt++) {
        try {
          const r = await postJson(`${pick()}/pbx/callback?secret=${SECRETS.callbackSecret}`, fields);
          if (r.status === 200) {
            accepted.set(String(r.body.eventId), extension);
            return;
          }
        } catch {
          // Connection refused or reset by an instance on its way out.
        }
        retried++;
        // The PBX's pause before it retries.
        await letTimePass(100);
      }
      throw new Error(`callback ${i} never accepted`);
    };
    const sender = (async () => {
      const startedAt = Date.now();
      while (sending) {
        if (Date.now() - startedAt > TEST_TIMEOUT_MS) throw new Error('the callback sender was never stopped');
        const i = rung++;
        const p = ring(i).finally(() => inFlight.delete(p));
        inFlight.add(p);
        // Open loop: the next callback is due at a fixed time, whatever the answers do.
        const due = startedAt + ((i + 1) * 1000) / RATE_PER_S;
        await letTimePass(Math.max(0, due - Date.now()));
      }
    })();

    // The upgrade: replace each old instance with a new one, one at a time.
    const exits: Array<{ code: number | null; signal: NodeJS.Signals | null }> = [];
    const old = [...pool];
    // About a second of load on each pool before the next step: as many callbacks accepted as the rate gives.
    const someLoad = async (what: string) => {
      const before = accepted.size;
      await eventually(() => accepted.size >= before + RATE_PER_S, 20_000, `${RATE_PER_S} callbacks accepted ${what}`);
    };
    await someLoad('by the old pool');
    for (const leaving of old) {
      const fresh = await start();
      pool.push(fresh);
      pool.splice(pool.indexOf(leaving), 1); // out of the Service's endpoints
      // preStop: out of the pool and still serving; nothing it has accepted may be lost over this time.
      await letTimePass(PRE_STOP_MS);
      leaving.kill('SIGTERM');
      exits.push(await leaving.exited);
      await someLoad('after an old instance left');
    }
    sending = false;
    await sender;
    await Promise.all([...inFlight]);

    // Every accepted event reaches its extension's agent, and the CRM.
    const expectedFor = (ext: string) => [...accepted].filter(([, e]) => e === ext).map(([id]) => id);
    await eventually(() => agents.every((a) => expectedFor(a.extension).every((id) => a.received.has(id))), 20_000, 'every pop').catch((err: unknown) => {
      // Which pops are missing, and where the agent's resume point stood: what a lost pop needs to be traced.
      for (const a of agents) {
        const missing = expectedFor(a.extension).filter((id) => !a.received.has(id));
        if (missing.length === 0) continue;
        console.log(`agent ${a.extension}: ${missing.length} pops missing ${JSON.stringify(missing.slice(0, 10))}, reconnects ${a.reconnects}, lastEventId ${a.lastEventId}, last received ${JSON.stringify([...a.received.keys()].slice(-5))}`);
        console.log(`agent ${a.extension}'s sockets: ${JSON.stringify(a.sockets)}`);
      }
      for (const p of all) console.log(`bridge ${p.url} warnings: ${JSON.stringify(p.logs.parsed().filter((l) => Number(l.level) >= 40).map((l) => l.msg)).slice(0, 2000)}`);
      throw err;
    });
    await eventually(() => [...accepted.keys()].every((id) => receiver.hitsFor(id).length > 0), 30_000, 'every webhook');
    // No pop and no webhook may arrive a second time in this time (a late duplicate would, before counting).
    await letTimePass(300);

    const pops = agents.reduce((n, a) => n + expectedFor(a.extension).filter((id) => a.received.has(id)).length, 0);
    const twice = agents.reduce((n, a) => n + [...a.received.values()].filter((c) => c > 1).length, 0);
    const stray = agents.reduce((n, a) => n + [...a.received.keys()].filter((id) => accepted.get(id) !== a.extension).length, 0);
    const delivered = [...accepted.keys()].filter((id) => receiver.hitsFor(id).length > 0).length;
    const repeatedWebhooks = [...accepted.keys()].filter((id) => receiver.hitsFor(id).length > 1).length;
    const reconnects = agents.reduce((n, a) => n + a.reconnects, 0);
    console.log(
      `rolling upgrade (2 instances, ${old.length} replaced, ${RATE_PER_S} callbacks/s, ${agents.length} agents): ` +
        `calls rung ${rung}, accepted ${accepted.size}, callback retries ${retried}, pops delivered ${pops}/${accepted.size}, ` +
        `duplicates ${twice}, agent reconnects ${reconnects}, webhook deliveries ${delivered}/${accepted.size} ` +
        `(${repeatedWebhooks} delivered more than once), old instances' exits ${exits.map((e) => e.code).join(',')}`,
    );

    const shutdownErrors = old.flatMap((p) => p.logs.parsed().filter((l) => Number(l.level) >= 50).map((l) => l.msg));
    expect(exits, `old instances' error logs: ${JSON.stringify(shutdownErrors)}`).toEqual(old.map(() => ({ code: 0, signal: null })));
    expect(accepted.size).toBe(rung);
    expect(pops).toBe(accepted.size);
    expect(twice).toBe(0);
    expect(stray).toBe(0);
    expect(delivered).toBe(accepted.size);
    expect(reconnects).toBeGreaterThanOrEqual(1);
  }, TEST_TIMEOUT_MS);
});
