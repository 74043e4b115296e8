/**
 * CPU per ringing callback of memory mode's ringing path alone, in process: the call tracker with the memory
 * call store and the memory event log (one subscriber standing in for the hub), no HTTP, no phonebook (each
 * lookup answers a fresh contact, as an uncached lookup does). Every callback opens a call that stays open,
 * as in the benchmark. process.cpuUsage over `count` callbacks, `rounds` times after a warm-up of 10,000.
 *
 *   node --import tsx bench/ringing-path.ts [count=30000] [rounds=5]
 *
 * Prints one JSON line: µs of CPU per callback for each round, sorted, and the median.
 */
import { answerHelp } from './lib/help.js';
import { createRingingPath } from './lib/ringing-path.js';

answerHelp(`
usage: node --import tsx bench/ringing-path.ts [count=30000] [rounds=5]

CPU per ringing callback of memory mode's ringing path in process (tracker, memory store, memory log; no
HTTP, no phonebook); prints one JSON line with each round's µs per callback and the median.
`);

const count = Number(process.argv[2] ?? 30_000);
const rounds = Number(process.argv[3] ?? 5);
const path = createRingingPath();
const callbacks = (n: number): Promise<void> => path.callbacks(n);

await callbacks(10_000);
const us: number[] = [];
for (let r = 0; r < rounds; r++) {
  const before = process.cpuUsage();
  await callbacks(count);
  const used = process.cpuUsage(before);
  us.push(Math.round(((used.user + used.system) / count) * 100) / 100);
}
us.sort((a, b) => a - b);
console.log(JSON.stringify({ count, rounds, usPerCallback: us, median: us[Math.floor(us.length / 2)], eventBytes: path.eventBytes() }));
process.exit(0);
