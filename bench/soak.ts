/**
 * Soak: several bridge processes on one Redis, callbacks at a steady rate spread over them, agents that
 * disconnect at random and resume (on a random instance) with lastEventId, and a Redis that is stopped and
 * started again every --flap seconds. Prints events accepted, delivered, duplicated and lost, callback latency,
 * and each bridge's RSS at start and end. Exits 1 when anything was lost.
 *
 *   node --import tsx bench/soak.ts [--seconds 120] [--instances 3] [--rate 40] [--agents 12] [--flap 20] [--down 5]
 *
 * Definitions (an event is known by its callback's call id, since the events accepted during an outage are
 * delivered under a provisional id first and shared under another):
 * - accepted: a callback answered 200 without `duplicate`;
 * - delivered: an accepted event that reached the agent of its extension at least once (live or by resume);
 * - duplicated: extra copies an agent received of an event it already had;
 * - lost: accepted but never delivered to its agent (must be 0).
 * Redis runs with AOF persistence (appendfsync always), as it should in production: a restart keeps the stream.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { Redis } from 'ioredis';
import { createSimulator } from '../src/simulator/simulator.js';
import { spawnBridge, stopBridge, type BridgeProcess } from '../test/helpers/bridge-process.js';
import { admin, SECRETS } from '../test/helpers/bridge-harness.js';
import { freePort } from '../test/helpers/redis-server.js';
import { answerHelp } from './lib/help.js';
import { findRedisServer } from '../scripts/test-deps.mjs';

answerHelp(`
usage: node --import tsx bench/soak.ts [options]

Several bridge processes on one Redis, callbacks at a steady rate, agents that drop and resume, Redis
stopped and started again; prints accepted, delivered, duplicated and lost (exit 1 when anything is lost).

options:
  --seconds N    how long to run (default 120)
  --instances N  bridge processes (default 3)
  --rate N       callbacks per second (default 40)
  --agents N     connected agents (default 12)
  --flap N       stop Redis every N seconds (default 20)
  --down N       for N seconds (default 5)
  -h, --help     this text
`);

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    instances: { type: 'string', default: '3' },
    rate: { type: 'string', default: '40' },
    agents: { type: 'string', default: '12' },
    flap: { type: 'string', default: '20' },
    down: { type: 'string', default: '5' },
  },
});
const SECONDS = Number(values.seconds);
const INSTANCES = Number(values.instances);
const RATE = Number(values.rate);
const AGENTS = Number(values.agents);
const FLAP_S = Number(values.flap);
const DOWN_S = Number(values.down);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rand = (min: number, max: number) => min + Math.random() * (max - min);

// ---- Redis with persistence, stoppable --------------------------------------------------------------------

const redisDir = mkdtempSync(join(tmpdir(), 'soak-redis-'));
const redisPort = await freePort();
const redisUrl = `redis://127.0.0.1:${redisPort}/0`;
let redisProc: ChildProcess | null = null;

async function startRedis(): Promise<void> {
  redisProc = spawn(
    findRedisServer().path ?? 'redis-server', // REDIS_SERVER overrides, as for the tests
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', redisDir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--protected-mode', 'no'],
    { stdio: 'ignore' },
  );
  for (;;) {
    const c = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.ping();
      c.disconnect();
      return;
    } catch {
      c.disconnect();
      await sleep(50);
    }
  }
}

async function stopRedis(): Promise<void> {
  const p = redisProc;
  if (!p || p.exitCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await exited;
}

// ---- agents -----------------------------------------------------------------------------------------------

interface Agent {
  extension: string;
  token: string;
  lastId: string | null;
  received: Map<string, number>;
  ws: WebSocket | null;
  connects: number;
  refusedUpgrades: number;
  resumedFalse: number;
}

let running = true;
let bridges: BridgeProcess[] = [];

function connect(agent: Agent): void {
  if (!running) return;
  const target = bridges[Math.floor(Math.random() * bridges.length)] as BridgeProcess;
  const url = new URL('/ws', target.url.replace(/^http/, 'ws'));
  url.searchParams.set('token', agent.token);
  if (agent.lastId) url.searchParams.set('lastEventId', agent.lastId);
  const ws = new WebSocket(url);
  agent.ws = ws;
  let opened = false;
  ws.on('open', () => {
    opened = true;
    agent.connects++;
    // Drop the connection at a random moment, like a flaky network or a closed laptop lid.
    const timer = setTimeout(() => ws.close(), rand(2000, 9000));
    ws.once('close', () => clearTimeout(timer));
  });
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { type: string; id?: string; resumed?: boolean; data?: { call?: { id?: string } } };
    if (frame.type === 'ready') {
      if (agent.lastId && frame.resumed === false) agent.resumedFalse++;
      return;
    }
    const callId = frame.data?.call?.id;
    if (!frame.id || !callId) return;
    agent.lastId = frame.id;
    agent.received.set(callId, (agent.received.get(callId) ?? 0) + 1);
  });
  ws.on('unexpected-response', (_req, res) => {
    agent.refusedUpgrades++;
    res.resume();
    ws.terminate();
  });
  ws.on('error', () => undefined);
  ws.on('close', () => {
    if (agent.ws === ws) agent.ws = null;
    if (running) setTimeout(() => connect(agent), opened ? rand(20, 300) : 250);
  });
}

// ---- run --------------------------------------------------------------------------------------------------

async function rssOf(b: BridgeProcess): Promise<number> {
  try {
    const text = await (await fetch(`${b.url}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
    const line = text.split('\n').find((l) => l.startsWith('bridge_process_resident_memory_bytes '));
    return line ? Number(line.split(' ')[1]) : NaN;
  } catch {
    return NaN;
  }
}
const mb = (n: number) => (Number.isFinite(n) ? `${(n / 1024 / 1024).toFixed(1)} MB` : 'n/a');

async function main(): Promise<void> {
  await startRedis();
  const simulator = createSimulator({ token: SECRETS.pbxToken });
  const { apiBaseUrl } = await simulator.listen(0, '127.0.0.1');
  console.log(`soak: ${SECONDS}s, ${INSTANCES} instances, ${RATE} callbacks/s, ${AGENTS} agents, Redis down ${DOWN_S}s every ${FLAP_S}s`);
  bridges = await Promise.all(Array.from({ length: INSTANCES }, () => spawnBridge({ pbxApi: apiBaseUrl, redisUrl, env: { LOG_LEVEL: 'warn' }, startTimeoutMs: 60_000 })));

  const agents: Agent[] = [];
  for (let i = 0; i < AGENTS; i++) {
    const extension = String(501 + i);
    const res = await fetch(`${bridges[0]?.url}/api/tokens`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ extension, role: 'agent', ttlSeconds: 3600 }),
    });
    const { token } = (await res.json()) as { token: string };
    agents.push({ extension, token, lastId: null, received: new Map(), ws: null, connects: 0, refusedUpgrades: 0, resumedFalse: 0 });
  }
  agents.forEach(connect);
  const start = Date.now();
  while (agents.some((a) => a.connects === 0) && Date.now() - start < 10_000) await sleep(20);
  await sleep(500);
  const rssStart = await Promise.all(bridges.map(rssOf));

  // Callbacks at a steady rate, round robin over the instances.
  const accepted = new Map<string, string>();
  const outcomes = { duplicate: 0, refused: 0, failed: 0 };
  const latencies: number[] = [];
  let n = 0;
  let inFlight = 0;
  const sendOne = async () => {
    const i = n++;
    const bridge = bridges[i % bridges.length] as BridgeProcess;
    const extension = String(501 + Math.floor(Math.random() * AGENTS));
    const callId = `soak-${i}`;
    const started = performance.now();
    inFlight++;
    try {
      const res = await fetch(`${bridge.url}/pbx/callback?secret=${SECRETS.callbackSecret}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ extension, caller: `+1202555${String(i % 10000).padStart(4, '0')}`, call_id: callId }),
        signal: AbortSignal.timeout(5000),
      });
      const body = (await res.json()) as { duplicate?: boolean };
      latencies.push(performance.now() - started);
      if (res.status === 200 && !body.duplicate) accepted.set(callId, extension);
      else if (res.status === 200) outcomes.duplicate++;
      else outcomes.refused++;
    } catch {
      outcomes.failed++;
    } finally {
      inFlight--;
    }
  };
  const ticker = setInterval(() => void sendOne(), 1000 / RATE);

  // Redis flaps.
  let outages = 0;
  const flapping = (async () => {
    for (;;) {
      const waitUntil = Date.now() + FLAP_S * 1000;
      while (Date.now() < waitUntil) {
        if (Date.now() - start > SECONDS * 1000) return;
        await sleep(100);
      }
      if (Date.now() - start + DOWN_S * 1000 > SECONDS * 1000) return;
      outages++;
      console.log(`[${Math.round((Date.now() - start) / 1000)}s] stopping Redis`);
      await stopRedis();
      await sleep(DOWN_S * 1000);
      await startRedis();
      console.log(`[${Math.round((Date.now() - start) / 1000)}s] Redis back`);
    }
  })();

  while (Date.now() - start < SECONDS * 1000) await sleep(200);
  clearInterval(ticker);
  await flapping;
  while (inFlight > 0) await sleep(20);

  // Let every agent catch up (reconnects resume from their last id).
  const delivered = () => [...accepted].filter(([callId, ext]) => (agents[Number(ext) - 501]?.received.get(callId) ?? 0) > 0).length;
  const drainUntil = Date.now() + 30_000;
  while (delivered() < accepted.size && Date.now() < drainUntil) await sleep(200);
  await sleep(1000);
  running = false;
  const rssEnd = await Promise.all(bridges.map(rssOf));

  let duplicated = 0;
  for (const a of agents) for (const count of a.received.values()) duplicated += Math.max(0, count - 1);
  const lostIds = [...accepted].filter(([callId, ext]) => (agents[Number(ext) - 501]?.received.get(callId) ?? 0) === 0).map(([c]) => c);
  latencies.sort((x, y) => x - y);
  const pct = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0 : 0).toFixed(1);

  console.log('');
  console.log(`callbacks sent:        ${n}`);
  console.log(`events accepted:       ${accepted.size}`);
  console.log(`events delivered:      ${accepted.size - lostIds.length}`);
  console.log(`events duplicated:     ${duplicated}`);
  console.log(`events lost:           ${lostIds.length}${lostIds.length ? ` (${lostIds.slice(0, 10).join(', ')})` : ''}`);
  console.log(`callbacks refused/failed/duplicate: ${outcomes.refused}/${outcomes.failed}/${outcomes.duplicate}`);
  console.log(`callback latency ms:   p50 ${pct(0.5)}  p99 ${pct(0.99)}  max ${pct(1)}`);
  console.log(`Redis outages:         ${outages}`);
  console.log(`agent connects:        ${agents.reduce((s, a) => s + a.connects, 0)} (refused upgrades ${agents.reduce((s, a) => s + a.refusedUpgrades, 0)}, resumed:false ${agents.reduce((s, a) => s + a.resumedFalse, 0)})`);
  bridges.forEach((b, i) => console.log(`bridge ${i} RSS:          ${mb(rssStart[i] ?? NaN)} -> ${mb(rssEnd[i] ?? NaN)}`));

  for (const a of agents) a.ws?.terminate();
  await Promise.all(bridges.map((b) => stopBridge(b)));
  await simulator.close();
  await stopRedis();
  rmSync(redisDir, { recursive: true, force: true });
  process.exitCode = lostIds.length === 0 ? 0 : 1;
}

main().catch(async (err: unknown) => {
  console.error('soak failed:', err);
  running = false;
  await Promise.all(bridges.map((b) => stopBridge(b).catch(() => undefined)));
  await stopRedis().catch(() => undefined);
  rmSync(redisDir, { recursive: true, force: true });
  process.exitCode = 1;
});
