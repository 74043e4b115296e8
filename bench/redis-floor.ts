/**
 * The floor of a Redis-backed relay's CPU per callback: the Express baseline relay (bench/baseline-relay.ts)
 * against the same relay making one Redis round trip per callback before relaying and answering
 * (bench/lib/redis-round-trip.ts: PING, XADD, the bridge's append script), on a private redis-server. Each runs
 * at the same open-loop rate with the baseline's set-up in bench/run.ts (1,000 agents, 64 keep-alive
 * connections), in rounds that alternate the four; prints per target the relay's CPU ms per accepted callback,
 * redis-server's, their sum, the sum's ratio to the plain relay's CPU, and p50/p99 callback-to-frame latency.
 * docs/performance.md, "The floor of a Redis round trip", has what it found.
 *
 *   node --import tsx bench/redis-floor.ts [rate=1000] [seconds=2.5] [rounds=4]
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateContacts } from '../src/simulator/seed.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { LoadGenerator, type StepRaw } from './lib/loadgen.js';
import { cpuSplitMs, cpuTimeMs } from './lib/procs.js';
import { ROUND_TRIP_KINDS } from './lib/redis-round-trip.js';
import { rng, round } from './lib/stats.js';
import { startBaseline, type Target } from './lib/targets.js';
import { answerHelp } from './lib/help.js';
import { runMain } from './lib/run-main.js';

answerHelp(`
usage: node --import tsx bench/redis-floor.ts [rate=1000] [seconds=2.5] [rounds=4]

The Express baseline relay, and the same relay with one Redis round trip per callback before it relays and
answers (PING; XADD of the body, MAXLEN ~ 10000; the bridge's append script for a new call), on a private
redis-server, 1,000 agents each. In each round every relay runs \`seconds\` at \`rate\` callbacks/s, one after
the other. Prints per relay: its CPU ms per accepted callback (and the kernel's part of it), redis-server's, their
sum, the sum's ratio to the plain relay's CPU (over all rounds, and the median of each round's ratio), and p50/p99
latency per round (about 1.5 minutes with the defaults; run it under /work/bench.lock).

options:
  -h, --help     this text
`);

const AGENTS = 1000;
const CONNECTIONS = 64;
const WARMUP_RATE = 300;
const WARMUP_MS = 2000;
const DRAIN_MS = 3000;
const PAUSE_MS = 300;

interface Totals {
  accepted: number;
  relayMs: number;
  /** Of relayMs, the kernel's (system time): the syscalls and the loopback's TCP. */
  relaySysMs: number;
  redisMs: number;
  /** Per round, (relay + redis-server) per callback over the plain relay's CPU per callback in the same round. */
  ratios: number[];
  errors: number;
  missing: number;
  steps: StepRaw[];
}

const log = (msg: string): void => {
  process.stderr.write(`[redis-floor] ${msg}\n`);
};

const loadavg = (): string =>
  os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(', ');

function positive(value: string | undefined, fallback: number, what: string, integer: boolean): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    console.error(`${what} must be a positive ${integer ? 'integer' : 'number'} (got ${JSON.stringify(value.slice(0, 40))})`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const rate = positive(process.argv[2], 1000, 'rate', true);
  const seconds = positive(process.argv[3], 2.5, 'seconds', false);
  const rounds = positive(process.argv[4], 4, 'rounds', true);
  log(`${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}; load average ${loadavg()}; ${rate}/s, ${seconds} s x ${rounds} rounds per relay`);

  const contacts = generateContacts(10_000);
  const r = rng(7);
  const callers = Array.from({ length: 20_000 }, () => contacts[Math.floor(r() * contacts.length)]?.['Phone Number'] ?? '');
  const extensions = Array.from({ length: AGENTS }, (_, i) => String(2000 + i));
  const rs = await startRedisServer();
  process.once('exit', () => rs.process.kill('SIGKILL'));
  const redisPid = rs.process.pid ?? -1;

  const targets: Target[] = [];
  const gens: LoadGenerator[] = [];
  try {
    targets.push(await startBaseline('express', { name: 'relay' }));
    for (const kind of ROUND_TRIP_KINDS) {
      targets.push(await startBaseline('express', { name: `relay+${kind}`, env: { RELAY_REDIS: kind, REDIS_URL: rs.url } }));
    }
    for (const t of targets) {
      const gen = new LoadGenerator(t.spec, callers, CONNECTIONS);
      await gen.connectAgents(await t.agentSpecs(extensions));
      gens.push(gen);
    }
    log(`${targets.length} relays up, ${AGENTS} agents each; warming up`);
    for (const gen of gens) await gen.runOpenLoop(WARMUP_RATE, WARMUP_MS, DRAIN_MS);
    await sleep(PAUSE_MS);

    const totals: Totals[] = targets.map(() => ({ accepted: 0, relayMs: 0, relaySysMs: 0, redisMs: 0, ratios: [], errors: 0, missing: 0, steps: [] }));
    for (let round_ = 1; round_ <= rounds; round_++) {
      let plainPerCallback = NaN;
      for (const [i, t] of targets.entries()) {
        const gen = gens[i];
        const tot = totals[i];
        if (!gen || !tot) continue;
        const cpu0 = cpuSplitMs(t.server.pid);
        const rcpu0 = cpuTimeMs(redisPid);
        const raw = await gen.runOpenLoop(rate, Math.round(seconds * 1000), DRAIN_MS);
        const cpu1 = cpuSplitMs(t.server.pid);
        const relaySysMs = cpu1.systemMs - cpu0.systemMs;
        const relayMs = cpu1.userMs - cpu0.userMs + relaySysMs;
        const redisMs = cpuTimeMs(redisPid) - rcpu0;
        tot.accepted += raw.accepted;
        tot.relayMs += relayMs;
        tot.relaySysMs += relaySysMs;
        tot.redisMs += redisMs;
        // The plain relay makes no round trip: its figure is its own CPU (redis-server only idles meanwhile).
        const sumPerCallback = (relayMs + (i === 0 ? 0 : redisMs)) / Math.max(1, raw.accepted);
        if (i === 0) plainPerCallback = sumPerCallback;
        tot.ratios.push(sumPerCallback / plainPerCallback);
        tot.errors += raw.errors;
        tot.missing += raw.missing;
        tot.steps.push(raw);
        const per = (ms: number): string => (ms / Math.max(1, raw.accepted)).toFixed(3);
        log(
          `round ${round_} ${t.name.padEnd(13)} acc/s=${raw.acceptedPerS} relay ${per(relayMs)} ms (sys ${per(relaySysMs)}) + redis ${per(redisMs)} ms per callback, ` +
            `p50/p99 ${raw.frame.p50}/${raw.frame.p99} ms, errors ${raw.errors}${raw.firstError ? ` (${raw.firstError})` : ''}, missing ${raw.missing}; load ${loadavg()}`,
        );
        await sleep(PAUSE_MS);
      }
    }
    printTable(targets, totals, rate, seconds, rounds);
  } finally {
    for (const gen of gens) await gen.close();
    for (const t of targets) await t.stop();
    await rs.stop();
  }
}

function printTable(targets: readonly Target[], totals: readonly Totals[], rate: number, seconds: number, rounds: number): void {
  const plain = totals[0];
  const base = plain && plain.accepted > 0 ? plain.relayMs / plain.accepted : NaN;
  const rows: string[][] = [['relay', 'accepted', 'relay ms/cb', '(sys)', 'redis ms/cb', 'sum ms/cb', 'x plain', 'median round', 'p50 ms', 'p99 ms', 'errors', 'missing']];
  targets.forEach((t, i) => {
    const tot = totals[i];
    if (!tot) return;
    const per = (ms: number): number => ms / Math.max(1, tot.accepted);
    const relay = per(tot.relayMs);
    const redis = per(tot.redisMs);
    // The plain relay makes no round trip: its sum is its own CPU (its redis column is redis-server idling).
    const sum = i === 0 ? relay : relay + redis;
    const each = (pick: (s: StepRaw) => number): string => tot.steps.map(pick).join('/');
    const sorted = [...tot.ratios].sort((a, b) => a - b);
    const mid = sorted.length % 2 === 1 ? (sorted[(sorted.length - 1) / 2] ?? NaN) : ((sorted[sorted.length / 2 - 1] ?? NaN) + (sorted[sorted.length / 2] ?? NaN)) / 2;
    rows.push([
      t.name,
      String(tot.accepted),
      relay.toFixed(3),
      per(tot.relaySysMs).toFixed(3),
      redis.toFixed(3),
      sum.toFixed(3),
      `${round(sum / base, 2).toFixed(2)}x`,
      `${mid.toFixed(2)}x`,
      each((s) => s.frame.p50),
      each((s) => s.frame.p99),
      String(tot.errors),
      String(tot.missing),
    ]);
  });
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length))) ?? [];
  console.log(`\n${rate}/s, ${seconds} s x ${rounds} rounds per relay, ${AGENTS} agents; CPU per accepted callback (x plain: over all rounds; median round: of each round's ratio); p50/p99 per round; load average ${loadavg()}`);
  for (const row of rows) console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  '));
}

runMain(main);
