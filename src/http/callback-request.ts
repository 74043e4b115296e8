/**
 * Reading a callback request (docs/performance.md, "The callback route off the general-purpose stack"): which
 * requests are the callback route's, and the fields their body and query carry. Nothing here answers.
 */
import { CallbackError } from '../errors.js';

export const CALLBACK_PREFIX = '/pbx/callback';

/**
 * GET/HEAD/POST on `/pbx/callback[/<secret>]`, matched as Express matched the route: case-insensitive, one
 * optional trailing slash, the secret segment percent-decoded. null: not the lean path's request.
 */
export function matchCallbackPath(method: string | undefined, url: string | undefined): { secret: string | undefined; rawQuery: string } | null {
  if (url === undefined || (method !== 'POST' && method !== 'GET' && method !== 'HEAD')) return null;
  if (url.length < CALLBACK_PREFIX.length || url.slice(0, CALLBACK_PREFIX.length).toLowerCase() !== CALLBACK_PREFIX) return null;
  const q = url.indexOf('?');
  const rawQuery = q === -1 ? '' : url.slice(q + 1);
  let rest = (q === -1 ? url : url.slice(0, q)).slice(CALLBACK_PREFIX.length);
  if (rest === '' || rest === '/') return { secret: undefined, rawQuery };
  if (rest[0] !== '/') return null;
  rest = rest.slice(1);
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  if (rest === '' || rest.includes('/')) return null;
  let secret: string;
  try {
    secret = decodeURIComponent(rest);
  } catch {
    // Not valid percent-encoding: compared as written (so a wrong secret, 401), never an error.
    secret = rest;
  }
  return { secret, rawQuery };
}


/**
 * JSON (`application/json`, `…+json`) must be an object; forms are read with URLSearchParams (a
 * repeated name becomes an array, which normalization refuses if it is a field it uses). An empty or
 * blank body is no body, whatever its type.
 */
export function parseBody(contentType: string | undefined, raw: Buffer | null): Record<string, unknown> {
  if (raw === null || raw.length === 0) return {};
  const { mime, charset } = parseContentType(contentType);
  const text = decode(raw, charset);
  if (text.trim() === '') return {};

  if (mime === 'application/json' || mime.endsWith('+json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CallbackError('CALLBACK_ERR_MALFORMED_JSON', 'Malformed JSON body: it does not parse.');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new CallbackError('CALLBACK_ERR_MALFORMED_JSON', 'Malformed JSON body: it must be an object of fields.');
    }
    return parsed as Record<string, unknown>;
  }
  if (mime === 'application/x-www-form-urlencoded') {
    const out = new Map<string, string | string[]>();
    for (const [name, value] of new URLSearchParams(text)) {
      const prev = out.get(name);
      out.set(name, prev === undefined ? value : [...asStrings(prev), value]);
    }
    return Object.fromEntries(out);
  }
  throw new CallbackError(
    'CALLBACK_ERR_UNSUPPORTED_TYPE',
    `Unsupported Content-Type ${mime === '' ? '(none)' : JSON.stringify(mime.slice(0, 100))}: send application/json or application/x-www-form-urlencoded.`,
  );
}

const PLAIN_JSON = { mime: 'application/json', charset: 'utf-8' } as const;

function parseContentType(header: string | undefined): { mime: string; charset: string } {
  // What nearly every PBX sends: read as the general case below would read it, without splitting.
  if (header === 'application/json' || header === 'application/json; charset=utf-8') return PLAIN_JSON;
  const [mime = '', ...params] = (header ?? '').split(';');
  let charset = 'utf-8';
  for (const p of params) {
    const [k, v] = p.split('=', 2);
    if (k?.trim().toLowerCase() === 'charset' && v) charset = v.trim().replace(/^"|"$/g, '').toLowerCase();
  }
  return { mime: mime.trim().toLowerCase(), charset };
}

/** One decoder per charset label seen (a one-shot decode() keeps no state between calls); bounded. */
const decoders = new Map<string, TextDecoder>();
const MAX_DECODERS = 32;

function decode(raw: Buffer, charset: string): string {
  let decoder = decoders.get(charset);
  if (decoder === undefined) {
    try {
      decoder = new TextDecoder(charset);
    } catch {
      throw new CallbackError('CALLBACK_ERR_UNSUPPORTED_TYPE', `Unsupported charset ${JSON.stringify(charset.slice(0, 40))}: send UTF-8.`);
    }
    if (decoders.size < MAX_DECODERS) decoders.set(charset, decoder);
  }
  return decoder.decode(raw);
}

/** The query's fields, without the secret: it is never a field. */
export function queryFields(query: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(query).filter(([name]) => name.toLowerCase() !== 'secret'));
}

export function asStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}
