/**
 * The one place API errors are answered: `{"error":"<code>","message":"…"}` with the status the registry
 * in src/errors.ts gives the thrown error's code (docs/api-errors.md). Routes and middleware throw (or pass
 * to `next`) a BridgeError; nothing here looks at message text.
 */
import type { ErrorRequestHandler, Response } from 'express';
import { z } from 'zod';
import { BridgeError, ERRORS, ValidationError, type ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';

function send(res: Response, status: number, error: string, message: string, answerFields?: Readonly<Record<string, unknown>>): void {
  res.status(status).json({ error, message, ...answerFields });
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
  return (err: unknown, _req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (err instanceof BridgeError) {
      send(res, err.status, err.error, err.message, err.answerFields);
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
