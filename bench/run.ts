/**
 * `npm run bench`: two baseline relays (Express, and bare node:http: the stack's limit) and the bridge (memory
 * and Redis mode) under the same open-loop load, in one run on one machine, plus the bridge's in-process
 * figures. Prints one table with every target's PASS/FAIL and writes the raw results (with the machine's
 * description) to bench/results/ (not committed).
 *
 *   npm run bench                  full run (about 5-6 minutes on a 2-core machine)
 *   npm run bench -- --quick       smoke run: every piece for about a second, tiny phonebook (BENCH_QUICK=1 too)
 *
 * Env: BENCH_RESULTS_DIR (default bench/results), BENCH_ONLY=limit,baseline,memory,redis,overload,small,inproc to run a subset
 * (overload: the bridges driven past their limit after the ladder; BENCH_OVERLOAD_RATE=n sets its rate; calls: the
 * call tracker's polling, bench/calls.ts, about 90 s more, so only when named);
 * BENCH_LADDER=250,1000,2000 a shorter ladder (rates per second, ascending) while other jobs need the CPU.
 * See docs/performance.md for what each figure means.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createSimulator } from '../src/simulator/simulator.js';
import { generateContacts, type PhonebookEntry } from '../src/simulator/seed.js';
import { startRedisServer, type RedisServerHandle } from '../test/helpers/redis-server.js';
import { LoadGenerator, closeSockets, connectMany, type StepRaw } from './lib/loadgen.js';
import { cpuTimeMs, machineBusyMs, rssBytes, runQueueWaitMs } from './lib/procs.js';
import { rng, round } from './lib/stats.js';
import { refreshPhonebook, startBaseline, startBridge, type ServerSample, type Target } from './lib/targets.js';
import { answerHelp } from './lib/help.js';
import { runMain } from './lib/run-main.js';

answerHelp(`
usage: npm run bench [-- --quick]

The baseline relay and the bridge (memory and Redis mode) under the same open-loop load, plus in-process
figures; prints one table and writes the raw results to bench/results/ (about 5-6 minutes).

options:
  --quick        smoke run: every piece for about a second, tiny phonebook (also BENCH_QUICK=1)
  -h, --help     this text
env: BENCH_RESULTS_DIR (default bench/results), BENCH_ONLY=baseline,memory,redis (a subset; bench/run.ts lists every part;
     add calls for the call tracker's polling, bench/calls.ts, not run by default),
     BENCH_LADDER=250,1000,2000 (the ladder's rates instead of the default), BENCH_OVERLOAD_RATE=n (the step past the limit),
     BENCH_OVERLOAD_STALL_MS=n (stop the bridge for n ms 1 s into that step: a backlog in the sender for certain)
`);

const QUICK = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick');
const ONLY = new Set((process.env.BENCH_ONLY ?? 'limit,baseline,memory,redis,overload,small,inproc').split(',').map((s) => s.trim()));

const P = QUICK
  ? {
      contactsBig: 3000,
      contactsSmall: 1000,
      agentsBig: 40,
      agentsSmall: 20,
      idleAgents: 100,
      warmupMs: 300,
      stepMs: 1000,
      fixedMs: 1000,
      ladder: [250, 1000],
      saturationMs: 1000,
      overloadMs: 2500,
      moderateMs: 1000,
      drainMs: 1500,
      pauseMs: 100,
      lookups: 300,
    }
  : {
      contactsBig: 100_000,
      contactsSmall: 10_000,
      agentsBig: 1000,
      agentsSmall: 500,
      idleAgents: 2000,
      warmupMs: 2000,
      // Short steps, several of them per rate (atRate): the verdict is the majority of attempts.
      stepMs: 2000,
      fixedMs: 4000,
      // Past the relays' limit, so the ratios are not capped by the top of the ladder.
      ladder: [250, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 5500, 6000, 6500, 7000, 7500, 8000],
      saturationMs: 3000,
      // Long enough for the bridge's overload guard (1 s of a saturated loop before it refuses) to settle.
      overloadMs: 8000,
      moderateMs: 5000,
      drainMs: 3000,
      // Between two targets' steps; a target's own steps are a whole round of the other targets apart.
      pauseMs: 300,
      lookups: 2000,
    };

/** BENCH_LADDER: a shorter (or other) ladder, e.g. on a shared machine; ascending positive rates. */
const LADDER_ENV = process.env.BENCH_LADDER?.trim();
if (LADDER_ENV) {
  const rates = LADDER_ENV.split(',').map((r) => Number(r.trim()));
  if (rates.some((r) => !Number.isInteger(r) || r <= 0) || rates.some((r, i) => i > 0 && r <= (rates[i - 1] ?? 0))) {
    console.error(`BENCH_LADDER must be ascending positive integers separated by commas, e.g. 250,1000,2000 (got ${JSON.stringify(LADDER_ENV.slice(0, 80))})`);
    process.exit(2);
  }
  P.ladder = rates;
}

const FIXED_RATE = 1000;
const LIMIT_LADDER_EVERY = 1000;
/** Attempts at one rate, and how many must pass (atRate): two of three for the targets the ratios compare. */
interface RateRule {
  attempts: number;
  needed: number;
}
const MAJORITY: RateRule = { attempts: 3, needed: 2 };
/** The raw relay is in no ratio: its figure says how far the stack goes, so its first pass of two is enough (and keeps the run within 6 minutes). */
const FIRST_PASS: RateRule = { attempts: 2, needed: 1 };
const MODERATE_RATE = 500;
const P99_LIMIT_MS = 50;
const SATURATION_CONCURRENCY = 64;
const started = new Date();
const root = new URL('../', import.meta.url).pathname;

// ---- types of the results file ----------------------------------------------------------------------------

interface Step extends StepRaw {
  pass: boolean;
  failReason: string | null;
  server: {
    cpuPct: number;
    /** Server CPU time per accepted callback: what the load costs, much less blurred by other jobs than latency. */
    cpuMsPerCallback: number;
    redisCpuMsPerCallback: number | null;
    redisCpuPct: number | null;
    rssMB: number;
    heapMB: number;
    lagP99Ms: number;
    lagMaxMs: number;
    /** ms per second of the step the server's main thread waited for a CPU while runnable (runQueueWaitMs). */
    runQueueWaitMsPerS: number;
    /** The machine's busy CPU % (of one core) over the step outside this server, redis-server and the generator: other jobs, the idle targets. */
    otherCpuPct: number;
    /** The overload guard's per-100 ms-sample least answer time over the step: bucket bounds (ms) at p50 and p90, and samples counted; null for the relays. */
    answerMin: { p50Ms: number; p90Ms: number; samples: number } | null;
    /** The bridge's refusals over the step by reason (in_flight, event_loop, answer_time, open_calls); {} for the relays. */
    refusedBy: Record<string, number>;
  };
  generatorCpuPct: number;
  /** The same for the generator's own main thread. */
  generatorRunQueueWaitMsPerS: number;
}

interface TargetRun {
  name: string;
  contacts: number;
  agents: number;
  steps: Step[];
  maxSustained: number | null;
  /** True when the highest ladder step passed too (the figure is then a lower bound). */
  maxIsLowerBound: boolean;
  at1000: Step | null;
  atModerate: Step | null;
  saturation: Step | null;
  /** Open loop past the limit: what the PBX sees (503 share, accepted pops' latency). */
  overload: OverloadStep | null;
  /** Agent sockets cut off with 1013 (slow reader) over the whole phase, up to 8,000/s and past it; null for the relays. */
  slowReaderCloses: number | null;
  idle: IdleMemory | null;
  refresh: { status: number; ms: number; lagMaxMs: number; lagP99Ms: number } | null;
  error: string | null;
}

interface OverloadStep extends Step {
  /** 503 answers over callbacks sent, %. */
  refusedPct: number;
  /** bridge_callbacks_refused_total over the step (the bridge's own count of its refusals). */
  refusedByBridge: number;
}

interface IdleMemory {
  agents: number;
  rssBeforeMB: number;
  rssAfterMB: number;
  heapBeforeMB: number;
  heapAfterMB: number;
  rssPerAgentKB: number;
  heapPerAgentKB: number;
}

// ---- helpers ------------------------------------------------------------------------------------------------

const log = (msg: string): void => {
  process.stderr.write(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0).padStart(3)}s] ${msg}\n`);
};

const mb = (bytes: number): number => round(bytes / 2 ** 20, 1);

function callersFrom(contacts: readonly PhonebookEntry[], count: number): string[] {
  const r = rng(7);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const c = contacts[Math.floor(r() * contacts.length)];
    if (c) out.push(i % 2 === 0 ? c['Phone Number'] : c['Cell Number']);
  }
  return out;
}

const extensionsFor = (count: number, base: number): string[] => Array.from({ length: count }, (_, i) => String(base + i));

/** Asks the server for a full GC (the gc-on-signal preload) and waits a little for it to run. */
async function gcServer(target: Target): Promise<void> {
  // Twice, with pauses: the first collection's freed pages are returned to the OS with some delay.
  for (let i = 0; i < 2; i++) {
    target.server.child.kill('SIGUSR2');
    await sleep(QUICK ? 150 : 500);
  }
}

async function measureIdleMemory(target: Target, count: number): Promise<IdleMemory> {
  const specs = await target.agentSpecs(extensionsFor(count, 50_000));
  await gcServer(target);
  const before = await target.sample();
  const rssBefore = rssBytes(target.server.pid);
  const sockets = await connectMany(specs, 50);
  await sleep(500);
  await gcServer(target);
  const after = await target.sample();
  const rssAfter = rssBytes(target.server.pid);
  await closeSockets(sockets);
  await sleep(300);
  return {
    agents: count,
    rssBeforeMB: mb(rssBefore),
    rssAfterMB: mb(rssAfter),
    heapBeforeMB: mb(before.heapUsedBytes),
    heapAfterMB: mb(after.heapUsedBytes),
    rssPerAgentKB: round((rssAfter - rssBefore) / count / 1024, 1),
    heapPerAgentKB: round((after.heapUsedBytes - before.heapUsedBytes) / count / 1024, 1),
  };
}

/** Runs one measured step with the server's CPU, memory and event-loop lag around it. */
async function measured(target: Target, redisPid: number | null, run: () => Promise<StepRaw>): Promise<Step> {
  const s0 = await target.sample(); // also resets the server's event-loop histogram
  const cpu0 = cpuTimeMs(target.server.pid);
  const rcpu0 = redisPid === null ? NaN : cpuTimeMs(redisPid);
  const gen0 = process.cpuUsage();
  const wait0 = runQueueWaitMs(target.server.pid);
  const genWait0 = runQueueWaitMs(process.pid);
  const busy0 = machineBusyMs();
  const t0 = performance.now();
  const raw = await run();
  const wall = performance.now() - t0;
  const gen = process.cpuUsage(gen0);
  const perS = (ms: number): number => round((ms / wall) * 1000, 0);
  const wait = perS(runQueueWaitMs(target.server.pid) - wait0);
  const genWait = perS(runQueueWaitMs(process.pid) - genWait0);
  const genCpuMs = (gen.user + gen.system) / 1000;
  const cpu = cpuTimeMs(target.server.pid) - cpu0;
  const rcpu = redisPid === null ? NaN : cpuTimeMs(redisPid) - rcpu0;
  const other = machineBusyMs() - busy0 - cpu - (redisPid === null ? 0 : rcpu) - genCpuMs;
  const s: ServerSample = await target.sample();
  const reasons: string[] = [];
  if (raw.frame.count === 0) reasons.push('no frames');
  if (raw.frame.p99 > P99_LIMIT_MS) reasons.push(`p99 ${raw.frame.p99} ms > ${P99_LIMIT_MS}`);
  if (raw.errors > 0) reasons.push(`${raw.errors} errors (${raw.firstError ?? ''})`);
  if (raw.missing > 0) reasons.push(`${raw.missing} frames not in within ${P.drainMs} ms of the last send`);
  if (raw.misrouted > 0) reasons.push(`${raw.misrouted} misrouted`);
  if (raw.duplicates > 0) reasons.push(`${raw.duplicates} duplicated`);
  return {
    ...raw,
    pass: reasons.length === 0,
    failReason: reasons.length === 0 ? null : reasons.join('; '),
    server: {
      cpuPct: round((cpu / wall) * 100, 0),
      cpuMsPerCallback: round(cpu / Math.max(1, raw.accepted), 3),
      redisCpuMsPerCallback: redisPid === null ? null : round(rcpu / Math.max(1, raw.accepted), 3),
      redisCpuPct: redisPid === null ? null : round((rcpu / wall) * 100, 0),
      rssMB: mb(s.rssBytes),
      heapMB: mb(s.heapUsedBytes),
      lagP99Ms: round(s.lagP99Ms, 1),
      lagMaxMs: round(s.lagMaxMs, 1),
      runQueueWaitMsPerS: wait,
      otherCpuPct: round((other / wall) * 100, 0),
      answerMin: bucketQuantiles(s0.answerMinBuckets, s.answerMinBuckets),
      refusedBy: Object.fromEntries(Object.entries(s.refusedByReason).map(([k, v]) => [k, v - (s0.refusedByReason[k] ?? 0)]).filter(([, v]) => v !== 0)),
    },
    generatorCpuPct: round((genCpuMs / wall) * 100, 0),
    generatorRunQueueWaitMsPerS: genWait,
  };
}

/** p50 and p90 (as bucket upper bounds, ms) of a histogram's observations between two cumulative readings. */
function bucketQuantiles(before: Map<number, number>, after: Map<number, number>): { p50Ms: number; p90Ms: number; samples: number } | null {
  if (after.size === 0) return null;
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  const at = (q: number): number => bounds[counts.findIndex((c) => c >= q * total)] ?? Infinity;
  return total === 0 ? { p50Ms: NaN, p90Ms: NaN, samples: 0 } : { p50Ms: at(0.5), p90Ms: at(0.9), samples: total };
}

/** Where an open-loop step's time went: the sender's queue (p50/p99) and the guard's least answer time. */
function describeQueues(s: Step): string {
  const am = s.server.answerMin;
  return (
    ` senderQueue p50/p99=${s.senderQueue.p50}/${s.senderQueue.p99} answer p50/p99=${s.ack.p50}/${s.ack.p99}` +
    (am ? ` answerMin p50/p90<=${am.p50Ms}/${am.p90Ms}ms (${am.samples} samples)` : '') +
    (Object.keys(s.server.refusedBy).length > 0 ? ` refusedBy=${JSON.stringify(s.server.refusedBy)}` : '')
  );
}

function describeStep(s: Step): string {
  const what = s.mode === 'open' ? `${s.rate}/s` : `closed x${s.concurrency ?? s.rate}`;
  return (
    `${what.padEnd(10)} ${s.pass ? 'ok  ' : 'FAIL'} acc/s=${s.acceptedPerS} p50=${s.frame.p50} p95=${s.frame.p95} p99=${s.frame.p99} max=${s.frame.max} ` +
    (s.mode === 'open' ? describeQueues(s) + ' ' : '') +
    `srvCPU=${s.server.cpuPct}%${s.server.redisCpuPct === null ? '' : ` redisCPU=${s.server.redisCpuPct}%`} genCPU=${s.generatorCpuPct}% lagP99=${s.server.lagP99Ms} ` +
    `waitCPU=${s.server.runQueueWaitMsPerS}/${s.generatorRunQueueWaitMsPerS}ms/s otherCPU=${s.server.otherCpuPct}% ` +
    `rss=${s.server.rssMB}MB${s.failReason ? ` [${s.failReason}]` : ''}${s.unenriched ? ` unenriched=${s.unenriched}` : ''}`
  );
}

interface Scenario {
  contacts: number;
  agents: number;
  callers: string[];
  ladder: boolean;
  /** How a ladder rate passes (atRate). */
  rule: RateRule;
  /**
   * The raw relay, the stack's limit. In no ratio, so above FIXED_RATE it runs the ladder's multiples of
   * LIMIT_LADDER_EVERY only (every 500/s would take half a minute of the run's 6 minutes); its sustained rate is
   * the most the generator was seen to offer on this machine, which caps the step past the limit (overloadRate).
   */
  stackLimit?: boolean;
  moderate: boolean;
  idleAgents: number;
  refresh: boolean;
  redisPid: number | null;
}

/** One server under test with its load generator and results, while a phase runs. */
interface Live {
  target: Target;
  sc: Scenario;
  gen: LoadGenerator;
  run: TargetRun;
}

function emptyRun(name: string, sc: Scenario): TargetRun {
  return {
    name,
    contacts: sc.contacts,
    agents: sc.agents,
    steps: [],
    maxSustained: null,
    maxIsLowerBound: false,
    at1000: null,
    atModerate: null,
    saturation: null,
    overload: null,
    slowReaderCloses: null,
    idle: null,
    refresh: null,
    error: null,
  };
}

/** Idle-agent memory (when asked), then the load agents, then a warm-up that is not recorded. */
async function prepare(target: Target, sc: Scenario): Promise<Live> {
  const run = emptyRun(target.name, sc);
  if (sc.idleAgents > 0) {
    run.idle = await measureIdleMemory(target, sc.idleAgents);
    log(`${target.name}: ${sc.idleAgents} idle agents: RSS +${run.idle.rssPerAgentKB} KB/agent, heap +${run.idle.heapPerAgentKB} KB/agent`);
  }
  const gen = new LoadGenerator(target.spec, sc.callers, SATURATION_CONCURRENCY);
  await gen.connectAgents(await target.agentSpecs(extensionsFor(sc.agents, 2000)));
  log(`${target.name}: ${sc.agents} agents connected`);
  return { target, sc, gen, run };
}

async function warmUp(lives: readonly Live[]): Promise<void> {
  for (const l of lives) await l.gen.runOpenLoop(300, P.warmupMs, P.drainMs);
  await sleep(P.pauseMs);
}

async function step(l: Live, rate: number, ms: number): Promise<Step> {
  const s = await measured(l.target, l.sc.redisPid, () => l.gen.runOpenLoop(rate, ms, P.drainMs));
  l.run.steps.push(s);
  log(`${l.target.name.padEnd(17)} ${describeStep(s)}`);
  await sleep(P.pauseMs);
  return s;
}

/**
 * One rate for one target: attempts until the target's rule has `needed` passes, or enough fails that it cannot
 * (MAJORITY: two of three). A single stall of 100-300 ms fails a step's p99 and strikes the relays as often as
 * the bridge (docs/performance.md, "How a rate passes"); the majority is what the target sustains, not whether a
 * stall fell into one step. The fixed rate always runs every attempt: its figures are the attempts' medians.
 */
async function atRate(l: Live, rate: number): Promise<{ pass: boolean; figure: Step }> {
  const { attempts: most, needed } = l.sc.rule;
  const fixed = rate === FIXED_RATE;
  const ms = fixed ? P.fixedMs : P.stepMs;
  const attempts: Step[] = [];
  const passed = (): number => attempts.filter((a) => a.pass).length;
  while (attempts.length < most) {
    attempts.push(await step(l, rate, ms));
    const failed = attempts.length - passed();
    if (!fixed && (passed() >= needed || failed > most - needed)) break;
  }
  return { pass: passed() >= needed, figure: medianStep(attempts) };
}

/** The attempt with the median p99 (of two, the worse), with the attempts' median CPU per callback. */
function medianStep(attempts: readonly Step[]): Step {
  const mid = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
  const byP99 = [...attempts].sort((a, b) => a.frame.p99 - b.frame.p99);
  const chosen = byP99[Math.floor(byP99.length / 2)];
  if (!chosen) throw new Error('no attempt to take a figure from');
  const redisCpu = attempts.map((a) => a.server.redisCpuMsPerCallback);
  return {
    ...chosen,
    server: {
      ...chosen.server,
      cpuMsPerCallback: mid(attempts.map((a) => a.server.cpuMsPerCallback)),
      redisCpuMsPerCallback: redisCpu.every((v): v is number => v !== null) ? mid(redisCpu) : null,
    },
  };
}

/**
 * The rate ladder, interleaved: at each rate every target still in the race runs its attempts, one target
 * after the other, so load from other jobs on the machine falls on all of them alike. A target leaves the
 * ladder at the first rate it does not pass.
 */
async function ladder(lives: readonly Live[]): Promise<void> {
  const racing = new Set(lives.filter((l) => l.sc.ladder));
  for (const rate of P.ladder) {
    if (racing.size === 0) break;
    for (const l of [...racing]) {
      if (l.sc.stackLimit === true && rate > FIXED_RATE && rate % LIMIT_LADDER_EVERY !== 0) continue;
      const { pass, figure } = await atRate(l, rate);
      if (rate === FIXED_RATE) l.run.at1000 = figure;
      if (pass) l.run.maxSustained = rate;
      else racing.delete(l);
    }
  }
  for (const l of lives) {
    if (!l.sc.ladder) continue;
    l.run.maxIsLowerBound = racing.has(l);
    // The ladder stopped below 1,000/s: measure 1,000/s anyway, it is a figure of its own.
    if (!l.run.at1000) l.run.at1000 = (await atRate(l, FIXED_RATE)).figure;
  }
}

async function saturate(l: Live): Promise<void> {
  const sat = await measured(l.target, l.sc.redisPid, () => l.gen.runClosedLoop(SATURATION_CONCURRENCY, P.saturationMs, P.drainMs));
  l.run.saturation = sat;
  l.run.steps.push(sat);
  log(`${l.target.name.padEnd(17)} ${describeStep(sat)}`);
  await sleep(P.pauseMs);
}

/**
 * The rate past the limit: twice the highest sustained rate, and at least a quarter over what the closed loop
 * pushed through (its capacity, whatever the p99), so a ladder stopped early by a stall still overloads it.
 * At most `ceiling` when that is above the target's sustained rate: the highest rate the raw relay sustained in
 * this run, the most this machine's generator was seen to offer at all. Past it the generator and the bridge
 * fill both vCPUs and the step measures the generator's own backlog (docs/performance.md, "Overload: 503 past
 * the limit").
 */
function overloadRate(l: Live, ceiling: number | null): number {
  const forced = Number(process.env.BENCH_OVERLOAD_RATE);
  if (Number.isInteger(forced) && forced > 0) return forced;
  if (QUICK) return 2000;
  const sustained = l.run.maxSustained ?? 500;
  const pastCapacity = Math.ceil((1.25 * (l.run.saturation?.acceptedPerS ?? 0)) / 500) * 500;
  const rate = Math.min(12_000, Math.max(1000, 2 * sustained, pastCapacity));
  return ceiling !== null && ceiling > sustained ? Math.min(rate, ceiling) : rate;
}

/**
 * BENCH_OVERLOAD_STALL_MS: the bridge stopped (SIGSTOP) that long, 1 s into the overload step, so the sender's
 * 64 connections fill and a backlog builds in the sender whatever the machine's other load: the case the
 * answer-time signal is for (docs/performance.md, "Overload: slow answers").
 */
function overloadStall(pid: number): { cancel(): void } {
  const ms = Number(process.env.BENCH_OVERLOAD_STALL_MS ?? 0);
  if (!Number.isInteger(ms) || ms <= 0 || pid <= 0) return { cancel: () => undefined };
  let resume: NodeJS.Timeout | null = null;
  const start = setTimeout(() => {
    process.kill(pid, 'SIGSTOP');
    log(`stalled the bridge (pid ${pid}) for ${ms} ms`);
    resume = setTimeout(() => process.kill(pid, 'SIGCONT'), ms);
  }, 1000);
  return {
    cancel() {
      clearTimeout(start);
      if (resume) clearTimeout(resume);
      process.kill(pid, 'SIGCONT');
    },
  };
}

/**
 * Drives a bridge past its limit, open loop, and records what the PBX sees: the share answered 503 (it
 * retries those) and how late the accepted callbacks' pops are. The bridge's overload guard should keep the
 * accepted ones on time (docs/performance.md, "Overload").
 */
async function overload(l: Live, ceiling: number | null): Promise<void> {
  const rate = overloadRate(l, ceiling);
  const before = await l.target.sample();
  const stall = overloadStall(l.target.server.pid);
  const s = await measured(l.target, l.sc.redisPid, () => l.gen.runOpenLoop(rate, P.overloadMs, P.drainMs));
  stall.cancel();
  const after = await l.target.sample();
  const o: OverloadStep = {
    ...s,
    refusedPct: round((s.refused / Math.max(1, s.sent)) * 100, 1),
    refusedByBridge: after.refusedTotal - before.refusedTotal,
  };
  l.run.overload = o;
  log(`${l.target.name.padEnd(17)} overload ${rate}/s: 503 ${o.refusedPct}% (${o.refused}), other errors ${o.errors - o.refused}, accepted ${o.accepted}, pops p50=${o.frame.p50} p99=${o.frame.p99} max=${o.frame.max} ms, lost ${o.missing};${describeQueues(o)}`);
  // Let the guard cool down and the queues empty before the next phase.
  await sleep(Math.max(P.pauseMs, QUICK ? 500 : 3000));
}

async function refreshUnderWatch(l: Live): Promise<void> {
  await l.target.sample();
  const r = await refreshPhonebook(l.target);
  await sleep(200);
  const s = await l.target.sample();
  l.run.refresh = { status: r.status, ms: r.ms, lagMaxMs: round(s.lagMaxMs, 1), lagP99Ms: round(s.lagP99Ms, 1) };
  log(`${l.target.name}: phonebook refresh over HTTP took ${r.ms} ms; event-loop delay max ${l.run.refresh.lagMaxMs} ms`);
}

/** Starts every target of a phase at once, runs the phase's steps interleaved, stops them all. */
async function runPhase(
  entries: Array<{ start: () => Promise<Target>; sc: Scenario }>,
  body: (lives: Live[]) => Promise<void>,
): Promise<Array<TargetRun | null>> {
  const started = await Promise.allSettled(entries.map((e) => e.start()));
  const lives: Array<Live | null> = [];
  try {
    for (const [i, st] of started.entries()) {
      const entry = entries[i];
      if (st.status === 'rejected' || !entry) {
        log(`could not start: ${st.status === 'rejected' ? String(st.reason instanceof Error ? st.reason.message : st.reason) : '?'}`);
        lives.push(null);
        continue;
      }
      log(`${st.value.name}: started (pid ${st.value.server.pid})`);
      try {
        lives.push(await prepare(st.value, entry.sc));
      } catch (err) {
        log(`${st.value.name}: could not prepare: ${err instanceof Error ? err.message : String(err)}`);
        lives.push(null);
      }
    }
    const ok = lives.filter((l): l is Live => l !== null);
    try {
      await body(ok);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      log(`ERROR ${msg}`);
      for (const l of ok) l.run.error ??= msg;
    }
    return lives.map((l) => l?.run ?? null);
  } finally {
    for (const l of lives) await l?.gen.close().catch(() => undefined);
    await Promise.all(started.map((st) => (st.status === 'fulfilled' ? st.value.stop() : Promise.resolve())));
  }
}

async function runInproc(simApiUrl: string, contacts: number): Promise<Record<string, unknown> | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/inproc.ts'], {
      cwd: root,
      env: { ...process.env, SIM_API_URL: simApiUrl, CONTACTS: String(contacts), LOOKUPS: String(P.lookups), REFRESHES: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-2000)));
    child.on('exit', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as Record<string, unknown>);
      } catch {
        log(`inproc failed (exit ${code}): ${err}`);
        resolve(null);
      }
    });
  });
}

/** bench/calls.ts in a process of its own; its printed table, or what went wrong. */
async function runCallsBench(): Promise<string> {
  log('call tracker: bench/calls.ts');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/calls.ts', ...(QUICK ? ['--quick', '--mode', 'memory'] : [])], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-2000)));
    child.on('exit', (code) => resolve(code === 0 ? out.trimEnd() : `call tracker: bench/calls.ts failed (exit ${code}): ${err}`));
  });
}

function machine(): Record<string, unknown> {
  let uptime = '';
  try {
    uptime = execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    uptime = `loadavg ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
  }
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
    uptime,
    loadavg: os.loadavg().map((l) => round(l, 2)),
  };
}

// ---- the table ------------------------------------------------------------------------------------------

type Cell = string | number | null | undefined;

function fmt(v: Cell): string {
  if (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return '-';
  return String(v);
}

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return round(a / b, 2);
}

function verdict(ok: boolean | null): string {
  return ok === null ? 'n/a' : ok ? 'PASS' : 'FAIL';
}

interface Target2 {
  name: string;
  op: '>=' | '<=';
  value: number;
}

interface Verdicts {
  [name: string]: { value: number | null; target: string; result: string };
}

function renderTable(results: {
  limit: TargetRun | null;
  baseline: TargetRun | null;
  memory: TargetRun | null;
  redis: TargetRun | null;
  smallMemory: TargetRun | null;
  smallRedis: TargetRun | null;
  inproc: Record<string, unknown> | null;
}): { text: string; verdicts: Verdicts } {
  const { limit: x, baseline: b, memory: m, redis: r } = results;
  const rows: Cell[][] = [];
  const verdicts: Verdicts = {};
  const header: Cell[] = ['figure', 'raw relay', 'baseline', 'bridge mem', 'mem/base', 'target', 'result', 'bridge redis', 'redis/base', 'target', 'result'];
  const sep = (title: string): void => {
    rows.push([`-- ${title}`]);
  };
  /** A row: the raw relay's and the baseline's value, then memory and Redis with their ratio to the baseline and, where set, a target. */
  const row = (label: string, get: (t: TargetRun | null) => number | null | undefined, targets: { mem?: Target2; redis?: Target2 } = {}, show: (t: TargetRun | null) => Cell = get): void => {
    const bv = get(b);
    const cells: Cell[] = [label, show(x), show(b)];
    for (const [t, target] of [[m, targets.mem], [r, targets.redis]] as const) {
      const q = ratio(get(t), bv);
      let result = '';
      if (target) {
        const ok = q === null ? null : target.op === '>=' ? q >= target.value : q <= target.value;
        result = verdict(ok);
        verdicts[`${target.name} ${target.op} ${target.value}x baseline`] = { value: q, target: `${target.op}${target.value}`, result };
      }
      cells.push(show(t), q, target ? `${target.op}${target.value}` : '', result);
    }
    rows.push(cells);
  };
  const maxFmt = (t: TargetRun | null): Cell => (t?.maxSustained == null ? (t ? '<250' : null) : `${t.maxIsLowerBound ? '>=' : ''}${t.maxSustained}`);
  // A baseline that sustains no more than the first step says the machine was too busy to rank anything.
  const baselineUsable = (b?.maxSustained ?? 0) > (P.ladder[0] ?? 0);
  const at = (t: TargetRun | null): Step | null | undefined => t?.at1000;
  const cpuWithRedis = (t: TargetRun | null): number | undefined => {
    const s = at(t)?.server;
    return s ? s.cpuMsPerCallback + (s.redisCpuMsPerCallback ?? 0) : undefined;
  };

  sep(`${fmt(b?.agents ?? m?.agents)} agents, ${fmt(m?.contacts)}-contact phonebook, open loop, latency callback->socket`);
  row(
    `max sustained callbacks/s (p99<=${P99_LIMIT_MS}ms)`,
    (t) => (baselineUsable ? (t?.maxSustained ?? (t ? 0 : null)) : null),
    { mem: { name: 'throughput memory', op: '>=', value: 0.9 }, redis: { name: 'throughput redis', op: '>=', value: 0.6 } },
    maxFmt,
  );
  row(`p50 ms @${FIXED_RATE}/s`, (t) => at(t)?.frame.p50);
  row(`p95 ms @${FIXED_RATE}/s`, (t) => at(t)?.frame.p95);
  row(`p99 ms @${FIXED_RATE}/s`, (t) => at(t)?.frame.p99, { mem: { name: 'p99 @1000/s memory', op: '<=', value: 1.25 }, redis: { name: 'p99 @1000/s redis', op: '<=', value: 1.75 } });
  row(`max ms @${FIXED_RATE}/s`, (t) => at(t)?.frame.max);
  row(`HTTP answer p99 ms @${FIXED_RATE}/s`, (t) => at(t)?.ack.p99);
  row(`server CPU % @${FIXED_RATE}/s (+redis-server)`, (t) => at(t)?.server.cpuPct, {}, (t) => {
    const s = at(t)?.server;
    return s && s.redisCpuPct !== null ? `${s.cpuPct} (+${s.redisCpuPct})` : s?.cpuPct;
  });
  row(
    `CPU ms per callback @${FIXED_RATE}/s (incl. redis-server)`,
    cpuWithRedis,
    { mem: { name: 'CPU per callback memory', op: '<=', value: 1.15 }, redis: { name: 'CPU per callback redis (bridge + redis-server)', op: '<=', value: 1.5 } },
    (t) => {
      const s = at(t)?.server;
      return s && s.redisCpuMsPerCallback !== null ? `${s.cpuMsPerCallback} (+${s.redisCpuMsPerCallback})` : s?.cpuMsPerCallback;
    },
  );
  row(`generator CPU % @${FIXED_RATE}/s`, (t) => at(t)?.generatorCpuPct);
  row(`server RSS MB @${FIXED_RATE}/s`, (t) => at(t)?.server.rssMB);
  row(`event-loop lag p99 / max ms @${FIXED_RATE}/s`, () => null, {}, lagCell);
  row(`saturation accepted/s (closed loop, ${SATURATION_CONCURRENCY} in flight)`, (t) => t?.saturation?.acceptedPerS);
  row('server CPU ms per callback (saturation)', (t) => t?.saturation?.server.cpuMsPerCallback);

  const sm = results.smallMemory;
  const sr = results.smallRedis;
  const plain = (label: string, mv: Cell, rv: Cell): void => void rows.push([label, '', '', mv, '', '', '', rv, '', '', '']);
  sep(`${fmt(sm?.agents ?? sr?.agents)} agents, ${fmt(sm?.contacts ?? sr?.contacts)}-contact phonebook`);
  plain(`callbacks accepted/s (closed loop, ${SATURATION_CONCURRENCY} in flight)`, sm?.saturation?.acceptedPerS, sr?.saturation?.acceptedPerS);
  for (const p of ['p50', 'p95', 'p99'] as const) plain(`${p} ms @${MODERATE_RATE}/s`, sm?.atModerate?.frame[p], sr?.atModerate?.frame[p]);

  if (m?.overload || r?.overload) {
    sep('past the limit: open loop at 2x the max sustained rate or 1.25x the closed loop\'s, the higher, at most the raw relay\'s sustained rate (quick: 2000/s), what the PBX sees');
    plain('offered callbacks/s', m?.overload?.rate, r?.overload?.rate);
    plain('answered 503 (the PBX retries) %', m?.overload?.refusedPct, r?.overload?.refusedPct);
    plain('  refusals counted by the bridge (/metrics)', m?.overload?.refusedByBridge, r?.overload?.refusedByBridge);
    plain('other errors (not 503)', m?.overload ? m.overload.errors - m.overload.refused : null, r?.overload ? r.overload.errors - r.overload.refused : null);
    const pops = (o: OverloadStep | null | undefined): Cell => (o ? `${fmt(o.frame.p50)} / ${fmt(o.frame.p99)} / ${fmt(o.frame.max)}` : null);
    // "An accepted callback is never a pop that arrives seconds later or not at all."
    const judge = (name: string, o: OverloadStep | null | undefined): string => {
      if (!o) return '';
      const result = verdict(o.frame.count === 0 ? null : o.frame.p99 < 1000 && o.missing === 0);
      verdicts[`past the limit, ${name}: accepted pops p99 < 1 s and none lost`] = { value: o.frame.p99, target: '<1000ms, 0 lost', result };
      return result;
    };
    const target = 'p99<1s, 0 lost';
    rows.push(['accepted pops p50 / p99 / max ms', '', '', pops(m?.overload), '', m?.overload ? target : '', judge('memory', m?.overload), pops(r?.overload), '', r?.overload ? target : '', judge('redis', r?.overload)]);
    plain(`accepted pops lost (not in ${P.drainMs} ms after the last send)`, m?.overload?.missing, r?.overload?.missing);
    // A queue in the sender (every keep-alive connection busy) against one in the bridge: the bridge's least answer time per 100 ms.
    const queued = (o: OverloadStep | null | undefined): Cell => (o ? `${fmt(o.senderQueue.p50)} / ${fmt(o.senderQueue.p99)}` : null);
    plain('  queued in the sender before sent p50 / p99 ms', queued(m?.overload), queued(r?.overload));
    const amin = (o: OverloadStep | null | undefined): Cell => (o?.server.answerMin ? `<=${fmt(o.server.answerMin.p50Ms)} / <=${fmt(o.server.answerMin.p90Ms)}` : null);
    plain('  bridge least answer time per 100 ms, p50 / p90 ms', amin(m?.overload), amin(r?.overload));
  }
  if (m?.slowReaderCloses != null || r?.slowReaderCloses != null) {
    // Healthy agents (the generator's) must never be cut off as slow readers, at any rate of the ladder or past it.
    const cut = (name: string, n: number | null | undefined): string => {
      if (n === null || n === undefined || !Number.isFinite(n)) return '';
      const result = verdict(n === 0);
      verdicts[`${name}: no healthy agent cut off as a slow reader (1013)`] = { value: n, target: '=0', result };
      return result;
    };
    rows.push([
      'agent sockets closed 1013 (slow reader), whole phase',
      '',
      '',
      m?.slowReaderCloses,
      '',
      m?.slowReaderCloses != null ? '=0' : '',
      cut('memory', m?.slowReaderCloses),
      r?.slowReaderCloses,
      '',
      r?.slowReaderCloses != null ? '=0' : '',
      cut('redis', r?.slowReaderCloses),
    ]);
  }

  sep('absolute, in-process');
  // These rows have no raw-relay figure.
  const abs = (cells: Cell[]): void => void rows.push([cells[0], '', ...cells.slice(1)]);
  const inproc = results.inproc as
    | {
        contacts: number;
        lookupUs: { p50: number; p99: number };
        refresh: { worstMaxBlockMs: number };
        phases: Record<string, { maxBlockMs: number }>;
        memory?: { before: { rssMb: number; heapUsedMb: number }; withPhonebook: { rssMb: number; heapUsedMb: number } };
      }
    | null;
  const lookupMs = inproc ? round(inproc.lookupUs.p50 / 1000, 4) : null;
  verdicts['phonebook lookup median < 0.1 ms'] = { value: lookupMs, target: '<0.1', result: verdict(lookupMs === null ? null : lookupMs < 0.1) };
  abs([`phonebook lookup median ms (${fmt(inproc?.contacts)} contacts)`, '', lookupMs, '', '<0.1', verdicts['phonebook lookup median < 0.1 ms'].result, '', '', '', '']);
  const block = inproc ? inproc.refresh.worstMaxBlockMs : null;
  verdicts['refresh max event-loop block < 50 ms'] = { value: block, target: '<50', result: verdict(block === null ? null : block < 50) };
  abs([`max loop block ms, full refresh (${fmt(inproc?.contacts)})`, '', block, '', '<50', verdicts['refresh max event-loop block < 50 ms'].result, '', '', '', '']);
  if (inproc) {
    const ph = inproc.phases;
    abs([
      '  of which: PBX read+parse / index build / snapshot write',
      '',
      `${fmt(ph.pbxFetchAndParse?.maxBlockMs)} / ${fmt(ph.indexBuild?.maxBlockMs)} / ${fmt(ph.snapshotWrite?.maxBlockMs)}`,
      '',
      '',
      '',
      '',
      '',
      '',
      '',
    ]);
  }
  if (inproc?.memory) {
    const mem = inproc.memory;
    abs([
      `RSS / heap MB, before / with ${fmt(inproc.contacts)} contacts (after GC)`,
      '',
      `${fmt(mem.before.rssMb)}/${fmt(mem.before.heapUsedMb)} -> ${fmt(mem.withPhonebook.rssMb)}/${fmt(mem.withPhonebook.heapUsedMb)}`,
      '',
      '',
      '',
      '',
      '',
      '',
      '',
    ]);
  }
  abs(['  bridge-observed: loop delay max ms during refresh', '', m?.refresh?.lagMaxMs, '', '', '', r?.refresh?.lagMaxMs, '', '', '']);
  const idle = results.smallMemory?.idle ?? results.memory?.idle ?? null;
  const bIdle = results.baseline?.idle ?? null;
  const perAgent = idle?.rssPerAgentKB ?? null;
  // A negative delta means the server released more than the sockets took (GC noise): no verdict from that.
  verdicts['memory per idle agent < 50 KB'] = { value: perAgent, target: '<50', result: verdict(perAgent === null || perAgent < 0 ? null : perAgent < 50) };
  abs([
    `KB per idle agent, RSS (${fmt(idle?.agents)} agents)`,
    bIdle?.rssPerAgentKB,
    perAgent,
    ratio(perAgent, bIdle?.rssPerAgentKB),
    '<50',
    verdicts['memory per idle agent < 50 KB'].result,
    '',
    '',
    '',
    '',
  ]);
  abs(['  KB per idle agent, heap after GC', bIdle?.heapPerAgentKB, idle?.heapPerAgentKB, '', '', '', '', '', '', '']);

  const widths = header.map((h, i) => Math.max(fmt(h).length, ...rows.filter((row) => row.length > 1).map((row) => fmt(row[i]).length)));
  const line = (cells: Cell[]): string => cells.map((c, i) => fmt(c).padEnd(widths[i] ?? 0)).join(' | ');
  const rule = widths.map((w) => '-'.repeat(w)).join('-+-');
  const out = [line(header), rule];
  for (const row of rows) out.push(row.length === 1 ? fmt(row[0]) : line(row));
  return { text: out.join('\n'), verdicts };
}

function lagCell(t: TargetRun | null): string {
  return t?.at1000 ? `${fmt(t.at1000.server.lagP99Ms)} / ${fmt(t.at1000.server.lagMaxMs)}` : '-';
}

// ---- main -------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const machineStart = machine();
  log(`${QUICK ? 'QUICK' : 'FULL'} run on ${String(machineStart.cpuModel)} x${String(machineStart.cores)}; ${String(machineStart.uptime)}`);
  const bigContacts = generateContacts(P.contactsBig);
  const smallContacts = generateContacts(P.contactsSmall);
  const sim = createSimulator({ contacts: bigContacts });
  const simAddr = await sim.listen();
  let redis: RedisServerHandle | null = null;

  const results: Parameters<typeof renderTable>[0] = { limit: null, baseline: null, memory: null, redis: null, smallMemory: null, smallRedis: null, inproc: null };
  const bigCallers = callersFrom(bigContacts, 20_000);
  const smallCallers = callersFrom(smallContacts, 20_000);

  try {
    if (ONLY.has('inproc')) {
      log(`in-process: phonebook lookup and refresh with ${P.contactsBig} contacts`);
      results.inproc = await runInproc(simAddr.apiBaseUrl, P.contactsBig);
    }
    if (ONLY.has('redis') || ONLY.has('small')) {
      const handle = await startRedisServer();
      redis = handle;
      process.once('exit', () => handle.process.kill('SIGKILL'));
    }
    const redisPid = redis?.process.pid ?? null;
    const redisUrl = redis?.url;
    const flush = async (): Promise<void> => {
      if (!redis) return;
      const client = new Redis(redis.url);
      await client.flushall();
      client.disconnect();
    };

    // The relays and the bridge (memory, Redis), side by side, 100,000 contacts, 1,000 agents.
    const big = { contacts: P.contactsBig, agents: P.agentsBig, callers: bigCallers, ladder: true, moderate: false, rule: MAJORITY };
    const core: Array<{ key: 'limit' | 'baseline' | 'memory' | 'redis'; start: () => Promise<Target>; sc: Scenario }> = [];
    if (ONLY.has('limit')) core.push({ key: 'limit', start: () => startBaseline('raw'), sc: { ...big, rule: FIRST_PASS, stackLimit: true, idleAgents: 0, refresh: false, redisPid: null } });
    if (ONLY.has('baseline')) core.push({ key: 'baseline', start: () => startBaseline('express'), sc: { ...big, idleAgents: P.idleAgents, refresh: false, redisPid: null } });
    if (ONLY.has('memory')) {
      core.push({
        key: 'memory',
        start: () => startBridge({ name: 'bridge-memory', simApiUrl: simAddr.apiBaseUrl, contacts: P.contactsBig }),
        // Idle-agent memory is measured on the 10,000-contact bridge (less heap to blur it), except in quick mode.
        sc: { ...big, idleAgents: QUICK ? P.idleAgents : 0, refresh: true, redisPid: null },
      });
    }
    if (ONLY.has('redis') && redisUrl) {
      await flush();
      core.push({
        key: 'redis',
        start: () => startBridge({ name: 'bridge-redis', simApiUrl: simAddr.apiBaseUrl, contacts: P.contactsBig, redisUrl }),
        sc: { ...big, idleAgents: 0, refresh: true, redisPid },
      });
    }
    if (core.length > 0) {
      const runs = await runPhase(core, async (lives) => {
        await warmUp(lives);
        await ladder(lives);
        for (const l of lives) await saturate(l);
        for (const l of lives) if (l.sc.refresh) await refreshUnderWatch(l);
        // Quick mode has no small phase of its own (it saves two server start-ups): the same bridges stand in.
        if (QUICK) for (const l of lives) if (l.target.kind === 'bridge') l.run.atModerate = await step(l, MODERATE_RATE, P.moderateMs);
        // Last: nothing measured after it feels the refusals winding down.
        if (ONLY.has('overload')) {
          const ceiling = lives.find((l) => l.sc.stackLimit === true)?.run.maxSustained ?? null;
          for (const l of lives) if (l.target.kind === 'bridge') await overload(l, ceiling);
        }
        for (const l of lives) {
          if (l.target.kind === 'bridge') l.run.slowReaderCloses = (await l.target.sample()).slowReaderCloses;
        }
      });
      core.forEach((p, i) => (results[p.key] = runs[i] ?? null));
      if (QUICK) {
        results.smallMemory = results.memory;
        results.smallRedis = results.redis;
      }
    }

    // The small setup: bridge (memory, Redis), 10,000 contacts, 500 agents: accepted/s and latency at a moderate rate.
    if (ONLY.has('small') && !QUICK) {
      sim.setContacts(smallContacts);
      await flush();
      const smallSc = { contacts: P.contactsSmall, agents: P.agentsSmall, callers: smallCallers, ladder: false, moderate: true, idleAgents: 0, refresh: false, rule: MAJORITY };
      const smallPhase: Array<{ key: 'smallMemory' | 'smallRedis'; start: () => Promise<Target>; sc: Scenario }> = [
        {
          key: 'smallMemory',
          start: () => startBridge({ name: 'bridge-memory-10k', simApiUrl: simAddr.apiBaseUrl, contacts: P.contactsSmall }),
          sc: { ...smallSc, idleAgents: P.idleAgents, redisPid: null },
        },
      ];
      if (redisUrl) {
        smallPhase.push({
          key: 'smallRedis',
          start: () => startBridge({ name: 'bridge-redis-10k', simApiUrl: simAddr.apiBaseUrl, contacts: P.contactsSmall, redisUrl }),
          sc: { ...smallSc, redisPid },
        });
      }
      const runs = await runPhase(smallPhase, async (lives) => {
        await warmUp(lives);
        for (const l of lives) l.run.atModerate = await step(l, MODERATE_RATE, P.moderateMs);
        for (const l of lives) await saturate(l);
      });
      smallPhase.forEach((p, i) => (results[p.key] = runs[i] ?? null));
    }
  } finally {
    await redis?.stop().catch(() => undefined);
    await sim.close();
  }

  // The call tracker's polling cost (bench/calls.ts, its own bridges): only with BENCH_ONLY=...,calls, since
  // the default parts plus its ~90 s would pass 6 minutes (docs/performance.md).
  const callsTable = ONLY.has('calls') ? await runCallsBench() : null;

  const { text, verdicts } = renderTable(results);
  const machineEnd = machine();
  const elapsedS = Math.round((Date.now() - started.getTime()) / 1000);
  const file = {
    kind: QUICK ? 'quick' : 'full',
    startedAt: started.toISOString(),
    elapsedS,
    machine: { ...machineStart, loadavgAtEnd: machineEnd.loadavg, uptimeAtEnd: machineEnd.uptime },
    parameters: { ...P, fixedRate: FIXED_RATE, moderateRate: MODERATE_RATE, p99LimitMs: P99_LIMIT_MS, saturationConcurrency: SATURATION_CONCURRENCY },
    verdicts,
    results,
    table: text,
    callsTable,
  };
  const dir = process.env.BENCH_RESULTS_DIR ?? join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const name = QUICK ? 'quick-latest.json' : `bench-${started.toISOString().replace(/[:.]/g, '-')}.json`;
  const path = join(dir, name);
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);

  console.log('');
  console.log(
    `HoduPBX CRM bridge benchmark (${QUICK ? 'QUICK smoke run: figures meaningless' : 'full'}) - ${String(machineStart.cpuModel)}, ${String(machineStart.cores)} cores, ` +
      `${String(machineStart.memoryGB)} GB, Node ${process.version}, ${started.toISOString()}`,
  );
  console.log(`load: start [${(machineStart.loadavg as number[]).join(' ')}] end [${(machineEnd.loadavg as number[]).join(' ')}] (1/5/15-min load average; other jobs share the machine)`);
  console.log(text);
  if (callsTable !== null) console.log(`\n${callsTable}`);
  console.log(`elapsed ${elapsedS} s; raw results: ${path}`);
}

runMain(main);
