/**
 * The call tracker's cost and speed (docs/calls.md): PBX requests per second while 0, 10 and 200 calls are
 * open; outcome latency from the PBX changing activeCalls (an answer, a hang-up) to the frame at a socket;
 * CPU of the bridge process at 200 open calls (simulator and bridge share this process, so the idle CPU is
 * measured first and subtracted).
 *
 *   node --import tsx bench/calls.ts            full run (about a minute)
 *   node --import tsx bench/calls.ts --quick    smoke run: 10 and 30 calls, short windows
 *
 * Figures from a shared machine mean nothing: take them on a quiet one.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startBridge } from '../src/bridge.js';
import { createSimulator } from '../src/simulator/simulator.js';
import { DEMO_EXTENSIONS } from '../src/simulator/seed.js';
import { summarize } from './lib/stats.js';

const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const LEVELS = QUICK ? [0, 10, 30] : [0, 10, 200];
const WINDOW_MS = QUICK ? 1000 : 5000;
const POLL_MS = 1000;
const TOKEN = 'bench-tenant-token-0000';
const SECRET = 'bench-callback-secret-0000';
const ADMIN = 'bench-admin-key-000000000000';
const GROUP_MEMBERS = ['101', '102', '103'];

interface Frame {
  type?: string;
  data?: { call?: { from?: string } };
}

async function main(): Promise<void> {
  const sim = createSimulator({ token: TOKEN, recordingDelayMs: 1000, activeCalls: 'ringing-legs' });
  const { apiBaseUrl } = await sim.listen(0, '127.0.0.1');
  const parsed = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    PBX_BASE_URL: apiBaseUrl,
    PBX_TOKEN: TOKEN,
    PBX_CALLBACK_SECRET: SECRET,
    SESSION_SECRET: 'bench-session-secret-0123456789abcdef0123',
    CREDENTIALS_KEY: Buffer.alloc(32, 7).toString('base64'),
    ADMIN_API_KEY: ADMIN,
    ACTIVE_CALLS_POLL_MS: String(POLL_MS),
    LOG_LEVEL: 'silent',
    REDIS_URL: process.env.BENCH_REDIS_URL ?? '',
  });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  const bridge = await startBridge(parsed.config, createLogger('silent'));
  sim.setCallbackUrl(`${bridge.url}/pbx/callback/${SECRET}`);
  for (const ext of GROUP_MEMBERS) {
    await fetch(`${apiBaseUrl}/info/crmSubscribe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token_id: TOKEN, extension_number: ext, extension_password: createHash('md5').update(DEMO_EXTENSIONS[ext] ?? '').digest('hex') }),
    });
  }
  const tokenRes = await fetch(`${bridge.url}/api/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ extension: '*', role: 'supervisor' }),
  });
  const { token } = (await tokenRes.json()) as { token: string };
  const ws = new WebSocket(`${bridge.url.replace('http', 'ws')}/ws?token=${encodeURIComponent(token)}`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const waiters = new Map<string, (at: number) => void>();
  ws.on('message', (raw) => {
    const f = JSON.parse(String(raw)) as Frame;
    const key = `${f.type}|${f.data?.call?.from ?? ''}`;
    const w = waiters.get(key);
    if (w) {
      waiters.delete(key);
      w(performance.now());
    }
  });
  const frameAt = (type: string, from: string): Promise<number> => new Promise((resolve) => waiters.set(`${type}|${from}`, resolve));

  const totalRequests = () => Object.values(sim.requestCounts()).reduce((a, b) => a + b, 0);
  const rows: Array<[string, string]> = [];
  const answerLatency: number[] = [];
  const endLatency: number[] = [];
  let idleCpuPerS = 0;
  let cpuAtMax = 0;
  let seq = 0;

  for (const level of LEVELS) {
    const calls: Array<{ callId: string; from: string }> = [];
    for (let i = 0; i < level; i++) {
      const from = `+1415556${String(seq++).padStart(4, '0')}`;
      const ringing = frameAt('call.ringing', from);
      const { callId } = await sim.startCall({ from, to: '5000' });
      calls.push({ callId, from });
      await ringing;
    }
    await sleep(POLL_MS * 2);
    const before = totalRequests();
    const cpu0 = process.cpuUsage();
    await sleep(WINDOW_MS);
    const cpu = process.cpuUsage(cpu0);
    const requestsPerS = ((totalRequests() - before) * 1000) / WINDOW_MS;
    const cpuPerS = ((cpu.user + cpu.system) / 1000 / WINDOW_MS) * 1000;
    if (level === 0) idleCpuPerS = cpuPerS;
    if (level === LEVELS[LEVELS.length - 1]) cpuAtMax = cpuPerS - idleCpuPerS;
    rows.push([`PBX requests/s @${level} open calls`, requestsPerS.toFixed(2)]);
    // Answer every call at once (one member each), then hang them all up; time each outcome's frame.
    await Promise.all(
      calls.map(async (c) => {
        const seen = frameAt('call.answered', c.from);
        const t0 = performance.now();
        await sim.answerCall(c.callId, '102');
        answerLatency.push((await seen) - t0);
      }),
    );
    await Promise.all(
      calls.map(async (c) => {
        const seen = frameAt('call.ended', c.from);
        const t0 = performance.now();
        await sim.hangupCall(c.callId);
        endLatency.push((await seen) - t0);
      }),
    );
  }
  const a = summarize(answerLatency);
  const e = summarize(endLatency);
  rows.push(['outcome latency p50 / p99 ms (answered)', `${a.p50} / ${a.p99}`]);
  rows.push(['outcome latency p50 / p99 ms (ended)', `${e.p50} / ${e.p99}`]);
  rows.push([`tracker CPU ms/s @${LEVELS[LEVELS.length - 1]} open calls (over idle)`, cpuAtMax.toFixed(1)]);
  console.log(`call tracker (${QUICK ? 'quick' : 'full'} run, ACTIVE_CALLS_POLL_MS=${POLL_MS})`);
  for (const [name, value] of rows) console.log(`  ${name.padEnd(52)} ${value}`);
  ws.close();
  await bridge.close();
  await sim.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
