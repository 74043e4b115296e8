/**
 * The redaction applied before a callback is kept for operators (`GET /api/callbacks/recent`) or its error
 * is logged: credential-looking fields and the configured secrets never leave the callback route.
 */
import { normalizeFieldName } from '../core/callback.js';

export const REDACTED = '[redacted]';

/** Names that look like credentials: secret, password, passwd, pwd, token, auth…, api key, signature. */
export function isSecretFieldName(name: string): boolean {
  return /secret|passw|pwd|token|auth|apikey|signature|credential|cookie/.test(normalizeFieldName(name));
}

const RECORD_LIMITS = { depth: 4, keys: 100, items: 20, string: 512 } as const;

/**
 * A copy of a parsed callback safe to keep and show: fields whose name looks like a credential are
 * replaced, the secrets (as sent or URL-encoded) are cut out of every string, and size is bounded
 * (depth, keys, items, string length) so a 64 KiB body does not become a 64 KiB record.
 */
export function redactForRecord(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === 'string') return redactCut(value, secrets, RECORD_LIMITS.string);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= RECORD_LIMITS.depth) return '[nested too deep]';
  if (Array.isArray(value)) {
    return value.slice(0, RECORD_LIMITS.items).map((v) => redactForRecord(v, secrets, depth + 1));
  }
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(value).slice(0, RECORD_LIMITS.keys)) {
    const safeName = redactCut(name, secrets, 128);
    out[safeName] = isSecretFieldName(name) ? REDACTED : redactForRecord(v, secrets, depth + 1);
  }
  return out;
}

/**
 * Credential-looking `name=value` / `"name":"value"` pairs. Every quantifier is bounded, so the work is
 * linear in the text: an unbounded `auth\w*` rescanned a long `authauth…` word from every `auth` in it.
 */
export const SECRET_PAIR_PATTERN = /((?:secret|passw\w{0,32}|pwd|token|auth\w{0,32}|api[-_]?key|signature)["']?\s{0,8}[:=]\s{0,8}["']?)([^"'&\s,;}]+)/gi;

/**
 * Cuts `text` to `max` characters (plus '…') and redacts it, in work bounded by `max` and the secrets'
 * length, however long the text: it is cut first, with a margin as long as the longest secret, so a secret
 * straddling the cut is still removed whole, then redacted, then cut to `max`.
 */
export function redactCut(text: string, secrets: readonly string[], max: number): string {
  let margin = 64;
  for (const secret of secrets) margin = Math.max(margin, encodeURIComponent(secret).length);
  const head = text.length > max + margin ? text.slice(0, max + margin) : text;
  const redacted = redactText(head, secrets);
  return redacted.length > max || head.length < text.length ? `${redacted.slice(0, max)}…` : redacted;
}

/**
 * Removes the secrets from free text (a raw body, a header) and masks `name=value` / `"name":"value"`
 * pairs whose name looks like a credential, for bodies too broken to parse.
 */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret === '') continue;
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret && out.includes(encoded)) out = out.split(encoded).join(REDACTED);
  }
  // The pattern below needs a ':' or '=': most values (numbers, names, ids) have neither.
  if (!out.includes(':') && !out.includes('=')) return out;
  return out.replace(SECRET_PAIR_PATTERN, (_m, prefix: string) => `${prefix}${REDACTED}`);
}
