/**
 * The memory bridge in bench/run.ts's main setup, for the scripts that study memory mode alone
 * (bench/retention.ts, bench/ladder-memory.ts): the simulator with a generated phonebook, the bridge (with
 * GC_OBSERVE preloaded when set), 1,000 agents connected, 2 s of warm-up at 300/s.
 */
import { createSimulator } from '../../src/simulator/simulator.js';
import { generateContacts } from '../../src/simulator/seed.js';
import { LoadGenerator } from './loadgen.js';
import { rng } from './stats.js';
import { startBridge, type Target } from './targets.js';

export interface MemorySetup {
  target: Target;
  gen: LoadGenerator;
  close(): Promise<void>;
}

export async function startMemorySetup(contactsCount: number): Promise<MemorySetup> {
  const contacts = generateContacts(contactsCount);
  const sim = createSimulator({ contacts });
  const simAddr = await sim.listen();
  const nodeArgs = process.env.GC_OBSERVE ? ['--import', process.env.GC_OBSERVE] : [];
  const target = await startBridge({ name: 'bridge-memory', simApiUrl: simAddr.apiBaseUrl, contacts: contactsCount, nodeArgs });
  const r = rng(3);
  const callers = Array.from({ length: 20_000 }, () => contacts[Math.floor(r() * contacts.length)]?.['Phone Number'] ?? '');
  const gen = new LoadGenerator(target.spec, callers);
  await gen.connectAgents(await target.agentSpecs(Array.from({ length: 1000 }, (_, i) => String(2000 + i))));
  await gen.runOpenLoop(300, 2000);
  return {
    target,
    gen,
    async close() {
      await gen.close();
      await target.stop();
      await sim.close();
    },
  };
}
