/**
 * The PBX's ringing callback (CONTRACT 3): authenticate, read the body within 64 KiB, normalize, hand
 * to `accept`, answer in the contract's shapes, and keep a redacted record of every request.
 */
import { SecretDigest } from '../auth/secret-digest.js';
import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { CallbackFieldMap } from '../config.js';
import {
  normalizeCallback,
  redactCut,
  redactForRecord,
  redactText,
  REDACTED,
  type NormalizedCallback,
} from '../core/callback.js';
import type { AppendResult } from '../core/ports.js';
import { CallbackError, type CallbackErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RecentCallbackEntry, RecentCallbacks, SecretSource } from './recent-callbacks.js';
import { RejectionLog } from './rejection-log.js';

export interface CallbackRouterDeps {
  secret: string;
  fieldNames: CallbackFieldMap;
  /** Enrich and append; resolves with the event id (the first one's for a duplicate). */
  accept: (cb: NormalizedCallback) => Promise<AppendResult>;
  recent: RecentCallbacks;
  logger: Logger;
  /** One 'callback rejected' line per status per interval, with a count of the others. Default 10 s. */
  rejectedLogIntervalMs?: number;
}

export const CALLBACK_PATHS = ['/pbx/callback', '/pbx/callback/:secret'];
const BODY_LIMIT = '64kb';
const RAW_RECORD_LIMIT = 2048;
/** A presented (wrong) secret shorter than this is not worth cutting out of records. */
const MIN_PRESENTED_SECRET_TO_REDACT = 6;
/**
 * Longer presented values are not the secret mistyped, and at most this many are cut out of the record:
 * what an unauthenticated request costs to record stays bounded however it is built.
 */
const MAX_PRESENTED_SECRET_TO_REDACT = 256;
const MAX_PRESENTED_SECRETS_TO_REDACT = 3;

const MESSAGES = {
  accepted: 'Callback accepted.',
  unauthorized: 'Invalid or missing callback secret.',
  unavailable: 'Temporarily unable to accept callbacks.',
  tooLarge: 'Request body is larger than 64 KiB.',
} as const;

interface Answer {
  status: number;
  body: { status: 'SUCCESS' | 'FAILED'; message: string; eventId?: string; duplicate?: true };
}

/** What one request carries from middleware to middleware. */
interface CallbackContext {
  /** performance.now() and wall-clock time at arrival. */
  started: number;
  arrivedAt: number;
  secretFrom: SecretSource[];
  presented: string[];
  fields: Record<string, unknown> | null;
  rawBody: Buffer | null;
  normalized: NormalizedCallback | null;
  /** req.query, read once: express parses the query string again on every access. */
  query: Record<string, unknown> | null;
}

export function createCallbackRouter(deps: CallbackRouterDeps): Router {
  if (deps.secret === '') throw new Error('createCallbackRouter: the callback secret must not be empty');
  const logger = deps.logger.child({ component: 'pbx-callback' });
  const expectedSecret = new SecretDigest(deps.secret);
  const contexts = new WeakMap<Request, CallbackContext>();
  const router = express.Router();
  const rejections = new RejectionLog(logger, deps.rejectedLogIntervalMs);

  const contextOf = (req: Request): CallbackContext => {
    let ctx = contexts.get(req);
    if (!ctx) {
      ctx = { started: performance.now(), arrivedAt: Date.now(), secretFrom: [], presented: [], fields: null, rawBody: null, normalized: null, query: null };
      contexts.set(req, ctx);
    }
    return ctx;
  };
  const queryOf = (req: Request): Record<string, unknown> => {
    const ctx = contextOf(req);
    return (ctx.query ??= queryRecord(req));
  };

  /** Sends the answer, keeps the redacted record, logs. The one exit of every request. */
  const finish = (req: Request, res: Response, answer: Answer, extra: { code?: CallbackErrorCode | 'UNAVAILABLE' } = {}) => {
    const ctx = contextOf(req);
    res.status(answer.status).set('Cache-Control', 'no-store').json(answer.body);
    // The right secret presented is the configured one: redacting it twice would double the record's cost.
    const presented = ctx.presented.filter((s) => s.length >= MIN_PRESENTED_SECRET_TO_REDACT && s.length <= MAX_PRESENTED_SECRET_TO_REDACT && s !== deps.secret);
    const secrets = [deps.secret, ...presented.slice(0, MAX_PRESENTED_SECRETS_TO_REDACT)];
    const path = recordPath(req);
    const latencyMs = Math.round((performance.now() - ctx.started) * 10) / 10;
    // Only the raw parts are captured now (the router resets req.baseUrl/params later); the redacted record is
    // built when the recent-callbacks ring is flushed, and not at all if newer callbacks push it out first.
    const raw: RawRecord = { method: req.method, path, query: queryOf(req), headers: req.headers, secrets };
    // Unauthenticated requests go to their own, smaller part of the record: junk cannot push real callbacks out.
    deps.recent.record(() => buildRecord(raw, ctx, answer), { rejected: answer.status === 401 });
    if (answer.status === 200) {
      logger.info(
        { eventId: answer.body.eventId, extension: ctx.normalized?.extension, duplicate: answer.body.duplicate === true, latencyMs },
        'callback accepted',
      );
    } else if (answer.status !== 503) {
      // 503 is logged with its cause where it happens.
      rejections.warn(answer.status, { code: extra.code, reason: redactText(answer.body.message, secrets), path, secretFrom: ctx.secretFrom, latencyMs });
    }
  };

  const fail = (req: Request, res: Response, status: number, message: string, code: CallbackErrorCode | 'UNAVAILABLE') =>
    finish(req, res, { status, body: { status: 'FAILED', message } }, { code });

  /** The secret as the last path segment, `?secret=` or X-Callback-Secret; any one matching is enough. */
  const authenticate = (req: Request, res: Response, next: NextFunction) => {
    const ctx = contextOf(req);
    const candidates: Array<[SecretSource, string]> = [];
    const fromPath = req.params['secret'];
    if (typeof fromPath === 'string') candidates.push(['path', fromPath]);
    for (const v of asStrings(queryOf(req)['secret'])) candidates.push(['query', v]);
    const fromHeader = req.get('x-callback-secret');
    if (fromHeader !== undefined) candidates.push(['header', fromHeader]);

    ctx.secretFrom = [...new Set(candidates.map(([source]) => source))];
    ctx.presented = candidates.map(([, value]) => value);
    if (!expectedSecret.matchesAny(ctx.presented)) {
      fail(req, res, 401, MESSAGES.unauthorized, 'CALLBACK_ERR_UNAUTHORIZED');
      return;
    }
    next();
  };

  // Reads any body as bytes (content types are judged below); past 64 KiB it stops keeping bytes and fails with 413.
  const readBody = express.raw({ type: () => true, limit: BODY_LIMIT });

  const handle = async (req: Request, res: Response) => {
    const ctx = contextOf(req);
    ctx.rawBody = Buffer.isBuffer(req.body) ? req.body : null;
    let cb: NormalizedCallback;
    try {
      const body = parseBody(req.get('content-type'), ctx.rawBody);
      const fields: Record<string, unknown> = { ...queryFields(queryOf(req)), ...body };
      ctx.fields = fields;
      cb = normalizeCallback(fields, deps.fieldNames);
      ctx.normalized = cb;
    } catch (err) {
      if (!(err instanceof CallbackError)) throw err;
      fail(req, res, err.status, err.message, err.code as CallbackErrorCode);
      return;
    }

    let result: AppendResult;
    try {
      result = await deps.accept(cb);
    } catch (err) {
      logger.error({ err, extension: cb.extension, state: cb.state }, 'callback could not be accepted');
      fail(req, res, 503, MESSAGES.unavailable, 'UNAVAILABLE');
      return;
    }
    const body: Answer['body'] = { status: 'SUCCESS', message: MESSAGES.accepted, eventId: result.id };
    if (result.duplicate) body.duplicate = true;
    finish(req, res, { status: 200, body });
  };

  /** Failures of reading the body (too large, aborted, unknown Content-Encoding); anything else goes on. */
  const handleReadError = (err: unknown, req: Request, res: Response, next: NextFunction) => {
    const type = bodyErrorType(err);
    if (type === null || res.headersSent) {
      next(err);
      return;
    }
    if (type === 'entity.too.large') fail(req, res, 413, MESSAGES.tooLarge, 'CALLBACK_ERR_TOO_LARGE');
    else if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
      fail(req, res, 415, 'Unsupported Content-Encoding: send the body uncompressed, gzip or deflate.', 'CALLBACK_ERR_UNSUPPORTED_TYPE');
    } else fail(req, res, 400, 'The request body could not be read.', 'CALLBACK_ERR_MALFORMED_JSON');
  };

  const handlers = [authenticate, readBody, handle, handleReadError];
  router.get(CALLBACK_PATHS, ...handlers);
  router.post(CALLBACK_PATHS, ...handlers);
  return router;
}

// ---- body and query ----

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

function parseContentType(header: string | undefined): { mime: string; charset: string } {
  const [mime = '', ...params] = (header ?? '').split(';');
  let charset = 'utf-8';
  for (const p of params) {
    const [k, v] = p.split('=', 2);
    if (k?.trim().toLowerCase() === 'charset' && v) charset = v.trim().replace(/^"|"$/g, '').toLowerCase();
  }
  return { mime: mime.trim().toLowerCase(), charset };
}

function decode(raw: Buffer, charset: string): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset);
  } catch {
    throw new CallbackError('CALLBACK_ERR_UNSUPPORTED_TYPE', `Unsupported charset ${JSON.stringify(charset.slice(0, 40))}: send UTF-8.`);
  }
  return decoder.decode(raw);
}

function queryRecord(req: Request): Record<string, unknown> {
  const q: unknown = req.query;
  return typeof q === 'object' && q !== null ? (q as Record<string, unknown>) : {};
}

/** The query's fields, without the secret: it is never a field. */
function queryFields(query: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(query).filter(([name]) => name.toLowerCase() !== 'secret'));
}

function asStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

function bodyErrorType(err: unknown): string | null {
  if (typeof err !== 'object' || err === null || !('type' in err)) return null;
  const type = (err as { type: unknown }).type;
  return typeof type === 'string' && /^(entity|request|encoding|charset)\./.test(type) ? type : null;
}

// ---- the record ----

function recordPath(req: Request): string {
  return `${req.baseUrl}/pbx/callback${typeof req.params['secret'] === 'string' ? `/${REDACTED}` : ''}`;
}

/** What the record needs from the request, captured when it is answered. */
interface RawRecord {
  method: string;
  path: string;
  query: Record<string, unknown>;
  headers: IncomingHttpHeaders;
  /** The configured secret and any long enough presented one: cut out of everything recorded. */
  secrets: string[];
}

function buildRecord(req: RawRecord, ctx: CallbackContext, answer: Answer): RecentCallbackEntry {
  const { path, secrets } = req;
  const query: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(req.query)) {
    query[name] = name.toLowerCase() === 'secret' ? REDACTED : value;
  }
  const headers: Record<string, string> = {};
  for (const name of ['content-type', 'content-length', 'user-agent'] as const) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = redactCut(value, secrets, 256);
  }
  // The raw text only when it could not be read into fields (malformed JSON, other content types); cut
  // with a margin, redacted, then cut again, so a secret straddling the cut cannot leave a prefix behind.
  const rawBody =
    ctx.fields === null && ctx.rawBody !== null && ctx.rawBody.length > 0
      ? redactCut(ctx.rawBody.subarray(0, RAW_RECORD_LIMIT * 4 + 1024).toString('utf8'), secrets, RAW_RECORD_LIMIT)
      : null;
  return {
    time: new Date(ctx.arrivedAt).toISOString(),
    method: req.method,
    path,
    query: redactForRecord(query, secrets) as Record<string, unknown>,
    headers,
    secretFrom: ctx.secretFrom,
    fields: ctx.fields === null ? null : (redactForRecord(ctx.fields, secrets) as Record<string, unknown>),
    rawBody,
    normalized: ctx.normalized === null ? null : (redactForRecord(ctx.normalized, secrets) as NormalizedCallback),
    result: {
      status: answer.status,
      eventId: answer.body.eventId ?? null,
      duplicate: answer.body.duplicate === true,
      error: answer.status === 200 ? null : redactText(answer.body.message, secrets),
    },
  };
}
