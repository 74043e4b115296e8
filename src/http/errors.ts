/**
 * The one place API errors are answered: `{"error":"<code>","message":"…"}` with the status the registry
 * in src/errors.ts gives the thrown error's code (docs/api-errors.md). Routes and middleware throw (or pass
 * to `next`) a BridgeError; nothing here looks at message text.
 */
import type { ErrorRequestHandler, Response } from 'express';
import { z } from 'zod';
import { BridgeError, ERRORS, ValidationError, errorSpec, type ErrorCode } from '../errors.js';
import { isRedisUnreachable } from '../events/redis-timeouts.js';
import type { Logger } from '../logger.js';

function send(res: Response, status: number, error: string, message: string, answerFields?: Readonly<Record<string, unknown>>): void {
  res.status(status).json({ error, message, ...answerFields });
}

function sendCode(res: Response, code: ErrorCode, message?: string, answerFields?: Readonly<Record<string, unknown>>): void {
  const spec = errorSpec(code);
  if (spec.retryAfterS !== undefined) res.setHeader('Retry-After', String(spec.retryAfterS));
  send(res, spec.status, spec.error, message ?? spec.message, answerFields);
}

/** A Redis connectivity failure, thrown as is or as the cause of what was thrown (a few levels deep at most). */
function redisUnreachable(err: unknown): Error | null {
  let e: unknown = err;
  for (let depth = 0; depth < 4; depth++) {
    if (isRedisUnreachable(e)) return e;
    if (!(e instanceof Error)) return null;
    e = e.cause;
  }
  return null;
}

/** Parses a request part with zod; throws a ValidationError naming the first offending field. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.join('.') || 'body';
    throw new ValidationError(field, `${field}: ${issue?.message ?? 'is invalid'}`);
  }
  return result.data;
}

/**
 * body-parser's failures carry a status and a type (entity.parse.failed, entity.too.large, …); the router's
 * (a path parameter that is not valid percent-encoding) a 4xx status alone: the client's error, not ours.
 */
function requestErrorCode(err: unknown): { code: ErrorCode; status: number } | null {
  if (typeof err !== 'object' || err === null || !('status' in err) || typeof err.status !== 'number') return null;
  if (!('type' in err)) return err.status >= 400 && err.status < 500 ? { code: 'REQUEST_ERR_UNREADABLE', status: err.status } : null;
  const type = String(err.type);
  if (type === 'entity.parse.failed') return { code: 'REQUEST_ERR_INVALID_JSON', status: ERRORS.REQUEST_ERR_INVALID_JSON.status };
  if (type === 'entity.too.large') return { code: 'REQUEST_ERR_TOO_LARGE', status: ERRORS.REQUEST_ERR_TOO_LARGE.status };
  // Other parser failures keep the parser's own 4xx status.
  return { code: 'REQUEST_ERR_UNREADABLE', status: err.status };
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (err instanceof BridgeError) {
      sendCode(res, err.code, err.message, err.answerFields);
      return;
    }
    // Redis is down or not answering: an outage /readyz, /metrics and the store's own log line already show,
    // so one debug line without a stack, and a 503 the client retries (docs/operations.md).
    const outage = redisUnreachable(err);
    if (outage) {
      // The route's pattern, never the path: a callback path carries the callback secret.
      const route: unknown = (req.route as { path?: unknown } | undefined)?.path;
      logger.debug({ code: 'STORE_ERR_UNAVAILABLE', method: req.method, route: typeof route === 'string' ? route : undefined, err: outage.message }, 'request refused: Redis is unreachable');
      sendCode(res, 'STORE_ERR_UNAVAILABLE');
      return;
    }
    const unreadable = requestErrorCode(err);
    if (unreadable) {
      send(res, unreadable.status, ERRORS[unreadable.code].error, ERRORS[unreadable.code].message);
      return;
    }
    logger.error({ err }, 'unhandled error in request');
    send(res, ERRORS.INTERNAL_ERR.status, ERRORS.INTERNAL_ERR.error, ERRORS.INTERNAL_ERR.message);
  };
}
