/**
 * The busy-connections signal's figure per step (docs/performance.md, "Overload: busy connections"): one bridge
 * (memory or Redis mode, bench/run.ts's main setup: 100,000 contacts, 1,000 agents, the 64 keep-alive
 * connections of the generator), a short ladder, then a step past the limit, with per step the distribution of
 * `bridge_callbacks_connections_busy` (bucket bounds at p50 / p90 / p99), the refusals by reason, the pops and the
 * sender's queue. For choosing CALLBACK_MAX_CONNECTIONS_BUSY; run it under the benchmark lock.
 *   node --import tsx bench/connections-busy.ts <memory|redis> [rates=1000,2000,2500,3000] [overload=6000]
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { createSimulator } from '../src/simulator/simulator.js';
import { generateContacts } from '../src/simulator/seed.js';
import { startRedisServer, type RedisServerHandle } from '../test/helpers/redis-server.js';
import { answerHelp } from './lib/help.js';
import { LoadGenerator, type StepRaw } from './lib/loadgen.js';
import { runMain } from './lib/run-main.js';
import { rng, round } from './lib/stats.js';
import { startBridge } from './lib/targets.js';

answerHelp(`
usage: node --import tsx bench/connections-busy.ts <memory|redis> [rates=1000,2000,2500,3000] [overload=6000]

One bridge on a short ladder (3 s steps) then 8 s past the limit, printing per step the busy share of its reused
keep-alive connections (bridge_callbacks_connections_busy), refusals by reason, pops and the sender's queue.
env: BENCH_BRIDGE_ENV (e.g. CALLBACK_MAX_CONNECTIONS_BUSY=0 to watch the figure with the signal off)
`);

const CONTACTS = 100_000;
const load = (): string => os.loadavg().map((l) => round(l, 2)).join(' ');

/** Cumulative bucket counts of a histogram by upper bound. */
function buckets(text: string, name: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm'))) {
    out.set(m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2]));
  }
  return out;
}

function refusals(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^bridge_callbacks_refused_total\{reason="([^"]+)"\} (\S+)$/gm)) out[m[1] ?? ''] = Number(m[2]);
  return out;
}

function quantiles(before: Map<number, number>, after: Map<number, number>): string {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total === 0) return 'no samples';
  const at = (q: number): number => bounds[counts.findIndex((c) => c >= q * total)] ?? Infinity;
  return `<=${at(0.5)}/${at(0.9)}/${at(0.99)} (${total} samples)`;
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (mode !== 'memory' && mode !== 'redis') throw new Error('first argument: memory or redis');
  const rates = (process.argv[3] ?? '1000,2000,2500,3000').split(',').map(Number);
  const overload = Number(process.argv[4] ?? 6000);
  const contacts = generateContacts(CONTACTS);
  const sim = createSimulator({ contacts });
  const simAddr = await sim.listen();
  let redis: RedisServerHandle | null = null;
  if (mode === 'redis') redis = await startRedisServer();
  const target = await startBridge({ name: `bridge-${mode}`, simApiUrl: simAddr.apiBaseUrl, contacts: CONTACTS, ...(redis ? { redisUrl: redis.url } : {}) });
  const r = rng(3);
  const callers = Array.from({ length: 20_000 }, () => contacts[Math.floor(r() * contacts.length)]?.['Phone Number'] ?? '');
  const gen = new LoadGenerator(target.spec, callers);
  const metrics = async (): Promise<string> => (await request(`${target.spec.origin}/metrics`)).body.text();
  try {
    await gen.connectAgents(await target.agentSpecs(Array.from({ length: 1000 }, (_, i) => String(2000 + i))));
    await gen.runOpenLoop(300, 2000);
    console.log(`${mode}: load ${load()}`);
    const step = async (rate: number, ms: number): Promise<void> => {
      const m0 = await metrics();
      const s: StepRaw = await gen.runOpenLoop(rate, ms);
      const m1 = await metrics();
      const r0 = refusals(m0);
      const refused = Object.entries(refusals(m1))
        .map(([k, v]) => [k, v - (r0[k] ?? 0)] as const)
        .filter(([, v]) => v > 0);
      console.log(
        `${String(rate).padStart(5)}/s ${ms / 1000} s: busy p50/p90/p99 ${quantiles(buckets(m0, 'bridge_callbacks_connections_busy'), buckets(m1, 'bridge_callbacks_connections_busy'))}, ` +
          `503 ${round((s.refused / Math.max(1, s.sent)) * 100, 1)} % ${JSON.stringify(Object.fromEntries(refused))}, accepted ${s.accepted} (${s.acceptedPerS}/s), ` +
          `pops p50/p99 ${s.frame.p50}/${s.frame.p99} ms, senderQueue p50/p99 ${s.senderQueue.p50}/${s.senderQueue.p99} ms, ` +
          `lost ${s.missing}, other errors ${s.errors - s.refused}, load ${load()}`,
      );
      await sleep(1000);
    };
    for (const rate of rates) await step(rate, 3000);
    if (overload > 0) await step(overload, 8000);
  } finally {
    await gen.close();
    await target.stop();
    await redis?.stop();
    await sim.close();
  }
}

runMain(main);
