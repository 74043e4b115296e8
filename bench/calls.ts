/**
 * The call tracker's cost and speed (docs/calls.md, docs/performance.md): PBX requests per second while 0,
 * 10 and 200 calls are open; outcome latency from the simulator changing activeCalls (an answer, a hang-up)
 * to the frame at a supervisor's socket; and the bridge process's CPU at 200 open calls over its idle CPU
 * (what polling costs), judged against the target of at most 5 % of one core.
 *
 * The bridge runs as a child process (`src/main.ts`, as the other benchmarks start it), so its CPU is read
 * from /proc and contains nothing of the simulator or this harness. The simulator lists ringing legs
 * (listing (a)), so every answer and hang-up is something a poll can see.
 *
 *   node --import tsx bench/calls.ts                 memory and Redis mode (about 90 s)
 *   node --import tsx bench/calls.ts --mode memory   one mode
 *   node --import tsx bench/calls.ts --quick         smoke run: 10 and 30 calls, 1 s windows
 *   node --import tsx bench/calls.ts --cpu-prof DIR  also write the bridge's .cpuprofile to DIR
 *   node --import tsx bench/calls.ts --json          one JSON line at the end (for bench/run.ts)
 *
 * Figures from a shared machine mean little: take them on a quiet one.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { createSimulator, type Simulator } from '../src/simulator/simulator.js';
import { DEMO_EXTENSIONS, DEMO_TOKEN, generateContacts } from '../src/simulator/seed.js';
import { startRedisServer, type RedisServerHandle } from '../test/helpers/redis-server.js';
import { answerHelp } from './lib/help.js';
import { cpuTimeMs, getJson } from './lib/procs.js';
import { round, summarize } from './lib/stats.js';
import { ADMIN_API_KEY, CALLBACK_SECRET, mapLimit, startBridge, type Target } from './lib/targets.js';
import { runMain } from './lib/run-main.js';

answerHelp(`
usage: node --import tsx bench/calls.ts [--quick] [--mode memory|redis|both] [--cpu-prof DIR] [--json]

The call tracker: PBX requests/s at 0, 10 and 200 open calls, outcome latency p50/p99 (simulator changes
activeCalls -> frame at the socket), and the bridge's CPU at 200 open calls over idle, PASS/FAIL against 5 %
of one core (ACTIVE_CALLS_POLL_MS=1000).

options:
  --quick          10 and 30 calls, 1 s windows (a smoke run; figures mean nothing)
  --mode M         memory, redis or both (default both)
  --cpu-prof DIR   start the bridge with node --cpu-prof, profile written to DIR at its exit
  --json           print one JSON line with every figure at the end
  -h, --help       this text
`);

const args = process.argv.slice(2);
const argValue = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const QUICK = args.includes('--quick') || process.env.BENCH_QUICK === '1';
const JSON_OUT = args.includes('--json');
const MODE = argValue('--mode') ?? 'both';
const CPU_PROF_DIR = argValue('--cpu-prof');
const LEVELS = QUICK ? [0, 10, 30] : [0, 10, 200];
const WINDOW_MS = QUICK ? 1000 : 4000;
/** The CPU window at the top level: longer, since it is the figure judged. */
const TOP_WINDOW_MS = QUICK ? 2000 : 8000;
const POLL_MS = 1000;
const TARGET_PCT = 5;
/** An outcome frame that has not come within this is counted lost (the run goes on). */
const FRAME_WAIT_MS = 30_000;
const GROUP = '5000';
const GROUP_MEMBERS = ['101', '102', '103'];
const CONTACTS = 100;

const log = (msg: string): void => {
  if (!JSON_OUT) console.error(`[calls] ${msg}`);
};

interface Frame {
  type?: string;
  data?: { call?: { from?: string } };
}

interface ModeResult {
  mode: 'memory' | 'redis';
  requestsPerS: Record<string, number>;
  cpuMsPerS: Record<string, number>;
  redisCpuMsPerS: Record<string, number> | null;
  answered: { p50: number; p99: number; count: number };
  ended: { p50: number; p99: number; count: number };
  lost: number;
  /** Calls none of whose ringing callbacks the bridge accepted. */
  undelivered: number;
  /** Bridge CPU at the top level over idle, as % of one core. */
  trackerCpuPct: number;
  pass: boolean;
}

/** A supervisor's socket that resolves a waiter per (type, caller) on the first such frame. */
class FrameWatch {
  private readonly waiters = new Map<string, (at: number) => void>();
  constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      const f = JSON.parse(String(raw)) as Frame;
      const key = `${f.type}|${f.data?.call?.from ?? ''}`;
      const w = this.waiters.get(key);
      if (w) {
        this.waiters.delete(key);
        w(performance.now());
      }
    });
  }

  /** When the frame came (performance.now()), or null when it did not within FRAME_WAIT_MS. */
  next(type: string, from: string): Promise<number | null> {
    const key = `${type}|${from}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        resolve(null);
      }, FRAME_WAIT_MS);
      this.waiters.set(key, (at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
  }
}

async function supervisor(target: Target): Promise<FrameWatch> {
  const res = await fetch(`${target.server.url}/api/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ extension: '*', role: 'supervisor' }),
  });
  const { token } = (await res.json()) as { token: string };
  const ws = new WebSocket(`${target.server.url.replace('http', 'ws')}/ws?token=${encodeURIComponent(token)}`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return new FrameWatch(ws);
}

/** Waits until the bridge follows no call any more (call log and recording lookups done), up to `ms`. */
async function settled(target: Target, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const { body } = await getJson(`${target.server.url}/readyz`);
    if ((body as { calls?: { active?: number } }).calls?.active === 0) return;
    await sleep(250);
  }
}

async function runMode(mode: 'memory' | 'redis', sim: Simulator, apiBaseUrl: string, firstCaller: number): Promise<ModeResult> {
  let redis: RedisServerHandle | null = null;
  let target: Target | null = null;
  try {
    if (mode === 'redis') redis = await startRedisServer();
    target = await startBridge({
      name: `bridge-${mode}`,
      simApiUrl: apiBaseUrl,
      contacts: CONTACTS,
      ...(redis ? { redisUrl: redis.url } : {}),
      ...(CPU_PROF_DIR ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', CPU_PROF_DIR] } : {}),
      env: { ACTIVE_CALLS_POLL_MS: String(POLL_MS), LOG_LEVEL: 'warn', RECORDING_WAIT_S: '30', CALL_LOG_WAIT_S: '30' },
    });
    sim.setCallbackUrl(`${target.server.url}/pbx/callback/${CALLBACK_SECRET}`);
    sim.reset();
    sim.setCallsMode({ activeCalls: 'ringing-legs', recordingDelayMs: 500 });
    for (const ext of GROUP_MEMBERS) {
      const password = createHash('md5')
        .update(DEMO_EXTENSIONS[ext] ?? '')
        .digest('hex');
      await fetch(`${apiBaseUrl}/info/crmSubscribe`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token_id: DEMO_TOKEN, extension_number: ext, extension_password: password }),
      });
    }
    const watch = await supervisor(target);
    const server = target.server;
    const redisPid = redis?.process.pid ?? null;
    const totalRequests = () => Object.values(sim.requestCounts()).reduce((a, b) => a + b, 0);
    const result: ModeResult = {
      mode,
      requestsPerS: {},
      cpuMsPerS: {},
      redisCpuMsPerS: redisPid === null ? null : {},
      answered: { p50: NaN, p99: NaN, count: 0 },
      ended: { p50: NaN, p99: NaN, count: 0 },
      lost: 0,
      undelivered: 0,
      trackerCpuPct: NaN,
      pass: false,
    };
    const answerLatency: number[] = [];
    const endLatency: number[] = [];
    let seq = firstCaller;
    // Warm-up: one whole call, so the idle window below measures an idle bridge, not one still compiling
    // the modules its first call loads.
    const warm = `+1415557${String(firstCaller).padStart(4, '0')}`;
    const rang = watch.next('call.ringing', warm);
    const { callId: warmId } = await sim.startCall({ from: warm, to: GROUP });
    await rang;
    await sleep(POLL_MS * 2);
    const answered = watch.next('call.answered', warm);
    await sim.answerCall(warmId, '102');
    await answered;
    const ended = watch.next('call.ended', warm);
    await sim.hangupCall(warmId);
    await ended;
    for (const level of LEVELS) {
      await settled(target, 60_000);
      const from = Array.from({ length: level }, () => `+1415556${String(seq++).padStart(4, '0')}`);
      const started = await mapLimit(from, 10, async (caller) => {
        const ringing = watch.next('call.ringing', caller);
        const { callId, delivered, undelivered } = await sim.startCall({ from: caller, to: GROUP });
        // A call whose every ringing callback the bridge refused (503 from its overload guard on a loaded
        // machine) never reached the tracker: counted apart, and left out of the latency figures.
        if (delivered.length === 0) {
          result.undelivered += 1;
          log(`${mode}: no ringing callback of ${caller} was accepted: ${JSON.stringify(undelivered)}`);
          return null;
        }
        if ((await ringing) === null) {
          result.lost += 1;
          log(`${mode}: no call.ringing for ${caller} within ${FRAME_WAIT_MS / 1000} s`);
        }
        return { callId, from: caller };
      });
      const calls = started.filter((c): c is { callId: string; from: string } => c !== null);
      log(`${mode}: ${level} calls ringing`);
      // Let every call be seen by two polls, then measure with nothing changing.
      await sleep(POLL_MS * 2);
      const windowMs = level === LEVELS[LEVELS.length - 1] ? TOP_WINDOW_MS : WINDOW_MS;
      const before = totalRequests();
      const cpu0 = cpuTimeMs(server.pid);
      const rcpu0 = redisPid === null ? 0 : cpuTimeMs(redisPid);
      const t0 = performance.now();
      await sleep(windowMs);
      const wall = performance.now() - t0;
      result.requestsPerS[level] = round(((totalRequests() - before) * 1000) / wall, 2);
      result.cpuMsPerS[level] = round(((cpuTimeMs(server.pid) - cpu0) * 1000) / wall, 1);
      if (result.redisCpuMsPerS && redisPid !== null) result.redisCpuMsPerS[level] = round(((cpuTimeMs(redisPid) - rcpu0) * 1000) / wall, 1);
      if (level === 0) continue;
      // Every call answered at once (one member each), then every one hung up; each outcome's frame timed.
      const timed = async (type: string, caller: string, change: () => Promise<unknown>, into: number[]) => {
        const seen = watch.next(type, caller);
        const at = performance.now();
        await change();
        const got = await seen;
        if (got === null) {
          result.lost += 1;
          log(`${mode}: no ${type} for ${caller} within ${FRAME_WAIT_MS / 1000} s`);
        } else into.push(got - at);
      };
      await Promise.all(calls.map((c) => timed('call.answered', c.from, () => sim.answerCall(c.callId, '102'), answerLatency)));
      await Promise.all(calls.map((c) => timed('call.ended', c.from, () => sim.hangupCall(c.callId), endLatency)));
      log(`${mode}: ${level} calls answered and ended (${result.requestsPerS[level]} PBX requests/s, ${result.cpuMsPerS[level]} CPU ms/s)`);
    }
    watch.ws.close();
    const a = summarize(answerLatency);
    const e = summarize(endLatency);
    result.answered = { p50: round(a.p50, 0), p99: round(a.p99, 0), count: a.count };
    result.ended = { p50: round(e.p50, 0), p99: round(e.p99, 0), count: e.count };
    const top = LEVELS[LEVELS.length - 1] ?? 0;
    result.trackerCpuPct = round(((result.cpuMsPerS[top] ?? NaN) - (result.cpuMsPerS[0] ?? NaN)) / 10, 1);
    result.pass = result.trackerCpuPct <= TARGET_PCT && result.lost === 0;
    return result;
  } finally {
    await target?.stop();
    await redis?.stop();
  }
}

function print(results: ModeResult[], seconds: number): void {
  const top = LEVELS[LEVELS.length - 1] ?? 0;
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`call tracker (${QUICK ? 'quick' : 'full'} run, ACTIVE_CALLS_POLL_MS=${POLL_MS}, ${seconds} s, load average ${load})`);
  const header = ['figure', ...results.map((r) => r.mode)];
  const rows: string[][] = [];
  for (const level of LEVELS) rows.push([`PBX requests/s @${level} open calls`, ...results.map((r) => String(r.requestsPerS[level] ?? '-'))]);
  for (const level of LEVELS) {
    rows.push([
      `bridge CPU ms/s @${level} open calls`,
      ...results.map((r) => `${r.cpuMsPerS[level] ?? '-'}${r.redisCpuMsPerS ? ` (+redis ${r.redisCpuMsPerS[level] ?? '-'})` : ''}`),
    ]);
  }
  rows.push(['outcome latency p50 / p99 ms (answered)', ...results.map((r) => `${r.answered.p50} / ${r.answered.p99}`)]);
  rows.push(['outcome latency p50 / p99 ms (ended)', ...results.map((r) => `${r.ended.p50} / ${r.ended.p99}`)]);
  rows.push(['outcome frames lost (of calls that rang)', ...results.map((r) => String(r.lost))]);
  rows.push(['calls whose ringing the bridge refused', ...results.map((r) => String(r.undelivered))]);
  rows.push([`tracker CPU @${top} calls, % of one core (<= ${TARGET_PCT})`, ...results.map((r) => `${r.trackerCpuPct} ${r.pass ? 'PASS' : 'FAIL'}`)]);
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => (row[i] ?? '').length)));
  for (const row of [header, ...rows]) console.log(`  ${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ')}`);
}

async function main(): Promise<void> {
  const started = performance.now();
  const modes: Array<'memory' | 'redis'> = MODE === 'memory' ? ['memory'] : MODE === 'redis' ? ['redis'] : ['memory', 'redis'];
  const sim = createSimulator({ contacts: generateContacts(CONTACTS), recordingDelayMs: 500, activeCalls: 'ringing-legs' });
  const { apiBaseUrl } = await sim.listen(0, '127.0.0.1');
  const results: ModeResult[] = [];
  try {
    for (const [i, mode] of modes.entries()) results.push(await runMode(mode, sim, apiBaseUrl, i * 1000));
  } finally {
    await sim.close();
  }
  const seconds = Math.round((performance.now() - started) / 1000);
  if (JSON_OUT) console.log(JSON.stringify({ quick: QUICK, pollMs: POLL_MS, targetPct: TARGET_PCT, seconds, results }));
  else print(results, seconds);
}

runMain(main);
