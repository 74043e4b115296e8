/**
 * CPU profile of the bridge under load: starts the bridge with `node --cpu-prof` (memory or Redis mode, the
 * benchmark's main setup: 100,000 contacts, 1,000 agents), drives it open-loop at a fixed rate, stops it with SIGTERM
 * (the profile is written at exit), and sums self time per function over the load window only.
 *
 *   node --import tsx bench/profile.ts [redis|memory] [rate=1000] [seconds=10]
 *   node --import tsx bench/profile.ts --summarize file.cpuprofile   (just the summary of an existing profile)
 *
 * Prints the top functions by self time and the share per package / source file; writes the summary to
 * bench/results/profile-<mode>-<date>.json. The raw .cpuprofile stays in the OS temp dir (path printed).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSimulator } from '../src/simulator/simulator.js';
import { generateContacts } from '../src/simulator/seed.js';
import { startRedisServer, type RedisServerHandle } from '../test/helpers/redis-server.js';
import { LoadGenerator } from './lib/loadgen.js';
import { cpuTimeMs } from './lib/procs.js';
import { rng, round } from './lib/stats.js';
import { startBridge, type Target } from './lib/targets.js';
import { answerHelp } from './lib/help.js';
import { Redis } from 'ioredis';
import { runMain } from './lib/run-main.js';

answerHelp(`
usage: node --import tsx bench/profile.ts [redis|memory] [rate=1000] [seconds=10]
       node --import tsx bench/profile.ts --summarize file.cpuprofile

CPU profile of the bridge under open-loop load; prints the top functions by self time and the share per
package / source file, and writes the summary to bench/results/.

options:
  redis|memory             the bridge's mode (default redis)
  rate, seconds            callbacks per second (1000) for how long (10)
  --summarize FILE         only summarize an existing .cpuprofile
  -h, --help               this text
env: CONTACTS (100000), AGENTS (1000)
`);

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  windowed: boolean;
  top: Array<{ fn: string; where: string; selfMs: number; pct: number }>;
  byGroup: Array<{ group: string; selfMs: number; pct: number }>;
  /** Time with the function anywhere on the stack (bridge source and its direct dependencies' entry points). */
  inclusive: Array<{ fn: string; where: string; totalMs: number; pct: number }>;
  /** For native frames with the most self time: the nearest caller outside node's internals, by share. */
  nativeCallers: Array<{ fn: string; callers: Array<{ caller: string; pct: number }> }>;
}

const root = new URL('../', import.meta.url).pathname;

/** Where a frame comes from: a package, a source file of the bridge, node internals, or a V8 pseudo-frame. */
function groupOf(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm?.[1]) return nm[1];
  const path = url.replace(/^file:\/\//, '');
  // Any checkout of the project (main or a worktree): the path below the repository root.
  const src = path.startsWith(root) ? /^(src\/.+|bench\/.+)$/.exec(path.slice(root.length)) : null;
  if (src?.[1]) return src[1];
  if (url.startsWith('node:')) return url.startsWith('node:internal') ? 'node:internal' : url;
  return url;
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\//, '').replace(`${root}`, '').replace(/^.*node_modules\//, '');
}

/** Sums self time per function (and per group) from samples/timeDeltas, optionally within [fromUs, toUs]. */
export function summarizeProfile(profile: CpuProfile, fromUs?: number, toUs?: number, topN = 30): ProfileSummary {
  const byId = new Map<number, CpuProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const windowed = fromUs !== undefined && toUs !== undefined && fromUs >= profile.startTime && toUs <= profile.endTime + 1e6;
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const perFn = new Map<string, { fn: string; where: string; selfUs: number }>();
  const inclusive = new Map<string, { fn: string; where: string; us: number }>();
  const nativeCallers = new Map<string, Map<string, number>>();
  const perGroup = new Map<string, number>();
  let total = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    // The sample's weight is the time until the next sample.
    const weight = profile.timeDeltas[i + 1] ?? 0;
    if (windowed && (t < (fromUs as number) || t > (toUs as number))) continue;
    const node = byId.get(profile.samples[i] ?? -1);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const fn = functionName || '(anonymous)';
    if (fn === '(idle)') continue; // waiting for I/O is not CPU
    const key = `${fn}|${url}|${lineNumber}`;
    const entry = perFn.get(key) ?? { fn, where: url ? `${shortUrl(url)}:${lineNumber + 1}` : '', selfUs: 0 };
    entry.selfUs += weight;
    perFn.set(key, entry);
    // Inclusive time: every distinct function on the stack once.
    const onStack = new Set<string>();
    let firstJsCaller: string | null = null;
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)?.callFrame;
      if (!frame || frame.url === '') continue;
      const k = `${frame.functionName || '(anonymous)'}|${frame.url}`;
      if (!frame.url.startsWith('node:')) firstJsCaller ??= `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}`;
      if (onStack.has(k)) continue;
      onStack.add(k);
      const inc = inclusive.get(k) ?? { fn: frame.functionName || '(anonymous)', where: shortUrl(frame.url), us: 0 };
      inc.us += weight;
      inclusive.set(k, inc);
    }
    if (url === '') {
      const callers = nativeCallers.get(fn) ?? new Map<string, number>();
      const caller = firstJsCaller ?? '(none)';
      callers.set(caller, (callers.get(caller) ?? 0) + weight);
      nativeCallers.set(fn, callers);
    }
    const g = groupOf(url, fn);
    perGroup.set(g, (perGroup.get(g) ?? 0) + weight);
    total += weight;
  }
  const pct = (us: number): number => round((us / total) * 100, 1);
  return {
    totalMs: round(total / 1000, 0),
    windowed,
    top: [...perFn.values()]
      .sort((a, b) => b.selfUs - a.selfUs)
      .slice(0, topN)
      .map((e) => ({ fn: e.fn, where: e.where, selfMs: round(e.selfUs / 1000, 1), pct: pct(e.selfUs) })),
    byGroup: [...perGroup.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([group, us]) => ({ group, selfMs: round(us / 1000, 1), pct: pct(us) })),
    inclusive: [...inclusive.values()]
      .filter((e) => e.where.startsWith('src/'))
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((e) => ({ fn: e.fn, where: e.where, totalMs: round(e.us / 1000, 1), pct: pct(e.us) })),
    nativeCallers: [...perFn.values()]
      .filter((e) => e.where === '' && nativeCallers.has(e.fn))
      .sort((a, b) => b.selfUs - a.selfUs)
      .slice(0, 5)
      .map((e) => {
        const callers = nativeCallers.get(e.fn) as Map<string, number>;
        const sum = [...callers.values()].reduce((a, b) => a + b, 0);
        return {
          fn: e.fn,
          callers: [...callers.entries()]
            .sort((a, b) => b[1] - a[1])
            .slice(0, 6)
            .map(([caller, us]) => ({ caller, pct: round((us / sum) * 100, 1) })),
        };
      }),
  };
}

function printSummary(s: ProfileSummary): void {
  console.log(`\nCPU self time ${s.windowed ? 'in the load window' : 'over the whole profile'}: ${s.totalMs} ms (idle excluded)\n`);
  console.log('top functions by self time');
  for (const e of s.top) console.log(`${String(e.pct).padStart(5)}%  ${String(e.selfMs).padStart(8)} ms  ${e.fn}  ${e.where}`);
  console.log('\nby package / source file');
  for (const g of s.byGroup.slice(0, 25)) console.log(`${String(g.pct).padStart(5)}%  ${String(g.selfMs).padStart(8)} ms  ${g.group}`);
  console.log('\nbridge functions by inclusive time (anywhere on the stack)');
  for (const e of s.inclusive) console.log(`${String(e.pct).padStart(5)}%  ${String(e.totalMs).padStart(8)} ms  ${e.fn}  ${e.where}`);
  console.log("\nnative frames: nearest caller outside node's internals");
  for (const n of s.nativeCallers) console.log(`${n.fn}: ${n.callers.map((c) => `${c.caller} ${c.pct}%`).join(', ')}`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--summarize' && args[1]) {
    printSummary(summarizeProfile(JSON.parse(readFileSync(args[1], 'utf8')) as CpuProfile));
    return;
  }
  const mode = args[0] === 'memory' ? 'memory' : 'redis';
  const rate = Number(args[1] ?? 1000);
  const seconds = Number(args[2] ?? 10);
  const contactsCount = Number(process.env.CONTACTS ?? 100_000);
  const agents = Number(process.env.AGENTS ?? 1000);
  const profDir = mkdtempSync(join(os.tmpdir(), 'bridge-cpuprof-'));

  const contacts = generateContacts(contactsCount);
  const sim = createSimulator({ contacts });
  const simAddr = await sim.listen();
  let redis: RedisServerHandle | null = null;
  let target: Target | null = null;
  let gen: LoadGenerator | null = null;
  try {
    if (mode === 'redis') redis = await startRedisServer();
    target = await startBridge({
      name: `bridge-${mode}`,
      simApiUrl: simAddr.apiBaseUrl,
      contacts: contactsCount,
      redisUrl: redis?.url,
      nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', '500'],
    });
    const r = rng(3);
    const callers = Array.from({ length: 20_000 }, () => contacts[Math.floor(r() * contacts.length)]?.['Phone Number'] ?? '');
    gen = new LoadGenerator(target.spec, callers);
    await gen.connectAgents(await target.agentSpecs(Array.from({ length: agents }, (_, i) => String(2000 + i))));
    await gen.runOpenLoop(300, 2000);
    await sleep(500);
    const cpu0 = cpuTimeMs(target.server.pid);
    const redisPid = redis?.process.pid ?? null;
    const rcpu0 = redisPid === null ? 0 : cpuTimeMs(redisPid);
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const t0 = performance.now();
    const step = await gen.runOpenLoop(rate, seconds * 1000);
    const toUs = Number(process.hrtime.bigint() / 1000n);
    const cpuMs = cpuTimeMs(target.server.pid) - cpu0;
    const cpuPct = round((cpuMs / (performance.now() - t0)) * 100, 0);
    const cpuMsPerCallback = step.accepted > 0 ? round(cpuMs / step.accepted, 3) : null;
    const redisCpuMsPerCallback = redisPid === null || step.accepted === 0 ? null : round((cpuTimeMs(redisPid) - rcpu0) / step.accepted, 3);
    console.log(
      `load: ${rate}/s for ${seconds} s, ${mode} mode: sent ${step.sent}, accepted ${step.accepted}, refused 503 ${step.refused}, ` +
        `other errors ${step.errors}${step.firstError ? ` (${step.firstError.slice(0, 120)})` : ''}, frames ${step.framesReceived}, ` +
        `p50 ${step.frame.p50} p95 ${step.frame.p95} p99 ${step.frame.p99} ms, server CPU ${cpuPct}%, ` +
        `server CPU ms per callback ${cpuMsPerCallback ?? '-'}${redisCpuMsPerCallback === null ? '' : ` (+redis-server ${redisCpuMsPerCallback})`}`,
    );
    if (redis) printCommandStats(await redisCommandStats(redis.url), step.accepted);
    await gen.close();
    gen = null;
    await target.stop();
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile written in ${profDir}`);
    const path = join(profDir, file);
    const summary = summarizeProfile(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, fromUs, toUs);
    printSummary(summary);
    const outDir = join(root, 'bench', 'results');
    mkdirSync(outDir, { recursive: true });
    const out = join(outDir, `profile-${mode}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(
      out,
      `${JSON.stringify({ mode, rate, seconds, contacts: contactsCount, agents, load: step, serverCpuPct: cpuPct, cpuMsPerCallback, redisCpuMsPerCallback, loadavg: os.loadavg(), profile: path, summary }, null, 2)}\n`,
    );
    console.log(`\nraw profile: ${path}\nsummary: ${out}`);
  } finally {
    await gen?.close().catch(() => undefined);
    await target?.stop().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    await sim.close();
  }
}

/** `INFO commandstats` of the whole run (warm-up included): command -> calls, microseconds. */
async function redisCommandStats(url: string): Promise<Map<string, { calls: number; usec: number }>> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const info = await client.info('commandstats');
    const stats = new Map<string, { calls: number; usec: number }>();
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) stats.set(m[1] as string, { calls: Number(m[2]), usec: Number(m[3]) });
    return stats;
  } finally {
    client.disconnect();
  }
}

function printCommandStats(stats: Map<string, { calls: number; usec: number }>, accepted: number): void {
  console.log('\nredis-server commands over the whole run (warm-up included), per accepted callback of the load window');
  for (const [cmd, s] of [...stats.entries()].sort((a, b) => b[1].usec - a[1].usec).slice(0, 15)) {
    console.log(`${cmd.padEnd(14)} calls ${String(s.calls).padStart(8)} (${round(s.calls / Math.max(1, accepted), 2)}/cb)  ${round(s.usec / Math.max(1, accepted), 1)} us/cb in redis`);
  }
}

runMain(main);
