/** Starting the servers under test (baseline relay, bridge) and reading their own figures. */
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { freePort } from '../../test/helpers/redis-server.js';
import { getJson, parsePrometheus, rssBytes, spawnServer, waitFor, type ServerProcess } from './procs.js';
import type { AgentSpec, TargetSpec } from './loadgen.js';

export const CALLBACK_SECRET = 'bench-callback-secret-0000';
export const ADMIN_API_KEY = 'bench-admin-key-000000000000';

/** What the harness reads from a server around each step. */
export interface ServerSample {
  rssBytes: number;
  heapUsedBytes: number;
  /** Event-loop delay since the previous sample (the histograms reset on read). */
  lagP99Ms: number;
  lagMaxMs: number;
  /** Callbacks the bridge refused with 503 past its limit, since it started (bridge_callbacks_refused_total); NaN for the relays. */
  refusedTotal: number;
  /** Agent sockets the bridge closed with 1013 (read too slowly) since it started; NaN for the relays. */
  slowReaderCloses: number;
  /**
   * The overload guard's per-sample least answer time since the bridge started, as cumulative bucket counts
   * by upper bound in ms (bridge_callbacks_answer_min_seconds; +Inf as Infinity); empty for the relays.
   */
  answerMinBuckets: Map<number, number>;
  /** bridge_callbacks_refused_total by reason since the bridge started; empty for the relays. */
  refusedByReason: Record<string, number>;
}

export interface Target {
  name: string;
  kind: 'baseline' | 'bridge';
  server: ServerProcess;
  spec: TargetSpec;
  /** Load agents (and idle agents) on these extensions. */
  agentSpecs(extensions: readonly string[]): Promise<AgentSpec[]>;
  sample(): Promise<ServerSample>;
  stop(): Promise<void>;
}

const root = new URL('../../', import.meta.url).pathname;

const serverArgs = (script: string, extra: string[]): string[] => [
  '--expose-gc',
  ...extra,
  '--import',
  'tsx',
  '--import',
  './bench/gc-on-signal.ts',
  script,
];

/** The built bridge (`npm run build`) as production runs it, without tsx; SIGUSR2 still runs a full GC. */
const builtArgs = (extra: string[]): string[] => [
  '--expose-gc',
  ...extra,
  '--import',
  'data:text/javascript,const gc=globalThis.gc;if(gc)process.on("SIGUSR2",()=>gc())',
  'dist/main.js',
];

/**
 * `express`: the Express relay the targets are ratios to; `raw`: the same on bare node:http, the stack's limit.
 * `opts.env` is added to the relay's environment (e.g. RELAY_REDIS, bench/baseline-relay.ts), `opts.name` names it.
 */
export async function startBaseline(kind: 'express' | 'raw' = 'express', opts: { name?: string; env?: Record<string, string> } = {}): Promise<Target> {
  const name = opts.name ?? (kind === 'express' ? 'baseline' : 'raw-relay');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = { ...opts.env, PORT: String(port), HOST: '127.0.0.1' };
  const server = spawnServer({ name, cwd: root, args: serverArgs(kind === 'express' ? 'bench/baseline-relay.ts' : 'bench/raw-relay.ts', []), env, url });
  await waitFor(server, 'readyz', 30_000, async () => (await getJson(`${url}/readyz`)).status === 200);
  return {
    name,
    kind: 'baseline',
    server,
    spec: { origin: url, callbackHeaders: {}, checkEnrichment: false },
    agentSpecs: async (extensions) =>
      extensions.map((extension) => ({ extension, url: `ws://127.0.0.1:${port}/ws?extension=${extension}`, waitForFirstFrame: false })),
    async sample() {
      const { body } = await getJson(`${url}/stats`);
      const s = body as { rssBytes: number; heapUsedBytes: number; lagP99Ms: number; lagMaxMs: number };
      return { rssBytes: s.rssBytes, heapUsedBytes: s.heapUsedBytes, lagP99Ms: s.lagP99Ms, lagMaxMs: s.lagMaxMs, refusedTotal: NaN, slowReaderCloses: NaN, answerMinBuckets: new Map(), refusedByReason: {} };
    },
    stop: () => server.stop(),
  };
}

export interface BridgeStartOptions {
  name: string;
  simApiUrl: string;
  contacts: number;
  redisUrl?: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** Extra environment for the bridge (e.g. BENCH_BRIDGE_ENV='ACTIVE_CALLS_POLL_MS=60000'). */
  env?: Record<string, string>;
  /** Run dist/main.js (built first) instead of src/main.ts through tsx. */
  built?: boolean;
}

/** BENCH_BRIDGE_ENV: `NAME=value` pairs, comma-separated, added to every bridge a benchmark starts. */
function benchBridgeEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (process.env.BENCH_BRIDGE_ENV ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at > 0) out[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return out;
}

export async function startBridge(opts: BridgeStartOptions): Promise<Target> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    PBX_BASE_URL: opts.simApiUrl,
    PBX_TOKEN: 'demo-token-0000',
    PBX_TIMEOUT_MS: '120000',
    PBX_CALLBACK_SECRET: CALLBACK_SECRET,
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    CREDENTIALS_KEY: randomBytes(32).toString('base64'),
    ADMIN_API_KEY,
    DEFAULT_COUNTRY: 'IN',
    PHONEBOOK_REFRESH_S: '86400',
    LOG_LEVEL: 'info',
    REDIS_URL: opts.redisUrl ?? '',
    // The load's ringing callbacks have no call behind them: the PBX simulator never lists them, so the call
    // tracker keeps each one open until the call log or its 10-minute limit settles it, and a run at thousands
    // a second piles up open calls no real PBX has. Polling once a minute keeps that pile mostly out of the
    // figures (each round still judges up to 1,000 of them, in slices: docs/performance.md "Work beside the
    // callbacks"); each callback still opens its call. The tracker's polling cost for real calls is bench/calls.ts.
    ACTIVE_CALLS_POLL_MS: '60000',
    // For the same reason the open-call bound is off here: the pile would hit it within seconds and turn the
    // ladder's later steps into 503s a real PBX would never see. It is judged in test/integration/overload-open-calls.test.ts.
    CALLBACK_MAX_OPEN_CALLS: '0',
    // The load generator sends over a fixed pool of 64 keep-alive connections, the kind of PBX this signal is
    // for (off by default: docs/performance.md#overload-busy-connections).
    CALLBACK_MAX_CONNECTIONS_BUSY: '0.45',
    ...benchBridgeEnv(),
    ...opts.env,
  };
  const server = spawnServer({ name: opts.name, cwd: root, args: opts.built === true ? builtArgs(opts.nodeArgs ?? []) : serverArgs('src/main.ts', opts.nodeArgs ?? []), env, url });
  await waitFor(server, `readyz with ${opts.contacts} contacts`, 180_000, async () => {
    const { status, body } = await getJson(`${url}/readyz`);
    const contacts = (body as { phonebook?: { contacts?: number } }).phonebook?.contacts;
    return status === 200 && contacts === opts.contacts;
  });
  const admin = { authorization: `Bearer ${ADMIN_API_KEY}`, 'content-type': 'application/json' };
  return {
    name: opts.name,
    kind: 'bridge',
    server,
    spec: { origin: url, callbackHeaders: { 'x-callback-secret': CALLBACK_SECRET }, checkEnrichment: true },
    async agentSpecs(extensions) {
      const tokens = await mapLimit(extensions, 20, async (extension) => {
        const res = await request(`${url}/api/tokens`, {
          method: 'POST',
          headers: admin,
          body: JSON.stringify({ extension, role: 'agent', ttlSeconds: 3600 }),
        });
        const body = (await res.body.json()) as { token?: string };
        if (res.statusCode !== 200 || !body.token) throw new Error(`POST /api/tokens answered ${res.statusCode}`);
        return body.token;
      });
      return extensions.map((extension, i) => ({
        extension,
        url: `ws://127.0.0.1:${port}/ws?token=${encodeURIComponent(tokens[i] ?? '')}`,
        waitForFirstFrame: true,
      }));
    },
    async sample() {
      const res = await request(`${url}/metrics`);
      const text = await res.body.text();
      const m = parsePrometheus(text);
      return {
        refusedTotal: sumOf(text, 'bridge_callbacks_refused_total'),
        slowReaderCloses: sumOf(text, 'bridge_ws_slow_reader_closes_total'),
        answerMinBuckets: bucketsOf(text, 'bridge_callbacks_answer_min_seconds_bucket'),
        refusedByReason: byReason(text, 'bridge_callbacks_refused_total'),
        rssBytes: m.get('bridge_process_resident_memory_bytes') ?? rssBytes(server.pid),
        heapUsedBytes: m.get('bridge_nodejs_heap_size_used_bytes') ?? NaN,
        lagP99Ms: (m.get('bridge_nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
        lagMaxMs: (m.get('bridge_nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000,
      };
    },
    stop: () => server.stop(),
  };
}

/** POST /api/phonebook/refresh on a bridge; resolves with the answer and how long it took. */
export async function refreshPhonebook(target: Target): Promise<{ status: number; ms: number; body: unknown }> {
  const started = performance.now();
  const res = await request(`${target.spec.origin}/api/phonebook/refresh`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_API_KEY}` },
    headersTimeout: 300_000,
    bodyTimeout: 300_000,
  });
  const body = (await res.body.json()) as unknown;
  return { status: res.statusCode, ms: Math.round(performance.now() - started), body };
}

export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The sum of a metric over all its label sets, from the Prometheus text. */
/** A counter's values by its `reason` label. */
function byReason(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\S+)\{reason="([^"]+)"\}\s+(\S+)/.exec(line);
    if (m?.[1] === name && m[2] !== undefined) out[m[2]] = Number(m[3]);
  }
  return out;
}

/** A histogram's cumulative bucket counts by upper bound, in ms. */
function bucketsOf(text: string, name: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const m = /le="([^"]+)"[^}]*\}\s+(\S+)/.exec(line);
    if (m?.[1] === undefined || m[2] === undefined) continue;
    out.set(m[1] === '+Inf' ? Infinity : Math.round(Number(m[1]) * 1e5) / 100, Number(m[2]));
  }
  return out;
}

function sumOf(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m?.[2] !== undefined && line.slice(name.length, name.length + 1).match(/[{\s]/)) sum += Number(m[2]);
  }
  return sum;
}
