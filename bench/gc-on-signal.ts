/**
 * Preloaded (`--expose-gc --import ./bench/gc-on-signal.ts`) into the servers under test so the harness can ask
 * for a full GC with SIGUSR2 before reading memory: per-agent memory is then live data, not garbage not yet
 * collected. It adds nothing else to the process.
 */
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) process.on('SIGUSR2', () => gc());
