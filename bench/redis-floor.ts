/**
 * The floor of a Redis-backed relay's CPU per callback: the Express baseline relay (bench/baseline-relay.ts)
 * against the same relay making one Redis round trip per callback before relaying and answering
 * (bench/lib/redis-round-trip.ts: PING, XADD, the bridge's append script), on a private redis-server. Each runs
 * at the same open-loop rate with the baseline's set-up in bench/run.ts (1,000 agents, 64 keep-alive
 * connections), in rounds that alternate the four; prints per target the relay's CPU ms per accepted callback,
 * redis-server's, their sum, the sum's ratio to the plain relay's CPU, and p50/p99 callback-to-frame latency.
 * docs/performance.md, "The floor of a Redis round trip", has what it found.
 *
 *   node --import tsx bench/redis-floor.ts [rate=1000] [seconds=5] [rounds=2]
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateContacts } from '../src/simulator/seed.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { LoadGenerator, type StepRaw } from './lib/loadgen.js';
import { cpuTimeMs } from './lib/procs.js';
import { ROUND_TRIP_KINDS } from './lib/redis-round-trip.js';
import { rng, round } from './lib/stats.js';
import { startBaseline, type Target } from './lib/targets.js';
import { answerHelp } from './lib/help.js';
import { runMain } from './lib/run-main.js';

answerHelp(`
usage: node --import tsx bench/redis-floor.ts [rate=1000] [seconds=5] [rounds=2]

The Express baseline relay, and the same relay with one Redis round trip per callback before it relays and
answers (PING; XADD of the body, MAXLEN ~ 10000; the bridge's append script for a new call), on a private
redis-server, 1,000 agents each. In each round every relay runs \`seconds\` at \`rate\` callbacks/s, one after
the other. Prints per relay: its CPU ms per accepted callback, redis-server's, their sum, the sum's ratio to the
plain relay's CPU, and p50/p99 latency (about 1.5 minutes with the defaults; run it under /work/bench.lock).

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
  redisMs: number;
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

function positiveInt(value: string | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`${what} must be a positive integer (got ${JSON.stringify(value.slice(0, 40))})`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const rate = positiveInt(process.argv[2], 1000, 'rate');
  const seconds = positiveInt(process.argv[3], 5, 'seconds');
  const rounds = positiveInt(process.argv[4], 2, 'rounds');
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

    const totals: Totals[] = targets.map(() => ({ accepted: 0, relayMs: 0, redisMs: 0, errors: 0, missing: 0, steps: [] }));
    for (let round_ = 1; round_ <= rounds; round_++) {
      for (const [i, t] of targets.entries()) {
        const gen = gens[i];
        const tot = totals[i];
        if (!gen || !tot) continue;
        const cpu0 = cpuTimeMs(t.server.pid);
        const rcpu0 = cpuTimeMs(redisPid);
        const raw = await gen.runOpenLoop(rate, seconds * 1000, DRAIN_MS);
        const relayMs = cpuTimeMs(t.server.pid) - cpu0;
        const redisMs = cpuTimeMs(redisPid) - rcpu0;
        tot.accepted += raw.accepted;
        tot.relayMs += relayMs;
        tot.redisMs += redisMs;
        tot.errors += raw.errors;
        tot.missing += raw.missing;
        tot.steps.push(raw);
        const per = (ms: number): string => (ms / Math.max(1, raw.accepted)).toFixed(3);
        log(
          `round ${round_} ${t.name.padEnd(13)} acc/s=${raw.acceptedPerS} relay ${per(relayMs)} ms + redis ${per(redisMs)} ms per callback, ` +
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
  const rows: string[][] = [['relay', 'accepted', 'relay ms/cb', 'redis ms/cb', 'sum ms/cb', 'x plain', 'p50 ms', 'p99 ms', 'errors', 'missing']];
  targets.forEach((t, i) => {
    const tot = totals[i];
    if (!tot) return;
    const per = (ms: number): number => ms / Math.max(1, tot.accepted);
    const relay = per(tot.relayMs);
    const redis = per(tot.redisMs);
    // The plain relay makes no round trip: its sum is its own CPU (its redis column is redis-server idling).
    const sum = i === 0 ? relay : relay + redis;
    const worst = (pick: (s: StepRaw) => number): string => tot.steps.map(pick).join('/');
    rows.push([
      t.name,
      String(tot.accepted),
      relay.toFixed(3),
      redis.toFixed(3),
      sum.toFixed(3),
      `${round(sum / base, 2).toFixed(2)}x`,
      worst((s) => s.frame.p50),
      worst((s) => s.frame.p99),
      String(tot.errors),
      String(tot.missing),
    ]);
  });
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length))) ?? [];
  console.log(`\n${rate}/s, ${seconds} s x ${rounds} rounds per relay, ${AGENTS} agents; CPU per accepted callback; p50/p99 per round; load average ${loadavg()}`);
  for (const row of rows) console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  '));
}

runMain(main);
