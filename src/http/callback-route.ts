/**
 * The PBX's ringing callback (CONTRACT 3): authenticate, read the body within 64 KiB, normalize, hand
 * to `accept`, answer in the contract's shapes, and keep a redacted record of every request.
 *
 * The callback is the only hot route, so it is answered by a lean `node:http` handler that runs before
 * Express (docs/performance.md): `createCallbackHandler(...).handle(req, res)` takes GET, HEAD and POST on
 * `/pbx/callback` and `/pbx/callback/<secret>` and leaves every other request to Express, where
 * `callbackRouterFor(handler)` serves the same route for the forms the lean matcher leaves alone (OPTIONS,
 * absolute-form URLs) and for apps that mount the route themselves (`createCallbackRouter`).
 *
 * This module runs the steps and answers; reading the request is callback-request.ts, the redacted record
 * callback-record.ts, the body stream body-reader.ts.
 */
import { SecretDigest } from '../auth/secret-digest.js';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parse as parseQueryString } from 'node:querystring';
import express, { type Request, type Response, type Router } from 'express';
import { normalizeCallback, type CallbackFieldMap, type NormalizedCallback } from '../core/callback.js';
import { redactText } from './callback-redaction.js';
import type { AppendResult } from '../core/ports.js';
import { CallbackError, ERRORS, type CallbackErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { readBody } from './body-reader.js';
import { buildRecord, recordPath, type CallbackAnswer, type RawRecord, type RecordParts } from './callback-record.js';
import { asStrings, matchCallbackPath, parseBody, queryFields } from './callback-request.js';
import { CallbackStats } from './callback-stats.js';
import type { OverloadGuard, RefusalReason } from './overload-guard.js';
import type { RecentCallbacks, SecretSource } from './recent-callbacks.js';
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
const BODY_LIMIT = 64 * 1024;
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

export { matchCallbackPath } from './callback-request.js';

type Answer = CallbackAnswer;

/** What one request carries from step to step. */
interface CallbackContext extends RecordParts {
  req: IncomingMessage;
  res: ServerResponse;
  route: MatchedRoute;
  /** performance.now() at arrival. */
  started: number;
  presented: string[];
  /** The query string's fields, parsed as Express's default ("simple") query parser does. */
  query: Record<string, unknown>;
  /** Admitted by the overload guard: counted in flight until answered. */
  admitted: boolean;
}

export function createCallbackHandler(deps: CallbackRouterDeps): CallbackHandler {
  if (deps.secret === '') throw new Error('createCallbackHandler: the callback secret must not be empty');
  const logger = deps.logger.child({ component: 'pbx-callback' });
  const expectedSecret = new SecretDigest(deps.secret);
  const rejections = new RejectionLog(logger, deps.rejectedLogIntervalMs);
  const stats = new CallbackStats(logger, deps.statsLogIntervalMs);
  const securityHeaders = staticSecurityHeaders();
  const leanAnswerHeaders = answerHeadersWith(securityHeaders);
  const overload = deps.overload ?? null;

  const onlyConfigured = [deps.secret];
  /** The configured secret and the presented ones worth cutting out of the record and the log. */
  const secretsToCut = (presented: readonly string[]): string[] => {
    // The usual callback presents the right secret once: the same array every time, nothing to filter.
    if (presented.length === 0 || (presented.length === 1 && presented[0] === deps.secret)) return onlyConfigured;
    // The right secret presented is the configured one: redacting it twice would double the record's cost.
    const others = presented.filter((s) => s.length >= MIN_PRESENTED_SECRET_TO_REDACT && s.length <= MAX_PRESENTED_SECRET_TO_REDACT && s !== deps.secret);
    return [deps.secret, ...others.slice(0, MAX_PRESENTED_SECRETS_TO_REDACT)];
  };

  /** Sends the answer, keeps the redacted record, logs. The one exit of every request. */
  const finish = (ctx: CallbackContext, answer: Answer, extra: { code?: CallbackErrorCode } = {}) => {
    const latency = performance.now() - ctx.started;
    if (ctx.admitted) {
      ctx.admitted = false;
      // Only accepted ones are judged by their answer time: a quick 4xx or a refusal is no sign of a healthy path.
      // Every admitted one kept its connection busy, whatever its answer.
      overload?.done(answer.status === 200 ? latency : undefined, ctx.req.socket, latency);
    }
    const json = JSON.stringify(answer.body);
    const { res } = ctx;
    if (!res.headersSent) {
      // The lean path's headers are the same on every answer: merged once, not per callback.
      const base = ctx.route.headers === securityHeaders ? leanAnswerHeaders : answerHeadersWith(ctx.route.headers);
      res.writeHead(answer.status, {
        ...base,
        'content-length': Buffer.byteLength(json),
        ...(answer.status === 503 ? { 'retry-after': '1' } : {}),
      });
      res.end(json);
    }
    const secrets = secretsToCut(ctx.presented);
    const path = recordPath(ctx.route);
    const latencyMs = Math.round(latency * 10) / 10;
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
      // Query fields, then the body's over them; the usual callback has no query, and its body is the fields.
      const fields: Record<string, unknown> = ctx.route.rawQuery === '' ? body : { ...queryFields(ctx.query), ...body };
      ctx.fields = fields;
      cb = normalizeCallback(fields, deps.fieldNames);
      ctx.normalized = cb;
    } catch (err) {
      if (!(err instanceof CallbackError)) throw err;
      fail(ctx, err.code, err.message);
      return;
    }

    // A ringing callback opens a call: refused while the tracker follows as many as it may (the PBX retries).
    const full = cb.state === 'ringing' ? (overload?.admitRinging() ?? null) : null;
    if (full !== null) {
      deps.onRefused?.(full);
      fail(ctx, 'CALLBACK_ERR_OVERLOADED');
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

/** Every answer's headers but its length: the route's own (the security headers on the lean path), no caching, JSON. */
function answerHeadersWith(route: OutgoingHttpHeaders): OutgoingHttpHeaders {
  return { ...route, 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8' };
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
