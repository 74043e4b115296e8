/**
 * What each call retains in memory mode: heap after a full GC before and after N callbacks at a fixed rate.
 *   node --import tsx bench/retention.ts [rate=3000] [seconds=10] [rounds=2]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import { round } from './lib/stats.js';
import { startMemorySetup } from './lib/memory-setup.js';
import { answerHelp } from './lib/help.js';
import type { Target } from './lib/targets.js';
import { runMain } from './lib/run-main.js';


answerHelp(`
usage: node --import tsx bench/retention.ts [rate=3000] [seconds=10] [rounds=2]

What each call retains in memory mode: the bridge's heap after two full collections before and after each
round of open-loop callbacks (100,000 contacts, 1,000 agents), per accepted callback.
env: CONTACTS (100000), GC_OBSERVE (a module preloaded into the bridge, e.g. a gc PerformanceObserver)
`);

async function gcHeap(target: Target): Promise<number> {
  for (let i = 0; i < 2; i++) {
    target.server.child.kill('SIGUSR2');
    await sleep(700);
  }
  return (await target.sample()).heapUsedBytes;
}

async function main(): Promise<void> {
  const [rate = 3000, seconds = 10, rounds = 2] = process.argv.slice(2).map(Number);
  const setup = await startMemorySetup(Number(process.env.CONTACTS ?? 100_000));
  const { target, gen } = setup;
  let heap = await gcHeap(target);
  console.log(`heap after warm-up + GC ${round(heap / 1e6, 1)} MB, load ${os.loadavg().map((l) => round(l, 2)).join(' ')}`);
  for (let i = 0; i < rounds; i++) {
    const before = (await target.sample()).heapUsedBytes;
    const step = await gen.runOpenLoop(rate, seconds * 1000);
    const end = (await target.sample()).heapUsedBytes;
    const after = await gcHeap(target);
    console.log(
      `round ${i + 1}: ${step.accepted} accepted (503 ${step.refused}), p99 ${step.frame.p99} ms; heap ${round(before / 1e6, 1)} -> ${round(end / 1e6, 1)} MB at the end, ` +
        `${round(after / 1e6, 1)} MB after GC: retained ${round((after - heap) / Math.max(1, step.accepted), 0)} B per call`,
    );
    heap = after;
  }
  console.log(`load ${os.loadavg().map((l) => round(l, 2)).join(' ')}`);
  await setup.close();
}

runMain(main);
