/**
 * `npm run doctor`: the checks an operator runs before going live, with the bridge's own environment and
 * config loader. Each check gives ok, warn or fail and one line of detail; any fail makes the verdict
 * NOT READY. Nothing here prints a secret: values of secret variables are never shown, URLs lose their
 * credentials, and PBX error messages come from the client, which already strips the token.
 * See docs/operations.md.
 */
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { loadConfig, type Config } from '../config.js';
import { PbxError } from '../errors.js';
import { createPbxClient } from '../pbx/client.js';
import { createRedisClient } from '../store/redis.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface DoctorReport {
  checks: Check[];
  ready: boolean;
}

export interface DoctorOptions {
  /** The bridge's public base URL as the PBX will call it, e.g. https://bridge.example.com (optional). */
  publicUrl?: string;
  /** Per network check (PBX, Redis, public URL). */
  timeoutMs?: number;
}

const SECRET_VARIABLES = ['PBX_TOKEN', 'PBX_CALLBACK_SECRET', 'SESSION_SECRET', 'ADMIN_API_KEY', 'CREDENTIALS_KEY'] as const;

/** A URL without user, password or query (which may carry a token), for printing. */
export function safeUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.username) u.username = '***';
    if (u.password) u.password = '***';
    u.search = '';
    u.hash = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(not a URL)';
  }
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '::1' || hostname === '[::1]' || hostname.startsWith('127.');
}

function errorText(err: unknown): string {
  if (err instanceof PbxError) {
    const code = err.pbxStatus === null ? '' : ` (PBX status ${err.pbxStatus}${err.pbxMessage ? `: ${err.pbxMessage}` : ''})`;
    return `${err.message}${code}`;
  }
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : null;
  // Redis answers (NOAUTH, WRONGPASS, …) name the problem and never echo the password.
  if (code === null && err instanceof Error && err.name === 'ReplyError') return err.message.split('\n')[0] ?? err.name;
  return code ?? (err instanceof Error ? err.name : 'unknown error');
}

function configChecks(env: NodeJS.ProcessEnv): { checks: Check[]; config: Config | null } {
  const result = loadConfig(env);
  if (!result.ok) {
    return { checks: result.problems.map((p) => ({ name: 'configuration', status: 'fail', detail: p })), config: null };
  }
  const c = result.config;
  const checks: Check[] = [];
  if (c.demo) {
    checks.push({ name: 'configuration', status: 'fail', detail: 'PBX_BASE_URL is not set: that is demo mode (a built-in simulator), not a live setup' });
    return { checks, config: c };
  }
  checks.push({
    name: 'configuration',
    status: 'ok',
    detail: `valid: PBX ${safeUrl(c.pbx?.baseUrl ?? '')}, state in ${c.redisUrl ? 'Redis' : 'memory'}, listening on ${c.host}:${c.port}`,
  });
  // One value used for two jobs: leaking one (a callback URL in a proxy log) gives away the other.
  const values = SECRET_VARIABLES.map((name) => [name, env[name]?.trim() ?? ''] as const).filter(([, v]) => v !== '');
  for (let i = 0; i < values.length; i++) {
    for (let j = i + 1; j < values.length; j++) {
      const a = values[i];
      const b = values[j];
      if (a && b && a[1] === b[1]) checks.push({ name: 'secrets', status: 'fail', detail: `${a[0]} and ${b[0]} have the same value; give each its own` });
    }
  }
  if (!c.adminApiKey) checks.push({ name: 'admin API', status: 'warn', detail: 'ADMIN_API_KEY is not set: the /api/* admin routes (tokens, webhooks, subscriptions) answer 404' });
  return { checks, config: c };
}

async function pbxCheck(config: Config, timeoutMs: number): Promise<Check[]> {
  const pbx = config.pbx;
  if (!pbx) return [];
  const checks: Check[] = [];
  const url = new URL(pbx.baseUrl);
  if (url.protocol !== 'https:' && !isLoopback(url.hostname)) {
    checks.push({ name: 'PBX URL', status: 'warn', detail: 'PBX_BASE_URL is plain http: the token and extension passwords cross the network unencrypted' });
  }
  const client = createPbxClient({ ...pbx, timeoutMs: Math.min(pbx.timeoutMs, timeoutMs) });
  const started = performance.now();
  try {
    // A harmless read: the extension list (what the bridge reads at start-up anyway).
    const extensions = await client.getExtensions();
    const ms = Math.round(performance.now() - started);
    checks.push({ name: 'PBX', status: 'ok', detail: `${safeUrl(pbx.baseUrl)} accepted the token (getExtension: ${extensions.length} extensions, ${ms} ms)` });
  } catch (err) {
    const hint = err instanceof PbxError && err.isRejection ? '; check PBX_TOKEN and PBX_USER_TYPE' : '; check PBX_BASE_URL and the network';
    checks.push({ name: 'PBX', status: 'fail', detail: `${errorText(err)}${hint}` });
  } finally {
    await client.close();
  }
  return checks;
}

/** How guessable the secret in the callback URL is, and whether it survives being put in a URL path as is. */
function callbackSecretChecks(config: Config): Check[] {
  const secret = config.callbackSecret;
  if (!secret) return [];
  const checks: Check[] = [];
  const distinct = new Set(secret).size;
  if (secret.length < 24 || distinct < 10) {
    checks.push({ name: 'callback secret', status: 'warn', detail: `${secret.length} characters, ${distinct} distinct: use 32 random characters (e.g. openssl rand -hex 16)` });
  } else {
    checks.push({ name: 'callback secret', status: 'ok', detail: `${secret.length} characters, ${distinct} distinct` });
  }
  if (!/^[A-Za-z0-9._~-]+$/.test(secret)) {
    checks.push({ name: 'callback secret', status: 'warn', detail: 'has characters that must be percent-encoded in the callback URL; letters, digits and - . _ ~ are safest' });
  }
  return checks;
}

async function publicUrlChecks(raw: string | undefined, timeoutMs: number): Promise<Check[]> {
  const form = '/pbx/callback/<PBX_CALLBACK_SECRET>';
  if (raw === undefined) {
    return [{ name: 'callback URL', status: 'ok', detail: `point the PBX at https://<this bridge>${form} (pass --public-url to check it)` }];
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return [{ name: 'callback URL', status: 'fail', detail: '--public-url is not an absolute URL' }];
  }
  const checks: Check[] = [];
  const base = safeUrl(raw);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return [{ name: 'callback URL', status: 'fail', detail: '--public-url must be http(s)' }];
  if (url.username || url.password || url.search) checks.push({ name: 'callback URL', status: 'fail', detail: '--public-url must not carry credentials or a query' });
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    checks.push({ name: 'callback URL', status: 'warn', detail: 'plain http: the callback secret travels unencrypted in the URL; put the bridge behind TLS' });
  }
  try {
    const res = await request(`${base}/healthz`, { method: 'GET', signal: AbortSignal.timeout(timeoutMs) });
    await res.body.dump();
    checks.push(
      res.statusCode === 200
        ? { name: 'callback URL', status: 'ok', detail: `${base}/healthz answers 200; the PBX calls ${base}${form}` }
        : { name: 'callback URL', status: 'warn', detail: `${base}/healthz answered ${res.statusCode}: is the bridge behind that URL?` },
    );
  } catch (err) {
    checks.push({ name: 'callback URL', status: 'warn', detail: `${base}/healthz not reachable from here (${errorText(err)}); the PBX must reach ${base}${form}` });
  }
  return checks;
}

/** `INFO` text as a map of field to value. */
function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}

async function redisChecks(config: Config, timeoutMs: number): Promise<Check[]> {
  if (!config.redisUrl) {
    return [{ name: 'Redis', status: 'warn', detail: 'REDIS_URL is not set: one instance only, and events, subscriptions and pending webhooks do not survive a restart' }];
  }
  const shown = safeUrl(config.redisUrl);
  const redis = createRedisClient(config.redisUrl, 'bridge-doctor', {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // The connection's own error says why (WRONGPASS, NOAUTH, ECONNREFUSED); the command only sees it closed.
  let connectionError: unknown = null;
  redis.on('error', (err: unknown) => (connectionError = err));
  const checks: Check[] = [];
  try {
    await redis.connect();
    const info = parseInfo(await redis.info());
    checks.push({ name: 'Redis', status: 'ok', detail: `${shown} reachable (Redis ${info.get('redis_version') ?? '?'})` });

    // Persistence: the event log and the webhook job queue live in Redis and must survive its restart.
    const aof = info.get('aof_enabled') === '1';
    let save: string | null = null;
    try {
      const reply = (await redis.config('GET', 'save')) as unknown;
      if (Array.isArray(reply) && typeof reply[1] === 'string') save = reply[1].trim();
    } catch {
      save = null; // CONFIG is often disabled on managed Redis
    }
    if (aof) checks.push({ name: 'Redis persistence', status: 'ok', detail: `appendonly on (fsync ${await configValue(redis, 'appendfsync') ?? 'unknown'})${save ? `, RDB snapshots too (save ${save})` : ''}` });
    else if (save) checks.push({ name: 'Redis persistence', status: 'ok', detail: `RDB snapshots (save ${save}); appendonly loses less on a crash` });
    else if (save === '') {
      checks.push({ name: 'Redis persistence', status: 'fail', detail: 'neither appendonly nor RDB snapshots: a Redis restart loses the event log, subscriptions and pending webhooks; set appendonly yes' });
    } else {
      checks.push({ name: 'Redis persistence', status: 'warn', detail: 'appendonly is off and the RDB schedule cannot be read (CONFIG disabled): check with your provider' });
    }

    // Eviction: every policy but noeviction may drop the stream or BullMQ's keys when memory runs out.
    const policy = info.get('maxmemory_policy') ?? (await configValue(redis, 'maxmemory-policy'));
    const maxmemory = Number(info.get('maxmemory') ?? '0');
    if (policy === undefined || policy === null) checks.push({ name: 'Redis eviction', status: 'warn', detail: 'maxmemory-policy cannot be read; it should be noeviction' });
    else if (policy === 'noeviction') checks.push({ name: 'Redis eviction', status: 'ok', detail: `maxmemory-policy noeviction${maxmemory ? '' : ' (no maxmemory limit)'}` });
    else {
      checks.push({
        name: 'Redis eviction',
        status: 'warn',
        detail: `maxmemory-policy ${policy} can evict the event stream and the webhook job queue${maxmemory ? '' : ' once a maxmemory limit is set'}; set noeviction`,
      });
    }
  } catch (err) {
    const cause = connectionError ?? err;
    const refused = cause instanceof Error && cause.name === 'ReplyError';
    checks.push({ name: 'Redis', status: 'fail', detail: `${shown} ${refused ? 'refused the connection' : 'not reachable'} (${errorText(cause)})` });
  } finally {
    redis.disconnect();
  }
  return checks;
}

async function configValue(redis: ReturnType<typeof createRedisClient>, name: string): Promise<string | null> {
  try {
    const reply = (await redis.config('GET', name)) as unknown;
    return Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : null;
  } catch {
    return null;
  }
}

export async function runDoctor(env: NodeJS.ProcessEnv, options: DoctorOptions = {}): Promise<DoctorReport> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const { checks, config } = configChecks(env);
  if (config && !config.demo) {
    const [pbx, redis, publicUrl] = await Promise.all([pbxCheck(config, timeoutMs), redisChecks(config, timeoutMs), publicUrlChecks(options.publicUrl, timeoutMs)]);
    checks.push(...pbx, ...callbackSecretChecks(config), ...publicUrl, ...redis);
  }
  return { checks, ready: checks.every((c) => c.status !== 'fail') };
}

const MARK: Record<CheckStatus, string> = { ok: '[ ok ]', warn: '[warn]', fail: '[FAIL]' };

export function formatReport(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = ['HoduPBX CRM bridge doctor', ...report.checks.map((c) => `${MARK[c.status]} ${c.name.padEnd(width)}  ${c.detail}`)];
  const fails = report.checks.filter((c) => c.status === 'fail').length;
  const warns = report.checks.filter((c) => c.status === 'warn').length;
  const counts = `${fails} failure${fails === 1 ? '' : 's'}, ${warns} warning${warns === 1 ? '' : 's'}`;
  lines.push(report.ready ? `verdict: READY (${counts})` : `verdict: NOT READY (${counts})`);
  return lines.join('\n');
}
