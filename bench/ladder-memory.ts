/**
 * The memory bridge alone on the benchmark's ladder (bench/run.ts's main setup: 100,000 contacts, 1,000 agents,
 * 3 s steps, 1 s pauses), each step run once, after the phonebook build's tight-heap window (35 s) has passed,
 * with a heap/GC line per step: for comparing one change (or a guard setting via BENCH_BRIDGE_ENV) quickly.
 *   node --import tsx bench/ladder-memory.ts [rates=250,500,1000,1500,2000,2500,3000,3500,4000,4500]
 * then 8 s at OVERLOAD_RATE (default 7000; 0: none), as bench/run.ts's step past the limit.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import { cpuTimeMs } from './lib/procs.js';
import { round } from './lib/stats.js';
import { startMemorySetup } from './lib/memory-setup.js';
import { answerHelp } from './lib/help.js';
import { runMain } from './lib/run-main.js';

const load = () => os.loadavg().map((l) => round(l, 2)).join(' ');


answerHelp(`
usage: node --import tsx bench/ladder-memory.ts [rates=250,500,1000,1500,2000,2500,3000,3500,4000,4500]

The memory bridge alone on the benchmark's ladder (each step once), after the phonebook build's tight-heap
window, then 8 s past the limit. For comparing one change or guard setting quickly (BENCH_BRIDGE_ENV).
env: OVERLOAD_RATE (7000; 0: none), GC_OBSERVE (a module preloaded into the bridge), BENCH_BRIDGE_ENV
`);

async function main(): Promise<void> {
  const rates = (process.argv[2] ?? '250,500,1000,1500,2000,2500,3000,3500,4000,4500').split(',').map(Number);
  const setup = await startMemorySetup(100_000);
  const { target, gen } = setup;
  await sleep(35_000);
  console.log(`load ${load()}`);
  let calls = 0;
  for (const rate of rates) {
    const cpu0 = cpuTimeMs(target.server.pid);
    const startedAt = Date.now();
    const t0 = performance.now();
    const s = await gen.runOpenLoop(rate, rate === 1000 ? 8000 : 3000);
    const cpuPct = round(((cpuTimeMs(target.server.pid) - cpu0) / (performance.now() - t0)) * 100, 0);
    calls += s.accepted;
    const m = await target.sample();
    const pass = s.frame.p99 <= 50 && s.errors === 0 && s.missing === 0 && s.duplicates === 0 && s.misrouted === 0;
    console.log(
      `${new Date(startedAt).toISOString().slice(11, 19)} ${String(rate).padStart(5)}/s ${pass ? 'ok  ' : 'FAIL'} p50 ${s.frame.p50} p99 ${s.frame.p99} max ${s.frame.max} ms, 503 ${s.refused} (${round((s.refused / Math.max(1, s.sent)) * 100, 1)} %), ` +
        `other errors ${s.errors - s.refused}, missing ${s.missing}, CPU ${cpuPct} %, heap ${round(m.heapUsedBytes / 1e6, 0)} MB after ${calls} calls, lag p99 ${round(m.lagP99Ms, 1)} ms`,
    );
    await sleep(1000);
  }
  // Past the limit, as bench/run.ts's overload step: what the PBX sees (503 share), and the accepted pops.
  const overload = Number(process.env.OVERLOAD_RATE ?? 7000);
  if (overload > 0) {
    const s = await gen.runOpenLoop(overload, 8000);
    console.log(
      `overload ${overload}/s for 8 s: 503 ${round((s.refused / Math.max(1, s.sent)) * 100, 1)} %, other errors ${s.errors - s.refused}, ` +
        `accepted ${s.accepted}: p50 ${s.frame.p50} p99 ${s.frame.p99} max ${s.frame.max} ms, missing ${s.missing}`,
    );
  }
  console.log(`load ${load()}`);
  await setup.close();
}

runMain(main);
