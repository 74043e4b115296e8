/**
 * Heap objects and bytes each open call keeps in memory mode, in process: the call tracker with the memory
 * call store and the memory event log (as bench/ringing-path.ts), a warm-up that fills the log's ring, then
 * `count` ringing callbacks whose calls stay open, as in the benchmark. Two heap snapshots (before and after,
 * each after full collections) counted by node kind and constructor: objects and self bytes per call, and the
 * kinds that grew most. Concurrent marking visits every live object, so the count matters, not only bytes.
 *
 *   node --import tsx bench/heap-per-call.ts [count=30000]
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { answerHelp } from './lib/help.js';
import { createRingingPath } from './lib/ringing-path.js';

answerHelp(`
usage: node --import tsx bench/heap-per-call.ts [count=30000]

Heap objects and self bytes per open call in memory mode, in process (tracker, memory store, memory log; no
HTTP, no phonebook), from two heap snapshots; prints the total per call and the node kinds that grew most.
`);

v8.setFlagsFromString('--expose-gc');
// The flag set at run time exposes gc() to contexts made after it, not to this one.
const gc = vm.runInNewContext('gc') as () => void;
const count = Number(process.argv[2] ?? 30_000);
const path = createRingingPath();
const callbacks = (n: number): Promise<void> => path.callbacks(n);

interface Census {
  /** process.memoryUsage().arrayBuffers after the collections, before the snapshot's own buffers. */
  arrayBuffers: number;
  objects: number;
  bytes: number;
  byKind: Map<string, { n: number; bytes: number }>;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Every node of a heap snapshot but the synthetic roots, by "type name" (strings by type alone). */
async function census(): Promise<Census> {
  gc();
  gc();
  const arrayBuffers = process.memoryUsage().arrayBuffers;
  const chunks: Buffer[] = [];
  for await (const chunk of v8.getHeapSnapshot()) chunks.push(chunk as Buffer);
  const snap = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const byKind = new Map<string, { n: number; bytes: number }>();
  let objects = 0;
  let bytes = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType] ?? 0] ?? '?';
    if (type === 'synthetic') continue;
    const size = snap.nodes[i + iSize] ?? 0;
    const kind = type.includes('string') || type === 'number' ? type : `${type} ${snap.strings[snap.nodes[i + iName] ?? 0]?.slice(0, 40)}`;
    const k = byKind.get(kind) ?? { n: 0, bytes: 0 };
    k.n++;
    k.bytes += size;
    byKind.set(kind, k);
    objects++;
    bytes += size;
  }
  return { arrayBuffers, objects, bytes, byKind };
}

await callbacks(12_000);
const before = await census();
await callbacks(count);
const after = await census();
const per = (n: number): number => Math.round((n / count) * 100) / 100;
const grew = [...after.byKind]
  .map(([kind, a]) => {
    const b = before.byKind.get(kind) ?? { n: 0, bytes: 0 };
    return { kind, objects: per(a.n - b.n), bytes: per(a.bytes - b.bytes) };
  })
  .filter((k) => Math.abs(k.objects) >= 0.05 || Math.abs(k.bytes) >= 4)
  .sort((a, b) => b.bytes - a.bytes);
console.log(`${count} open calls: ${per(after.objects - before.objects)} heap objects and ${per(after.bytes - before.bytes)} B (self sizes) per call; outside it ${per(after.arrayBuffers - before.arrayBuffers)} B of array buffers`);
for (const k of grew) console.log(`  ${String(k.objects).padStart(6)} objects ${String(k.bytes).padStart(8)} B  ${k.kind}`);
process.exit(0);
