// Phonebook index measurements: build time, longest event-loop block during the build, lookup latency, heap.
// Run: npx tsc -p tsconfig.build.json && node --expose-gc bench/phonebook.js [contacts]
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { PhonebookIndex } from '../dist/phonebook/index.js';
import { SnapshotStore } from '../dist/phonebook/snapshot-store.js';
import { MemoryKeyValueStore } from '../dist/store/memory.js';

const COUNT = Number(process.argv[2] ?? 100_000);
const COUNTRY = 'IN';

/** Deterministic pseudo-random numbers (LCG), so runs are comparable. */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function mobile(r) {
  return String(7 + Math.floor(r() * 3)) + String(Math.floor(r() * 1e9)).padStart(9, '0');
}

/** A number written the way people write them: +91, 0, 0091, national, spaced. */
function written(n, r) {
  switch (Math.floor(r() * 5)) {
    case 0: return `+91 ${n.slice(0, 5)} ${n.slice(5)}`;
    case 1: return `0${n}`;
    case 2: return `0091${n}`;
    case 3: return n;
    default: return `+91-${n}`;
  }
}

function generate(count) {
  const r = rng(42);
  const contacts = new Array(count);
  const company = Array.from({ length: 200 }, () => mobile(r));
  const hits = [];
  for (let i = 0; i < count; i++) {
    const phone = mobile(r);
    const cell = mobile(r);
    const custom = { Company: `Company ${i % 200}`, City: 'Ahmedabad' };
    if (r() < 0.5) custom['Office No'] = written(company[i % 200], r);
    contacts[i] = {
      phonebookId: String(i + 1),
      displayName: `Contact ${i + 1}`,
      firstName: 'Contact',
      lastName: String(i + 1),
      email: `c${i + 1}@example.com`,
      extension: r() < 0.1 ? String(1000 + (i % 9000)) : '',
      phoneNumber: written(phone, r),
      cellNumber: r() < 0.7 ? written(cell, r) : '',
      phoneGroup: String(i % 10),
      customFields: custom,
    };
    if (i % 97 === 0) hits.push(`0${phone}`, `+91${phone}`);
  }
  return { contacts, hits };
}

const customFields = [
  { name: 'Company', type: 'DropDownList' },
  { name: 'City', type: 'Text' },
  { name: 'Office No', type: 'Text' },
];
const extensions = Array.from({ length: 500 }, (_, i) => ({ id: String(i), name: `${100 + i}-${100 + i}`, number: String(100 + i) }));

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function timeLookups(index, numbers, rounds) {
  const times = [];
  let found = 0;
  for (let round = 0; round < rounds; round++) {
    for (const n of numbers) {
      const t = performance.now();
      const m = index.lookup(n);
      times.push((performance.now() - t) * 1000);
      if (m.contact) found++;
    }
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5).toFixed(1), p99: percentile(times, 0.99).toFixed(1), found, total: times.length };
}

/** Runs `work` while measuring the longest gap between two 1 ms interval ticks (= longest event-loop block). */
async function withBlockProbe(work) {
  let last = performance.now();
  let maxGap = 0;
  const probe = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const started = performance.now();
  const result = await work();
  const ms = performance.now() - started;
  histogram.disable();
  clearInterval(probe);
  return { result, ms: Math.round(ms), maxBlockMs: Number(maxGap.toFixed(1)), delayP99Ms: Number((histogram.percentile(99) / 1e6).toFixed(1)) };
}

async function main() {
  const { contacts, hits } = generate(COUNT);
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;

  const build = await withBlockProbe(() => PhonebookIndex.build(contacts, extensions, customFields, COUNTRY));
  const index = build.result;

  globalThis.gc?.();
  const heapAfter = process.memoryUsage().heapUsed;

  const r = rng(7);
  const misses = Array.from({ length: 2000 }, () => `0${mobile(r)}`);
  timeLookups(index, hits.slice(0, 200), 5); // warm up
  const hit = timeLookups(index, hits, 5);
  const miss = timeLookups(index, misses, 5);

  // The shared snapshot: chunked write and read (JSON per chunk), as instances do on refresh and reload.
  const store = new SnapshotStore(new MemoryKeyValueStore());
  const snapshot = { version: 'bench', fetchedAtMs: Date.now(), contacts, extensions, customFields };
  const write = await withBlockProbe(() => store.write(snapshot));
  const read = await withBlockProbe(() => store.read(write.result));

  console.log(JSON.stringify({
    contacts: COUNT,
    keys: index.keyCount,
    build: { ms: build.ms, maxBlockMs: build.maxBlockMs, delayP99Ms: build.delayP99Ms },
    snapshotWrite: { ms: write.ms, maxBlockMs: write.maxBlockMs },
    snapshotRead: { ms: read.ms, maxBlockMs: read.maxBlockMs, contacts: read.result?.contacts.length },
    lookupHitUs: hit,
    lookupMissUs: miss,
    heapContactsMB: Number((heapBefore / 2 ** 20).toFixed(1)),
    heapIndexMB: Number(((heapAfter - heapBefore) / 2 ** 20).toFixed(1)),
    gcExposed: typeof globalThis.gc === 'function',
  }, null, 2));
}

await main();
