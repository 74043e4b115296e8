/**
 * Runs a whole bridge as a child process (`node --import tsx src/main.ts`), the way operators run it, so tests
 * and the soak script can SIGKILL or SIGTERM it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './redis-server.js';
import { SECRETS } from './bridge-harness.js';
import { LogCapture } from './log-capture.js';
import { eventuallyValue } from './wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface BridgeProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything it printed (pino JSON lines on stdout, anything on stderr), for failure messages. */
  output: string[];
  /** Its log lines (stdout), for assertions on what it logged. */
  logs: LogCapture;
  /** Resolves with the exit code (null when killed by a signal) and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts a bridge process against `pbxApi` (e.g. the harness simulator) and waits until /healthz answers. */
export async function spawnBridge(opts: { pbxApi: string; redisUrl: string; env?: Record<string, string>; startTimeoutMs?: number }): Promise<BridgeProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      PBX_BASE_URL: opts.pbxApi,
      PBX_TOKEN: SECRETS.pbxToken,
      PBX_CALLBACK_SECRET: SECRETS.callbackSecret,
      SESSION_SECRET: SECRETS.sessionSecret,
      CREDENTIALS_KEY: SECRETS.credentialsKey,
      ADMIN_API_KEY: SECRETS.adminApiKey,
      REDIS_URL: opts.redisUrl,
      LOG_LEVEL: 'info',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    output.push(...String(chunk).split('\n').filter(Boolean));
    if (output.length > 5000) output.splice(0, output.length - 5000);
  };
  child.stdout?.on('data', collect);
  const logs = new LogCapture();
  child.stdout?.pipe(logs.stream);
  child.stderr?.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const url = `http://127.0.0.1:${port}`;
  const proc: BridgeProcess = {
    url,
    port,
    child,
    output,
    logs,
    exited,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
  let gone = false;
  void exited.then(() => (gone = true));
  const healthy = async (): Promise<boolean> => {
    if (gone) throw new Error(`bridge process exited during start:\n${output.slice(-20).join('\n')}`);
    try {
      return (await fetch(`${url}/healthz`)).ok;
    } catch {
      return false; // not listening yet
    }
  };
  try {
    await eventuallyValue(healthy, Boolean, opts.startTimeoutMs ?? 30_000);
  } catch (err) {
    if (gone) throw err;
    proc.kill('SIGKILL');
    throw new Error(`bridge process did not start in time:\n${output.slice(-20).join('\n')}`);
  }
  return proc;
}

/** SIGKILLs it (if still running) and waits for the exit: for teardown. */
export async function stopBridge(p: BridgeProcess): Promise<void> {
  p.kill('SIGKILL');
  await p.exited;
}
