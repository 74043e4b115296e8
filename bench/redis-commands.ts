/**
 * What redis-server does per callback in Redis mode: a private redis-server, a Redis-mode bridge (10,000
 * contacts, 500 agents), 5 s idle then 8 s of open-loop load; prints redis-server's and the bridge's CPU and
 * `INFO commandstats` per accepted callback (a script's inner commands are counted too, their time inside
 * EVALSHA's). For seeing where redis-server's share of "CPU per callback" goes.
 *   node --import tsx bench/redis-commands.ts [rate=1000]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createSimulator } from '../src/simulator/simulator.js';
import { generateContacts } from '../src/simulator/seed.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { LoadGenerator } from './lib/loadgen.js';
import { cpuTimeMs } from './lib/procs.js';
import { rng } from './lib/stats.js';
import { startBridge } from './lib/targets.js';
import { answerHelp } from './lib/help.js';
import { runMain } from './lib/run-main.js';

answerHelp(`
usage: node --import tsx bench/redis-commands.ts [rate=1000]

A Redis-mode bridge on a private redis-server: 5 s idle, then 8 s at the rate; prints both processes' CPU and
redis-server's INFO commandstats per accepted callback.
`);

async function main(): Promise<void> {
  const rate = Number(process.argv[2] ?? 1000);
  const contacts = generateContacts(10_000);
  const sim = createSimulator({ contacts });
  const simAddr = await sim.listen();
  const rs = await startRedisServer();
  const target = await startBridge({ name: 'bridge-redis', simApiUrl: simAddr.apiBaseUrl, contacts: 10_000, redisUrl: rs.url });
  const r = rng(3);
  const callers = Array.from({ length: 20_000 }, () => contacts[Math.floor(r() * contacts.length)]?.['Phone Number'] ?? '');
  const gen = new LoadGenerator(target.spec, callers);
  const admin = new Redis(rs.url);
  try {
    await gen.connectAgents(await target.agentSpecs(Array.from({ length: 500 }, (_, i) => String(2000 + i))));
    await gen.runOpenLoop(300, 2000);
    await sleep(3000);
    for (const [label, ms] of [['idle', 5000], ['load', 8000]] as const) {
      await admin.config('RESETSTAT');
      const redis0 = cpuTimeMs(rs.process.pid ?? 0);
      const bridge0 = cpuTimeMs(target.server.pid);
      const accepted = label === 'idle' ? (await sleep(ms), 0) : (await gen.runOpenLoop(rate, ms, 1000)).accepted;
      const redisMs = cpuTimeMs(rs.process.pid ?? 0) - redis0;
      const bridgeMs = cpuTimeMs(target.server.pid) - bridge0;
      console.log(`== ${label} ${ms} ms, accepted ${accepted}: redis-server CPU ${redisMs.toFixed(0)} ms, bridge CPU ${bridgeMs.toFixed(0)} ms`);
      for (const line of (await admin.info('commandstats')).split('\n')) {
        const m = /^cmdstat_(\w+):calls=(\d+),usec=(\d+)/.exec(line);
        if (!m) continue;
        const [, name = '', calls = '0', usec = '0'] = m;
        const per = accepted > 0 ? ` per callback: calls ${(Number(calls) / accepted).toFixed(3)}, us ${(Number(usec) / accepted).toFixed(1)}` : '';
        console.log(`  ${name.padEnd(14)} calls ${calls.padStart(7)} us ${usec.padStart(8)}${per}`);
      }
    }
  } finally {
    admin.disconnect();
    await gen.close();
    await target.stop();
    await sim.close();
    await rs.stop();
  }
}

runMain(main);
