/**
 * Screen-pop latency while the callback route is flooded with unauthenticated requests (docs/security.md).
 *
 *   node --import tsx bench/auth-flood.ts            10 s per phase, 10,000 contacts
 *   node --import tsx bench/auth-flood.ts --quick    about a second per phase, tiny phonebook (smoke run)
 *
 * A bridge (its own process, memory mode) with 20 agents takes an open loop of real callbacks (200/s) twice:
 * alone, then while 40 clients send wrong-secret callbacks back to back, each with ~12 KB of headers and a
 * long `auth…` query value. Prints the pop latency (callback sent to frame received) p50/p99 of both phases
 * and the flood's request rate. Figures are only meaningful on a quiet machine.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { createSimulator } from '../src/simulator/simulator.js';
import { generateContacts } from '../src/simulator/seed.js';
import { LoadGenerator, type StepRaw } from './lib/loadgen.js';
import { round } from './lib/stats.js';
import { startBridge } from './lib/targets.js';
import { runMain } from './lib/run-main.js';

const QUICK = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick');
const P = QUICK
  ? { contacts: 500, agents: 5, rate: 100, durationMs: 1500, flooders: 40 }
  : { contacts: 10_000, agents: 20, rate: 200, durationMs: 10_000, flooders: 40 };

const FLOOD_HEADERS: Record<string, string> = {
  'content-type': 'application/json',
  'x-callback-secret': 'not-the-secret-0000',
  // ~12 KB of headers: three 4 KB values, one of them the `auth…` word redaction used to rescan.
  'user-agent': `${'auth'.repeat(1024)}=x`,
  'x-padding-a': 'a'.repeat(4096),
  'x-padding-b': 'b'.repeat(4096),
};

/** `clients` loops each sending one wrong-secret callback after the other until stopped. */
function startFlood(origin: string, clients: number): { stop(): Promise<{ sent: number; perS: number; statuses: Record<string, number> }> } {
  const pool = new Pool(origin, { connections: clients, pipelining: 1 });
  let running = true;
  let sent = 0;
  const statuses: Record<string, number> = {};
  const started = performance.now();
  const query = `?note=${'auth'.repeat(256)}`;
  const loop = async (): Promise<void> => {
    while (running) {
      try {
        const res = await pool.request({ origin, path: `/pbx/callback${query}`, method: 'POST', headers: FLOOD_HEADERS, body: '{}' });
        await res.body.dump();
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      } catch {
        statuses.error = (statuses.error ?? 0) + 1;
      }
      sent++;
    }
  };
  const loops = Array.from({ length: clients }, loop);
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      const seconds = (performance.now() - started) / 1000;
      await pool.close();
      return { sent, perS: round(sent / seconds, 0), statuses };
    },
  };
}

const row = (label: string, step: StepRaw): string =>
  `| ${label} | ${step.rate} | ${step.accepted}/${step.sent} | ${round(step.frame.p50)} | ${round(step.frame.p99)} | ${step.missing} |`;

async function main(): Promise<void> {
  const contacts = generateContacts(P.contacts);
  const sim = createSimulator({ contacts });
  const simAddr = await sim.listen();
  const bridge = await startBridge({ name: 'bridge-auth-flood', simApiUrl: simAddr.apiBaseUrl, contacts: P.contacts });
  const callers = contacts.slice(0, 2000).map((c) => c['Phone Number']);
  const gen = new LoadGenerator(bridge.spec, callers, 32);
  try {
    const extensions = Array.from({ length: P.agents }, (_, i) => String(7000 + i));
    await gen.connectAgents(await bridge.agentSpecs(extensions));
    // Warm-up, not reported.
    await gen.runOpenLoop(P.rate, Math.min(1000, P.durationMs), 1000);
    const quiet = await gen.runOpenLoop(P.rate, P.durationMs);
    const flood = startFlood(bridge.spec.origin, P.flooders);
    const flooded = await gen.runOpenLoop(P.rate, P.durationMs);
    const floodResult = await flood.stop();

    console.log(`${QUICK ? 'QUICK' : 'FULL'} auth-flood run: ${P.agents} agents, ${P.contacts} contacts, ${P.flooders} flooding clients`);
    console.log('| phase | callbacks/s | accepted | pop p50 ms | pop p99 ms | missing |');
    console.log('|---|---|---|---|---|---|');
    console.log(row('quiet', quiet));
    console.log(row(`flooded (${floodResult.perS} wrong-secret req/s)`, flooded));
    console.log(`flood answers: ${JSON.stringify(floodResult.statuses)}`);
  } finally {
    await gen.close();
    await bridge.stop();
    await sim.close();
  }
}

runMain(main, 'auth-flood');
