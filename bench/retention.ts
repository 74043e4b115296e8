/**
 * What each call retains in memory mode: heap after a full GC before and after N callbacks at a fixed rate,
 * and what the bridge's threads used meanwhile: the main thread's CPU and its wait for a CPU (schedstat), and
 * the CPU of every other thread (V8's GC and compiler helpers), per second, over 2 s windows.
 *   node --import tsx bench/retention.ts [rate=3000] [seconds=10] [rounds=2]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { round } from './lib/stats.js';
import { startMemorySetup } from './lib/memory-setup.js';
import { answerHelp } from './lib/help.js';
import type { Target } from './lib/targets.js';
import { runMain } from './lib/run-main.js';
import { runQueueWaitMs, threadCpuMs } from './lib/procs.js';


answerHelp(`
usage: node --import tsx bench/retention.ts [rate=3000] [seconds=10] [rounds=2]

What each call retains in memory mode: the bridge's heap after two full collections before and after each
round of open-loop callbacks (100,000 contacts, 1,000 agents), per accepted callback; and per round the
bridge's threads over 2 s windows, in ms per second: the main thread's CPU and its wait for a CPU, the other
threads' CPU (V8's workers: concurrent marking and sweeping, background compilation); the mean and the
highest window, and the three busiest other threads.
env: CONTACTS (100000), GC_OBSERVE (a module preloaded into the bridge, e.g. a gc PerformanceObserver)
`);

async function gcHeap(target: Target): Promise<number> {
  for (let i = 0; i < 2; i++) {
    target.server.child.kill('SIGUSR2');
    await sleep(700);
  }
  return (await target.sample()).heapUsedBytes;
}

/**
 * The bridge's threads in ms per second, per 2 s window of a round: the main thread's CPU and its wait for a
 * CPU, and every other thread's CPU (Node 20 names them all `node`; V8's platform workers, which run
 * concurrent marking, sweeping and background compilation, are the ones started right after the main thread,
 * libuv's pool is idle in memory mode), summed and the busiest three by thread id - pid.
 */
function threadWindows(pid: number): { stop(): string } {
  const windows: Array<{ main: number; wait: number; others: number }> = [];
  const perThread = new Map<number, number>();
  const read = () => ({ at: performance.now(), threads: threadCpuMs(pid), wait: runQueueWaitMs(pid) });
  const first = read();
  let last = first;
  const take = (): void => {
    const now = read();
    const s = (now.at - last.at) / 1000;
    const row = { main: 0, wait: (now.wait - last.wait) / s, others: 0 };
    for (const [tid, t] of now.threads) {
      const used = (t.ms - (last.threads.get(tid)?.ms ?? 0)) / s;
      if (tid === pid) row.main += used;
      else row.others += used;
    }
    windows.push(row);
    last = now;
  };
  const timer = setInterval(take, 2000);
  return {
    stop() {
      clearInterval(timer);
      const seconds = (last.at - first.at) / 1000;
      for (const [tid, t] of last.threads) if (tid !== pid) perThread.set(tid - pid, (t.ms - (first.threads.get(tid)?.ms ?? 0)) / seconds);
      const f = (k: 'main' | 'wait' | 'others'): string => {
        const v = windows.map((r) => r[k]);
        return `${round(v.reduce((a, b) => a + b, 0) / Math.max(1, v.length), 0)}/${round(Math.max(0, ...v), 0)}`;
      };
      const busiest = [...perThread].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([d, ms]) => `+${d}: ${round(ms, 0)}`);
      return `threads ms/s over ${windows.length} x 2 s, mean/max: main ${f('main')}, main waitCPU ${f('wait')}, other threads ${f('others')} (busiest, tid-pid: ${busiest.join(', ')})`;
    },
  };
}

async function main(): Promise<void> {
  const [rate = 3000, seconds = 10, rounds = 2] = process.argv.slice(2).map(Number);
  const setup = await startMemorySetup(Number(process.env.CONTACTS ?? 100_000));
  const { target, gen } = setup;
  let heap = await gcHeap(target);
  console.log(`heap after warm-up + GC ${round(heap / 1e6, 1)} MB, load ${os.loadavg().map((l) => round(l, 2)).join(' ')}`);
  for (let i = 0; i < rounds; i++) {
    const before = (await target.sample()).heapUsedBytes;
    const windows = threadWindows(target.server.pid);
    const step = await gen.runOpenLoop(rate, seconds * 1000);
    const threads = windows.stop();
    const end = (await target.sample()).heapUsedBytes;
    const after = await gcHeap(target);
    console.log(
      `round ${i + 1}: ${step.accepted} accepted (503 ${step.refused}), p99 ${step.frame.p99} ms; heap ${round(before / 1e6, 1)} -> ${round(end / 1e6, 1)} MB at the end, ` +
        `${round(after / 1e6, 1)} MB after GC: retained ${round((after - heap) / Math.max(1, step.accepted), 0)} B per call`,
    );
    console.log(`  ${threads}`);
    heap = after;
  }
  console.log(`load ${os.loadavg().map((l) => round(l, 2)).join(' ')}`);
  await setup.close();
}

runMain(main);
