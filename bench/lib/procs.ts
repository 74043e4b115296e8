/** Child processes under test: spawn, wait until ready, CPU time from /proc, stop. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

export interface ServerProcess {
  name: string;
  pid: number;
  url: string;
  child: ChildProcess;
  /** The last lines the process wrote to stderr (for error reports). */
  stderrTail(): string;
  /** Stops it with SIGTERM (SIGKILL after graceMs) and waits for the exit. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  args: string[];
  env: Record<string, string>;
  url: string;
  cwd: string;
}

/** Every server child still running: killed if the harness itself dies (e.g. its stdout pipe closes). */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Spawns `node <args>`; stdout goes to /dev/null (pino's JSON is written and discarded, as in production). */
export function spawnServer(opts: SpawnOptions): ServerProcess {
  const child = spawn(process.execPath, opts.args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-4000);
  });
  child.on('error', () => undefined);
  live.add(child);
  child.once('exit', () => live.delete(child));
  return {
    name: opts.name,
    pid: child.pid ?? -1,
    url: opts.url,
    child,
    stderrTail: () => tail,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `check` every 100 ms until it returns true; throws with the server's stderr after timeoutMs. */
export async function waitFor(server: ServerProcess, what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (server.child.exitCode !== null) throw new Error(`${server.name} exited (${server.child.exitCode}) while waiting for ${what}:\n${server.stderrTail()}`);
    try {
      if (await check()) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`${server.name}: timed out waiting for ${what}:\n${server.stderrTail()}`);
    await sleep(100);
  }
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const res = await request(url, { headers });
  const text = await res.body.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.statusCode, body };
}

/** User + system CPU time of a process in ms, from /proc (Linux); NaN elsewhere. */
export function cpuTimeMs(pid: number): number {
  const { userMs, systemMs } = cpuSplitMs(pid);
  return userMs + systemMs;
}

/** User and system (kernel: syscalls, the loopback's TCP) CPU time of a process in ms, from /proc (Linux); NaN elsewhere. */
export function cpuSplitMs(pid: number): { userMs: number; systemMs: number } {
  try {
    return statCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return { userMs: NaN, systemMs: NaN };
  }
}

/** User and system CPU time in ms from the text of a /proc stat file (a process's or a thread's). */
function statCpuMs(stat: string): { userMs: number; systemMs: number } {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": state is field 3, so utime (14) and stime (15) are at indexes 11 and 12.
  // USER_HZ is 100 on Linux.
  return { userMs: (Number(fields[11]) * 1000) / 100, systemMs: (Number(fields[12]) * 1000) / 100 };
}

/**
 * How long a process's main thread has waited for a CPU while runnable (ms, from /proc/<pid>/task/<pid>/schedstat);
 * NaN where the kernel does not keep it. A server whose loop is late while this grows was not running, not busy.
 */
export function runQueueWaitMs(pid: number): number {
  try {
    const [, waitNs] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ');
    return Number(waitNs) / 1e6;
  } catch {
    return NaN;
  }
}

/**
 * CPU time (user + system, ms) of each thread of a process, by thread id, with its name (`comm`: the main
 * thread carries the process's name, libuv's pool `libuv-worker`, V8's GC and compiler helpers
 * `V8 DefaultWorke`), from /proc/<pid>/task/<tid>/stat; empty where /proc is missing.
 */
export function threadCpuMs(pid: number): Map<number, { comm: string; ms: number }> {
  const out = new Map<number, { comm: string; ms: number }>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const { userMs, systemMs } = statCpuMs(stat);
      out.set(Number(tid), { comm, ms: userMs + systemMs });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** CPU time all of the machine's CPUs spent busy (not idle or waiting for I/O), ms, from /proc/stat; NaN elsewhere. */
export function machineBusyMs(): number {
  try {
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    return ((user + nice + system + irq + softirq + steal) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

/** Resident set size of a process in bytes, from /proc; NaN elsewhere. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Reads the values of a Prometheus text exposition (no labels needed here: first sample of each name wins). */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] === undefined || m[3] === undefined) continue;
    if (!out.has(m[1])) out.set(m[1], Number(m[3]));
  }
  return out;
}
