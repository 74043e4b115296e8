/**
 * Preloaded into a server under test (`--import ./bench/gc-log.mjs`; bench/ladder-memory.ts and bench/retention.ts
 * pass it with GC_OBSERVE=./bench/gc-log.mjs): every 2 s, one line per GC kind (count, total and longest pause)
 * and the heap in use, appended to gc-<pid>.log in GC_LOG_DIR (default: the OS temp dir).
 */
import { appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, constants } from 'node:perf_hooks';

const kinds = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak',
};
let acc = {};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const k = kinds[e.detail?.kind] ?? 'other';
    const a = (acc[k] ??= { n: 0, ms: 0, max: 0 });
    a.n++;
    a.ms += e.duration;
    a.max = Math.max(a.max, e.duration);
  }
}).observe({ entryTypes: ['gc'] });
const file = join(process.env.GC_LOG_DIR ?? tmpdir(), `gc-${process.pid}.log`);
setInterval(() => {
  const heapMB = (process.memoryUsage().heapUsed / 1e6).toFixed(0);
  const parts = Object.entries(acc).map(([k, a]) => `${k} n=${a.n} ${a.ms.toFixed(0)}ms max=${a.max.toFixed(1)}`);
  appendFileSync(file, `${new Date().toISOString().slice(11, 19)} heap ${heapMB}MB ${parts.join(' | ')}\n`);
  acc = {};
}, 2000).unref();
