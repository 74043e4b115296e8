/**
 * The PBX's ringing callback (CONTRACT 3): authenticate, read the body within 64 KiB, normalize, hand
 * to `accept`, answer in the contract's shapes, and keep a redacted record of every request.
 *
 * The callback is the only hot route, so it is answered by a lean `node:http` handler that runs before
 * Express (docs/performance.md): `createCallbackHandler(...).handle(req, res)` takes GET, HEAD and POST on
 * `/pbx/callback` and `/pbx/callback/<secret>` and leaves every other request to Express, where
 * `callbackRouterFor(handler)` serves the same route for the forms the lean matcher leaves alone (OPTIONS,
 * absolute-form URLs) and for apps that mount the route themselves (`createCallbackRouter`).
 */
import { SecretDigest } from '../auth/secret-digest.js';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parse as parseQueryString } from 'node:querystring';
import express, { type Request, type Response, type Router } from 'express';
import { normalizeCallback, type CallbackFieldMap, type NormalizedCallback } from '../core/callback.js';
import type { AppendResult } from '../core/ports.js';
import { CallbackError, ERRORS, type CallbackErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { readBody } from './body-reader.js';
import { redactCut, redactForRecord, redactText, REDACTED } from './callback-redaction.js';
import { CallbackStats } from './callback-stats.js';
import type { OverloadGuard, RefusalReason } from './overload-guard.js';
import type { RecentCallbackEntry, RecentCallbacks, SecretSource } from './recent-callbacks.js';
import { RejectionLog } from './rejection-log.js';
import { staticSecurityHeaders } from './security-headers.js';

export interface CallbackRouterDeps {
  secret: string;
  fieldNames: CallbackFieldMap;
  /** Enrich and append; resolves with the event id (the first one's for a duplicate). */
  accept: (cb: NormalizedCallback) => Promise<AppendResult>;
  recent: RecentCallbacks;
  logger: Logger;
  /** One 'callback rejected' line per status per interval, with a count of the others. Default 10 s. */
  rejectedLogIntervalMs?: number;
  /** One 'callbacks' info line per interval with the counts (only when there were some). Default 1 s. */
  statsLogIntervalMs?: number;
  /** Refuses callbacks with 503 past the bridge's limit; none: never refused for load. */
  overload?: OverloadGuard;
  /** Told of every refusal for load (metrics). */
  onRefused?: (reason: RefusalReason) => void;
}

export interface CallbackHandler {
  /** Answers the request and returns true when it is the callback route's; else touches nothing and returns false. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Serves a request already matched (by Express): its secret path segment, and the mount path for the record. */
  serve(req: IncomingMessage, res: ServerResponse, route: MatchedRoute): void;
  /** Logs the counts not yet logged and stops the timers. */
  close(): void;
}

export interface MatchedRoute {
  /** The decoded last path segment when the path is `/pbx/callback/<secret>`. */
  secret: string | undefined;
  /** Where the route is mounted ('' at the root). */
  basePath: string;
  /** The query string, without the `?`. */
  rawQuery: string;
  /** Headers to add to the answer (the lean path adds the security headers Express would have set). */
  headers: OutgoingHttpHeaders;
}

export const CALLBACK_PATHS = ['/pbx/callback', '/pbx/callback/:secret'];
const CALLBACK_PREFIX = '/pbx/callback';
const BODY_LIMIT = 64 * 1024;
const RAW_RECORD_LIMIT = 2048;
/** A presented (wrong) secret shorter than this is not worth cutting out of records. */
const MIN_PRESENTED_SECRET_TO_REDACT = 6;
/**
 * Longer presented values are not the secret mistyped, and at most this many are cut out of the record:
 * what an unauthenticated request costs to record stays bounded however it is built.
 */
const MAX_PRESENTED_SECRET_TO_REDACT = 256;
const MAX_PRESENTED_SECRETS_TO_REDACT = 3;

/** The refusals' messages are the error registry's (src/errors.ts). */
const ACCEPTED_MESSAGE = 'Callback accepted.';

interface Answer {
  status: number;
  body: { status: 'SUCCESS' | 'FAILED'; message: string; eventId?: string; duplicate?: true };
}

/** What one request carries from step to step. */
interface CallbackContext {
  req: IncomingMessage;
  res: ServerResponse;
  route: MatchedRoute;
  /** performance.now() and wall-clock time at arrival. */
  started: number;
  arrivedAt: number;
  secretFrom: SecretSource[];
  presented: string[];
  fields: Record<string, unknown> | null;
  rawBody: Buffer | null;
  normalized: NormalizedCallback | null;
  /** The query string's fields, parsed as Express's default ("simple") query parser does. */
  query: Record<string, unknown>;
  /** Admitted by the overload guard: counted in flight until answered. */
  admitted: boolean;
}

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
    // Express answers an undecodable parameter itself: leave it to Express.
    return null;
  }
  return { secret, rawQuery };
}

export function createCallbackHandler(deps: CallbackRouterDeps): CallbackHandler {
  if (deps.secret === '') throw new Error('createCallbackHandler: the callback secret must not be empty');
  const logger = deps.logger.child({ component: 'pbx-callback' });
  const expectedSecret = new SecretDigest(deps.secret);
  const rejections = new RejectionLog(logger, deps.rejectedLogIntervalMs);
  const stats = new CallbackStats(logger, deps.statsLogIntervalMs);
  const securityHeaders = staticSecurityHeaders();
  const overload = deps.overload ?? null;

  /** Sends the answer, keeps the redacted record, logs. The one exit of every request. */
  const finish = (ctx: CallbackContext, answer: Answer, extra: { code?: CallbackErrorCode } = {}) => {
    if (ctx.admitted) {
      ctx.admitted = false;
      overload?.done();
    }
    const json = JSON.stringify(answer.body);
    const { res } = ctx;
    if (!res.headersSent) {
      res.writeHead(answer.status, {
        ...ctx.route.headers,
        'cache-control': 'no-store',
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(json),
        ...(answer.status === 503 ? { 'retry-after': '1' } : {}),
      });
      res.end(json);
    }
    // The right secret presented is the configured one: redacting it twice would double the record's cost.
    const presented = ctx.presented.filter((s) => s.length >= MIN_PRESENTED_SECRET_TO_REDACT && s.length <= MAX_PRESENTED_SECRET_TO_REDACT && s !== deps.secret);
    const secrets = [deps.secret, ...presented.slice(0, MAX_PRESENTED_SECRETS_TO_REDACT)];
    const path = recordPath(ctx.route);
    const latencyMs = Math.round((performance.now() - ctx.started) * 10) / 10;
    // Only the raw parts are captured now; the redacted record is built when the recent-callbacks ring is
    // flushed, and not at all if newer callbacks push it out first.
    const raw: RawRecord = { method: ctx.req.method ?? 'GET', path, query: ctx.query, headers: ctx.req.headers, secrets };
    // Unauthenticated requests go to their own, smaller part of the record: junk cannot push real callbacks out.
    deps.recent.record(() => buildRecord(raw, ctx, answer), { rejected: answer.status === 401 });
    const duplicate = answer.body.duplicate === true;
    stats.record(answer.status, duplicate, latencyMs);
    if (answer.status === 200) {
      if (logger.isLevelEnabled('debug')) {
        logger.debug({ eventId: answer.body.eventId, extension: ctx.normalized?.extension, duplicate, latencyMs }, 'callback accepted');
      }
    } else if (answer.status !== 503) {
      // 503 is logged with its cause where it happens (and refusals for load are counted in the interval line).
      rejections.warn(answer.status, { code: extra.code, reason: redactText(answer.body.message, secrets), path, secretFrom: ctx.secretFrom, latencyMs });
    }
  };

  /** A refusal: the registry gives the status and, unless the error carries a more precise one, the message. */
  const fail = (ctx: CallbackContext, code: CallbackErrorCode, message: string = ERRORS[code].message) =>
    finish(ctx, { status: ERRORS[code].status, body: { status: 'FAILED', message } }, { code });

  /** The secret as the last path segment, `?secret=` or X-Callback-Secret; any one matching is enough. */
  const authenticate = (ctx: CallbackContext): boolean => {
    const candidates: Array<[SecretSource, string]> = [];
    if (ctx.route.secret !== undefined) candidates.push(['path', ctx.route.secret]);
    for (const v of asStrings(ctx.query['secret'])) candidates.push(['query', v]);
    const fromHeader = ctx.req.headers['x-callback-secret'];
    if (typeof fromHeader === 'string') candidates.push(['header', fromHeader]);

    ctx.secretFrom = candidates.length === 0 ? [] : [...new Set(candidates.map(([source]) => source))];
    ctx.presented = candidates.map(([, value]) => value);
    return expectedSecret.matchesAny(ctx.presented);
  };

  const run = async (ctx: CallbackContext): Promise<void> => {
    if (!authenticate(ctx)) {
      fail(ctx, 'CALLBACK_ERR_UNAUTHORIZED');
      ctx.req.resume();
      return;
    }
    // Refused before the body is read: a refusal costs the least it can (the PBX retries it).
    const refusal = overload?.admit() ?? null;
    if (refusal !== null) {
      deps.onRefused?.(refusal);
      fail(ctx, 'CALLBACK_ERR_OVERLOADED');
      ctx.req.resume();
      return;
    }
    ctx.admitted = overload !== null;

    try {
      ctx.rawBody = await readBody(ctx.req, BODY_LIMIT);
    } catch (err) {
      if (!(err instanceof CallbackError)) throw err;
      fail(ctx, err.code, err.message);
      return;
    }

    let cb: NormalizedCallback;
    try {
      const body = parseBody(ctx.req.headers['content-type'], ctx.rawBody);
      const fields: Record<string, unknown> = { ...queryFields(ctx.query), ...body };
      ctx.fields = fields;
      cb = normalizeCallback(fields, deps.fieldNames);
      ctx.normalized = cb;
    } catch (err) {
      if (!(err instanceof CallbackError)) throw err;
      fail(ctx, err.code, err.message);
      return;
    }

    let result: AppendResult;
    try {
      result = await deps.accept(cb);
    } catch (err) {
      logger.error({ err, extension: cb.extension, state: cb.state }, 'callback could not be accepted');
      fail(ctx, 'CALLBACK_ERR_UNAVAILABLE');
      return;
    }
    const body: Answer['body'] = { status: 'SUCCESS', message: ACCEPTED_MESSAGE, eventId: result.id };
    if (result.duplicate) body.duplicate = true;
    finish(ctx, { status: 200, body });
  };

  const serve = (req: IncomingMessage, res: ServerResponse, route: MatchedRoute): void => {
    const ctx: CallbackContext = {
      req,
      res,
      route,
      started: performance.now(),
      arrivedAt: Date.now(),
      secretFrom: [],
      presented: [],
      fields: null,
      rawBody: null,
      normalized: null,
      query: route.rawQuery === '' ? {} : (parseQueryString(route.rawQuery) as Record<string, unknown>),
      admitted: false,
    };
    run(ctx).catch((err: unknown) => {
      // A bug, not bad input: answered like an unavailable log so the PBX retries, never a crash.
      logger.error({ err }, 'callback failed unexpectedly');
      if (!res.headersSent) fail(ctx, 'CALLBACK_ERR_UNAVAILABLE');
      else if (ctx.admitted) {
        ctx.admitted = false;
        overload?.done();
      }
    });
  };

  return {
    serve,
    handle(req, res) {
      const match = matchCallbackPath(req.method, req.url);
      if (match === null) return false;
      serve(req, res, { secret: match.secret, rawQuery: match.rawQuery, basePath: '', headers: securityHeaders });
      return true;
    },
    close() {
      stats.close();
      rejections.close();
    },
  };
}

/** The callback route as an Express router, on the same handler (the lean path's fallback; tests mount it). */
export function callbackRouterFor(handler: CallbackHandler): Router {
  const router = express.Router();
  const viaExpress = (req: Request, res: Response) => {
    const secret = req.params['secret'];
    const q = req.url.indexOf('?');
    handler.serve(req, res, {
      secret: typeof secret === 'string' ? secret : undefined,
      basePath: req.baseUrl,
      rawQuery: q === -1 ? '' : req.url.slice(q + 1),
      headers: {},
    });
  };
  router.get(CALLBACK_PATHS, viaExpress);
  router.post(CALLBACK_PATHS, viaExpress);
  return router;
}

/** An Express router for the callback route with its own handler. */
export function createCallbackRouter(deps: CallbackRouterDeps): Router {
  return callbackRouterFor(createCallbackHandler(deps));
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

/** The query's fields, without the secret: it is never a field. */
function queryFields(query: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(query).filter(([name]) => name.toLowerCase() !== 'secret'));
}

function asStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

// ---- the record ----

function recordPath(route: MatchedRoute): string {
  return `${route.basePath}/pbx/callback${route.secret !== undefined ? `/${REDACTED}` : ''}`;
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
