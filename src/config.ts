/**
 * The only reader of process.env. Every variable of CONTRACT section 1 is parsed once here; an invalid
 * value yields one problem line naming the variable, and main.ts exits before listening.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { getCountries, type CountryCode } from 'libphonenumber-js';
import { CANONICAL_CALLBACK_FIELDS, type CallbackFieldMap, type CanonicalCallbackField } from './core/callback.js';


const countries = new Set<string>(getCountries());

const intIn = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

/** A share from 0 to 1 (0: off); `example` goes in the message. */
const fraction = (example: string) =>
  z
    .string()
    .trim()
    .regex(/^(0(\.\d+)?|1(\.0+)?)$/, `must be a number from 0 to 1, e.g. ${example} (0: off)`)
    .transform(Number);

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'must be true or false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A string that parses as a URL with one of these protocols. */
const urlWith = (protocols: readonly string[], message: string) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, message);

const httpUrl = urlWith(['http:', 'https:'], 'must be an http(s) URL').transform((v) => v.replace(/\/+$/, ''));

const redisUrl = urlWith(['redis:', 'rediss:'], 'must be a redis:// or rediss:// URL');

const callbackFields = z.string().transform((raw, ctx): CallbackFieldMap => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON object' });
    return z.NEVER;
  }
  const shape = z
    .object(Object.fromEntries(CANONICAL_CALLBACK_FIELDS.map((f) => [f, z.union([z.string(), z.array(z.string())]).optional()])))
    .strict();
  const result = shape.safeParse(parsed);
  if (!result.success) {
    ctx.addIssue({
      code: 'custom',
      message: `must map ${CANONICAL_CALLBACK_FIELDS.join(', ')} to a field name or a list of names`,
    });
    return z.NEVER;
  }
  const out: CallbackFieldMap = {};
  for (const [k, v] of Object.entries(result.data)) {
    if (v === undefined) continue;
    out[k as CanonicalCallbackField] = Array.isArray(v) ? v : [v];
  }
  return out;
});

const retrySchedule = z
  .string()
  .trim()
  .refine((v) => v.split(',').every((s) => /^\d+(\.\d+)?$/.test(s.trim())), 'must be comma-separated seconds, e.g. 5,300,1800')
  .transform((v) => v.split(',').map((s) => Number(s.trim())));

const base64Key32 = z
  .string()
  .trim()
  .refine((v) => /^[A-Za-z0-9+/_-]+={0,2}$/.test(v) && Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded')
  .transform((v) => Buffer.from(v, 'base64'));

// ── security settings (docs/security.md) ──
/** What Express's `trust proxy` accepts: a boolean, a hop count, or a list of proxy addresses/CIDRs. */
export type TrustProxy = boolean | number | string[];
const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);
function isAddressOrCidr(entry: string): boolean {
  if (TRUST_PROXY_NAMES.has(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}
const trustProxy = z
  .string()
  .trim()
  .transform((raw, ctx): TrustProxy => {
    const v = raw.toLowerCase();
    if (v === 'true' || v === 'yes') return true;
    if (v === 'false' || v === 'no') return false;
    if (/^\d{1,2}$/.test(v)) return Number(v);
    const entries = v.split(',').map((e) => e.trim()).filter(Boolean);
    const bad = entries.filter((e) => !isAddressOrCidr(e));
    if (entries.length === 0 || bad.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `must be true, false, a hop count (e.g. 1) or a comma list of proxy addresses/CIDRs (e.g. 10.0.0.0/8,::1)${bad.length > 0 ? `; not an address or CIDR: ${bad.slice(0, 3).map((b) => JSON.stringify(b.slice(0, 50))).join(', ')}` : ''}`,
      });
      return z.NEVER;
    }
    return entries;
  });
const securitySchema = {
  TRUST_PROXY: trustProxy.default(false),
  PBX_ALLOW_INSECURE: bool.default(false),
  // 100,000 contacts are ~29 MB of JSON (docs/security.md); twice that and more leaves room for custom fields.
  PBX_MAX_RESPONSE_BYTES: intIn(1024, 2 ** 31 - 1).default(64 * 1024 * 1024),
  WS_MAX_SOCKETS: intIn(1, 1_000_000).default(20_000),
  WS_MAX_SOCKETS_PER_TOKEN: intIn(1, 10_000).default(10),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
};

// ── callback overload settings (docs/performance.md#overload) ──
const overloadSchema = {
  CALLBACK_MAX_IN_FLIGHT: intIn(0, 1_000_000).default(1000),
  CALLBACK_MAX_OPEN_CALLS: intIn(0, 10_000_000).default(10_000),
  CALLBACK_MAX_EVENT_LOOP_DELAY_MS: intIn(0, 60_000).default(200),
  CALLBACK_MAX_EVENT_LOOP_UTILIZATION: fraction('0.95').default(0.95),
  CALLBACK_MAX_ANSWER_MS: intIn(0, 60_000).default(50),
  // The busy share of reused keep-alive connections past which a share is refused (docs/performance.md#overload-busy-connections).
  // Off unless asked for: an on-demand pool with slow answers reads busy with no queue behind it, and a PBX
  // that does not retry would lose what a false 503 refused.
  CALLBACK_MAX_CONNECTIONS_BUSY: fraction('0.45').default(0),
};

/** Loopback hosts, where a plain-http PBX URL is not sent over a network. */
function isLoopbackUrl(raw: string): boolean {
  const host = new URL(raw).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const envSchema = z.object({
  ...securitySchema,
  ...overloadSchema,
  PORT: intIn(0, 65535).default(3000),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  PBX_BASE_URL: httpUrl.optional(),
  PBX_TOKEN: z.string().min(1).optional(),
  PBX_USER_TYPE: z.string().trim().regex(/^[A-Za-z_]+$/, 'must be letters, e.g. TENANT').default('TENANT'),
  PBX_PASSWORD_FORMAT: z.enum(['md5', 'plain'], { message: 'must be md5 or plain' }).default('md5'),
  PBX_TIMEOUT_MS: intIn(100, 120_000).default(5000),
  PBX_CALLBACK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  PBX_CALLBACK_FIELDS: callbackFields.optional(),
  REDIS_URL: redisUrl.optional(),
  ADMIN_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  CREDENTIALS_KEY: base64Key32.optional(),
  AGENT_TOKEN_TTL_S: intIn(60, 30 * 86400).default(43200),
  DEFAULT_COUNTRY: z
    .string()
    .trim()
    .toUpperCase()
    .refine((v) => countries.has(v), 'must be an ISO 3166 country code, e.g. IN or US')
    .optional(),
  PHONEBOOK_REFRESH_S: intIn(10, 86400).default(300),
  CRM_LINK_TEMPLATE: z
    .string()
    .trim()
    .refine((v) => /^https?:\/\//.test(v), 'must start with http:// or https://')
    .optional(),
  WEBHOOK_ALLOW_PRIVATE: bool.default(false),
  WEBHOOK_RETRY_SCHEDULE: retrySchedule.default([5, 300, 1800, 7200, 18000, 36000, 36000]),
  WEBHOOK_TIMEOUT_MS: intIn(100, 120_000).default(15000),
  UNSUBSCRIBE_GRACE_S: intIn(0, 86400).default(300),
  RESUBSCRIBE_INTERVAL_S: intIn(10, 7 * 86400).default(3600),
  // ── call tracker and journal (docs/calls.md) ──
  ACTIVE_CALLS_POLL_MS: intIn(100, 60_000).default(1000),
  CALL_GROUP_WINDOW_S: intIn(0, 600).default(10),
  CALL_LOG_WAIT_S: intIn(1, 86400).default(300),
  RECORDING_WAIT_S: intIn(0, 7 * 86400).default(3600),
  CALL_JOURNAL_DAYS: intIn(1, 3650).default(90),
  PBX_TIMEZONE: z
    .string()
    .trim()
    .refine(isTimeZone, 'must be an IANA time zone name, e.g. Asia/Kolkata or UTC')
    .default('UTC'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    message: 'must be one of fatal, error, warn, info, debug, trace, silent',
  }).default('info'),
  // ops: how log lines look. auto = pretty for a person when stdout is a terminal, JSON lines elsewhere.
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty'], { message: 'must be auto, json or pretty' }).default('auto'),
});

type Env = z.infer<typeof envSchema>;

/** Every variable the bridge reads (for `--help`, the doctor and the deployment manifests' test). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export interface PbxConfig {
  baseUrl: string;
  token: string;
  userType: string;
  passwordFormat: 'md5' | 'plain';
  timeoutMs: number;
}

export interface Config {
  port: number;
  host: string;
  /** Behind a load balancer: which X-Forwarded-For hops to trust for the client address (rate limits are per address). */
  trustProxy: TrustProxy;
  /** Demo mode: no PBX configured, the built-in simulator stands in for it. */
  demo: boolean;
  /** null in demo mode until main.ts points it at the in-process simulator. */
  pbx: PbxConfig | null;
  pbxUserType: string;
  pbxPasswordFormat: 'md5' | 'plain';
  pbxTimeoutMs: number;
  callbackSecret: string | null;
  callbackFields: CallbackFieldMap;
  redisUrl: string | null;
  adminApiKey: string | null;
  sessionSecret: string | null;
  credentialsKey: Buffer | null;
  agentTokenTtlS: number;
  defaultCountry: CountryCode;
  phonebookRefreshS: number;
  crmLinkTemplate: string | null;
  webhookAllowPrivate: boolean;
  webhookRetryScheduleS: number[];
  webhookTimeoutMs: number;
  unsubscribeGraceS: number;
  resubscribeIntervalS: number;
  logLevel: Env['LOG_LEVEL'];
  // ── security settings (docs/security.md) ──
  pbxMaxResponseBytes: number;
  wsMaxSockets: number;
  wsMaxSocketsPerToken: number;
  /** Bearer token /metrics requires; null: /metrics is open. */
  metricsToken: string | null;
  logFormat: Env['LOG_FORMAT'];
  // ── callback overload settings (docs/performance.md#overload); 0 turns a limit off ──
  callbackMaxInFlight: number;
  callbackMaxOpenCalls: number;
  callbackMaxEventLoopDelayMs: number;
  callbackMaxEventLoopUtilization: number;
  /** The least answer time of a 100 ms sample past which a share is refused (docs/performance.md#overload). */
  callbackMaxAnswerMs: number;
  /** The busy share of reused keep-alive connections past which a share is refused (docs/performance.md#overload). */
  callbackMaxConnectionsBusy: number;
  /** The call tracker (docs/calls.md). */
  calls: CallsConfig;
}

export interface CallsConfig {
  activeCallsPollMs: number;
  groupWindowS: number;
  callLogWaitS: number;
  recordingWaitS: number;
  journalDays: number;
  pbxTimezone: string;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

/** Parses the environment. Blank values count as unset. Never echoes a value back (it may be a secret). */
export function loadConfig(env: NodeJS.ProcessEnv): ConfigResult {
  const input: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v.trim() !== '') input[key] = v;
  }
  const parsed = envSchema.safeParse(input);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${String(issue.path[0] ?? 'environment')}: ${issue.message}`);
    }
    return { ok: false, problems };
  }
  const e = parsed.data;
  const demo = e.PBX_BASE_URL === undefined;
  if (!demo) {
    if (!e.PBX_TOKEN) problems.push('PBX_TOKEN: required when PBX_BASE_URL is set');
    if (!e.PBX_CALLBACK_SECRET) problems.push('PBX_CALLBACK_SECRET: required when PBX_BASE_URL is set');
    if (!e.SESSION_SECRET) problems.push('SESSION_SECRET: required outside demo mode (at least 32 characters)');
    if (!e.CREDENTIALS_KEY) problems.push('CREDENTIALS_KEY: required outside demo mode (32 bytes, base64)');
    if (e.PBX_BASE_URL?.startsWith('http:') && !isLoopbackUrl(e.PBX_BASE_URL) && !e.PBX_ALLOW_INSECURE) {
      problems.push('PBX_BASE_URL: must be https:// (token_id and password hashes would travel in clear); set PBX_ALLOW_INSECURE=true to allow http://');
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    config: {
      port: e.PORT,
      host: e.HOST,
      trustProxy: e.TRUST_PROXY,
      demo,
      pbx:
        demo || !e.PBX_BASE_URL || !e.PBX_TOKEN
          ? null
          : {
              baseUrl: e.PBX_BASE_URL,
              token: e.PBX_TOKEN,
              userType: e.PBX_USER_TYPE,
              passwordFormat: e.PBX_PASSWORD_FORMAT,
              timeoutMs: e.PBX_TIMEOUT_MS,
            },
      pbxUserType: e.PBX_USER_TYPE,
      pbxPasswordFormat: e.PBX_PASSWORD_FORMAT,
      pbxTimeoutMs: e.PBX_TIMEOUT_MS,
      callbackSecret: e.PBX_CALLBACK_SECRET ?? null,
      callbackFields: e.PBX_CALLBACK_FIELDS ?? {},
      redisUrl: e.REDIS_URL ?? null,
      adminApiKey: e.ADMIN_API_KEY ?? null,
      sessionSecret: e.SESSION_SECRET ?? null,
      credentialsKey: e.CREDENTIALS_KEY ?? null,
      agentTokenTtlS: e.AGENT_TOKEN_TTL_S,
      // Demo mode's simulator holds Indian numbers: read them as such unless DEFAULT_COUNTRY says otherwise.
      defaultCountry: (e.DEFAULT_COUNTRY ?? (demo ? 'IN' : 'US')) as CountryCode,
      phonebookRefreshS: e.PHONEBOOK_REFRESH_S,
      crmLinkTemplate: e.CRM_LINK_TEMPLATE ?? null,
      webhookAllowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
      webhookRetryScheduleS: e.WEBHOOK_RETRY_SCHEDULE,
      webhookTimeoutMs: e.WEBHOOK_TIMEOUT_MS,
      unsubscribeGraceS: e.UNSUBSCRIBE_GRACE_S,
      resubscribeIntervalS: e.RESUBSCRIBE_INTERVAL_S,
      logLevel: e.LOG_LEVEL,
      pbxMaxResponseBytes: e.PBX_MAX_RESPONSE_BYTES,
      wsMaxSockets: e.WS_MAX_SOCKETS,
      wsMaxSocketsPerToken: e.WS_MAX_SOCKETS_PER_TOKEN,
      metricsToken: e.METRICS_TOKEN ?? null,
      logFormat: e.LOG_FORMAT,
      callbackMaxInFlight: e.CALLBACK_MAX_IN_FLIGHT,
      callbackMaxOpenCalls: e.CALLBACK_MAX_OPEN_CALLS,
      callbackMaxEventLoopDelayMs: e.CALLBACK_MAX_EVENT_LOOP_DELAY_MS,
      callbackMaxEventLoopUtilization: e.CALLBACK_MAX_EVENT_LOOP_UTILIZATION,
      callbackMaxAnswerMs: e.CALLBACK_MAX_ANSWER_MS,
      callbackMaxConnectionsBusy: e.CALLBACK_MAX_CONNECTIONS_BUSY,
      calls: {
        activeCallsPollMs: e.ACTIVE_CALLS_POLL_MS,
        groupWindowS: e.CALL_GROUP_WINDOW_S,
        callLogWaitS: e.CALL_LOG_WAIT_S,
        recordingWaitS: e.RECORDING_WAIT_S,
        journalDays: e.CALL_JOURNAL_DAYS,
        pbxTimezone: e.PBX_TIMEZONE,
      },
    },
  };
}
