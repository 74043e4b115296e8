// Loaded into a bridge under test (node --import ./bench/loop-probe.mjs, plain JS so the built bridge needs no
// tsx): every stretch of more than 20 ms in which a 1 ms timer could not run, with how much of it the event
// loop's thread spent on a CPU and how much waiting for one (/proc/self/task/<pid>/schedstat, Linux), and the
// garbage-collection pauses in it. Written as JSON to LOOP_PROBE_OUT when the process exits. On a shared
// machine the waiting part is other jobs' doing, not the bridge's.
import { readFileSync, writeFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';

const out = process.env.LOOP_PROBE_OUT;
if (out) {
  const schedPath = `/proc/self/task/${process.pid}/schedstat`;
  const sched = () => {
    try {
      const [run, wait] = readFileSync(schedPath, 'utf8').split(' ').map(Number);
      return [run / 1e6, wait / 1e6];
    } catch {
      return [Number.NaN, Number.NaN];
    }
  };
  const gaps = [];
  const gcs = [];
  let last = performance.now();
  let lastSched = sched();
  setInterval(() => {
    const now = performance.now();
    const s = sched();
    if (now - last > 20) gaps.push({ at: performance.timeOrigin + last, ms: now - last, onCpuMs: s[0] - lastSched[0], waitingMs: s[1] - lastSched[1] });
    last = now;
    lastSched = s;
  }, 1).unref();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ at: performance.timeOrigin + e.startTime, ms: e.duration });
  }).observe({ entryTypes: ['gc'] });
  process.on('exit', () => {
    for (const g of gaps) g.gcMs = gcs.filter((c) => c.at + c.ms >= g.at && c.at <= g.at + g.ms).reduce((sum, c) => sum + c.ms, 0);
    writeFileSync(out, JSON.stringify({ gaps }));
  });
}
