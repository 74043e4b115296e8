/** Starts a real redis-server on a free loopback port, for tests that need one of their own (e.g. to stop it). */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { findRedisServer } from '../../scripts/test-deps.mjs';

export interface RedisServerHandle {
  url: string;
  port: number;
  process: ChildProcess;
  /** Stops the server (SIGTERM, then SIGKILL) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  /** Freezes the server (SIGSTOP: the socket stays open, nothing answers); the returned function, idempotent, thaws it. */
  hang(): () => void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPing(url: string, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return;
    } catch (err) {
      client.disconnect();
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** `args` are appended to the defaults (no persistence) and override them, e.g. `['--appendonly', 'yes']`. */
export async function startRedisServer(opts: { args?: string[] } = {}): Promise<RedisServerHandle> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}/0`;
  let proc: ChildProcess;
  const launch = async (): Promise<ChildProcess> => {
    const p = spawn(
      // REDIS_SERVER overrides the PATH lookup, as in the pretest check (scripts/check-test-deps.mjs).
      findRedisServer().path ?? 'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', ...(opts.args ?? [])],
      { stdio: 'ignore' },
    );
    p.on('error', () => undefined);
    await waitForPing(url, 10_000);
    return p;
  };
  proc = await launch();
  const handle: RedisServerHandle = {
    url,
    port,
    get process() {
      return proc;
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
    async restart() {
      await handle.stop();
      proc = await launch();
    },
    hang() {
      const frozen = proc;
      frozen.kill('SIGSTOP');
      let thawed = false;
      return () => {
        if (!thawed) frozen.kill('SIGCONT');
        thawed = true;
      };
    },
  };
  return handle;
}

/** A key prefix unique to one test, so test files can share one redis-server without seeing each other. */
export function uniquePrefix(name: string): string {
  return `test:${name}:${process.pid}:${Math.random().toString(36).slice(2, 10)}:`;
}
