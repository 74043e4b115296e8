/** pino with the redaction every log line gets: no password, token, token_id or secret ever leaves. */
import { pino, type Logger, type DestinationStream } from 'pino';
import { PinoPretty } from 'pino-pretty';

export type { Logger };

export const REDACTED_KEYS = [
  'password',
  'extension_password',
  'webPassword',
  'token',
  'token_id',
  'tokenId',
  'secret',
  'authorization',
  'Authorization',
  'x-callback-secret',
  'apiKey',
  'adminApiKey',
  'sessionSecret',
  'credentialsKey',
  'cookie',
];

const CENSOR = '[redacted]';
/** Matched case-insensitively, at any depth up to MAX_SCRUB_DEPTH. */
const SECRET_KEYS: ReadonlySet<string> = new Set(REDACTED_KEYS.map((k) => k.toLowerCase()));
/** Deeper than this (or a cycle) is left as it is; pino's own redaction used to reach depth 3. */
const MAX_SCRUB_DEPTH = 8;

function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key) || SECRET_KEYS.has(key.toLowerCase());
}

/** A copy of an error that pino's err serializer renders the same way (same prototype, message, stack). */
function copyError(err: Error): Error {
  const copy = Object.create(Object.getPrototypeOf(err) as object) as Error;
  for (const name of ['message', 'stack', 'cause', 'errors'] as const) {
    if (Object.prototype.hasOwnProperty.call(err, name)) {
      Object.defineProperty(copy, name, { value: (err as unknown as Record<string, unknown>)[name], enumerable: false, writable: true, configurable: true });
    }
  }
  Object.assign(copy, err);
  return copy;
}

function isRedisCommand(value: unknown): value is { name: unknown; args: unknown[] } {
  return typeof value === 'object' && value !== null && 'args' in value && Array.isArray(value.args) && 'name' in value;
}

/**
 * Censors every property whose name is one of REDACTED_KEYS, in the logged object and the objects, arrays
 * and errors it holds. Returns the value itself when there is nothing to censor (the common case: one
 * property read and one Set lookup per key, no copy), else a censored copy; the caller's objects are never
 * modified. This replaces pino's wildcard redaction paths (`*.k`, `*.*.k`), which cloned and re-parsed
 * every path for every property of every log line.
 */
export function scrubSecrets(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null || depth > MAX_SCRUB_DEPTH) return value;
  if (ArrayBuffer.isView(value) || value instanceof Date) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const s = scrubSecrets(v, depth + 1);
      if (s !== v) (out ??= value.slice())[i] = s;
    }
    return out ?? value;
  }
  const src = value as Record<string, unknown>;
  let out: Record<string, unknown> | null = null;
  for (const key of Object.keys(src)) {
    const v = src[key];
    const s = isSecretKey(key) ? (v === undefined ? v : CENSOR) : scrubSecrets(v, depth + 1);
    if (s !== v) (out ??= value instanceof Error ? (copyError(value) as unknown as Record<string, unknown>) : { ...src })[key] = s;
  }
  // ioredis puts the failed command's arguments on its errors (`command.args`): values stored, such as a
  // webhook endpoint's JSON with its signing secret. Only the command's name and argument count are kept.
  if (value instanceof Error && isRedisCommand(src['command'])) {
    const copy = out ?? (copyError(value) as unknown as Record<string, unknown>);
    copy['command'] = { name: src['command'].name, args: `[${src['command'].args.length} arguments redacted]` };
    out = copy;
  }
  // An AggregateError's errors are not enumerable, but pino's err serializer prints them.
  if (value instanceof Error && Array.isArray((value as { errors?: unknown }).errors)) {
    const errors = (value as unknown as { errors: unknown[] }).errors;
    const s = scrubSecrets(errors, depth + 1);
    if (s !== errors) {
      const copy = out ?? (copyError(value) as unknown as Record<string, unknown>);
      Object.defineProperty(copy, 'errors', { value: s, enumerable: false, writable: true, configurable: true });
      out = copy;
    }
  }
  return out ?? value;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'hodupbx-crm-bridge' },
      // Top-level keys only (no wildcard): pino then runs its redactor only for a line that has such a key.
      // Nested keys, at any depth, are censored by scrubSecrets in the formatters below.
      redact: { paths: REDACTED_KEYS, censor: CENSOR },
      formatters: {
        log: (obj) => scrubSecrets(obj) as Record<string, unknown>,
        bindings: (bindings) => scrubSecrets(bindings) as Record<string, unknown>,
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/**
 * Where main.ts sends log lines: JSON lines on stdout (the default for machines: log shippers, containers),
 * or, for a person at a terminal, pino-pretty's one readable line per entry. Secrets are censored before
 * either sees a line.
 */
export function logDestination(format: 'auto' | 'json' | 'pretty', stdoutIsTty = process.stdout.isTTY === true): DestinationStream | undefined {
  const pretty = format === 'pretty' || (format === 'auto' && stdoutIsTty);
  if (!pretty) return undefined;
  return PinoPretty({ colorize: stdoutIsTty, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service', singleLine: true, sync: true });
}
