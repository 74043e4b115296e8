/**
 * A day's worth of distinct calls into one memory-mode bridge at a steady rate: does the latency at the end
 * match the start? Every in-process table the bridge bounds (the dedupe window above all: a call id is
 * remembered for a day) fills up during this run, so a table whose insert cost grows at its cap shows here.
 *
 *   node --import tsx bench/long-run.ts [--calls 150000] [--rate 2500] [--window 10000] [--help]
 *
 * Prints the p50/p95/p99 callback-to-socket latency of the first and of the last `window` pops, what was
 * lost or repeated, and the bridge's RSS at the end.
 */
import { parseArgs } from 'node:util';
import { createSimulator } from '../src/simulator/simulator.js';
import { generateContacts } from '../src/simulator/seed.js';
import { LoadGenerator } from './lib/loadgen.js';
import { round } from './lib/stats.js';
import { startBridge } from './lib/targets.js';
import { runMain } from './lib/run-main.js';

const USAGE = `usage: node --import tsx bench/long-run.ts [options]
  --calls N    distinct calls to send (default 150000)
  --rate N     callbacks per second, open loop (default 2500)
  --window N   pops compared at the start and at the end (default 10000)
  --agents N   connected agents (default 100)
  --help       this text`;

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '150000' },
    rate: { type: 'string', default: '2500' },
    window: { type: 'string', default: '10000' },
    agents: { type: 'string', default: '100' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const calls = Number(values.calls);
const rate = Number(values.rate);
const window = Math.min(Number(values.window), Math.floor(calls / 2));
const agents = Number(values.agents);
for (const [name, v] of Object.entries({ calls, rate, window, agents })) {
  if (!Number.isInteger(v) || v <= 0) {
    console.error(`--${name} must be a positive whole number`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const contacts = generateContacts(10_000);
  const sim = createSimulator({ contacts });
  const simAddr = await sim.listen();
  const bridge = await startBridge({ name: 'bridge-memory-long', simApiUrl: simAddr.apiBaseUrl, contacts: contacts.length });
  const callers = contacts.slice(0, 5000).map((c) => c['Phone Number']);
  const gen = new LoadGenerator(bridge.spec, callers, 64);
  try {
    await gen.connectAgents(await bridge.agentSpecs(Array.from({ length: agents }, (_, i) => String(2000 + i))));
    // Warm-up, not measured: the first seconds of a fresh process (JIT, first allocations) are not its steady state.
    await gen.runOpenLoop(Math.min(rate, 500), 3000, 2000);
    console.log(`${agents} agents connected; sending ${calls} distinct calls at ${rate}/s (${round(calls / rate, 0)} s)`);
    const step = await gen.runOpenLoop(rate, (calls / rate) * 1000, 5000);
    const first = gen.latencyOfRange(0, window);
    const last = gen.latencyOfRange(calls - window, calls);
    const sample = await bridge.sample();
    console.log('');
    console.log(`long run: ${calls} distinct calls at ${rate}/s into one memory-mode bridge, ${agents} agents, 10,000 contacts`);
    console.log(`sent ${step.sent}, accepted ${step.accepted}, errors ${step.errors}${step.firstError ? ` (first: ${step.firstError})` : ""}, pops ${step.framesReceived}, missing ${step.missing}, repeated ${step.duplicates}`);
    console.log(`first ${window} pops: p50 ${first.p50} ms, p95 ${first.p95} ms, p99 ${first.p99} ms, max ${first.max} ms`);
    console.log(`last  ${window} pops: p50 ${last.p50} ms, p95 ${last.p95} ms, p99 ${last.p99} ms, max ${last.max} ms`);
    console.log(`p99 last/first: ${round(last.p99 / first.p99)}x; bridge RSS at the end ${round(sample.rssBytes / 2 ** 20, 1)} MB`);
  } finally {
    await gen.close();
    await bridge.stop();
    await sim.close();
  }
}

runMain(main);
