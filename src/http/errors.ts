/** JSON error answers for the API: `{"error":"<code>","message":"…"}`, mapped from error classes, never from message text. */
import type { ErrorRequestHandler, Response } from 'express';
import { z } from 'zod';
import { BridgeError, ValidationError } from '../errors.js';
import type { Logger } from '../logger.js';

export function sendError(res: Response, status: number, error: string, message: string): void {
  res.status(status).json({ error, message });
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

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, _req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (err instanceof ValidationError) {
      sendError(res, 400, 'invalid_request', err.message);
      return;
    }
    if (err instanceof BridgeError) {
      sendError(res, err.status, err.code.toLowerCase(), err.message);
      return;
    }
    // body-parser errors carry a status and a type, e.g. entity.parse.failed or entity.too.large.
    if (typeof err === 'object' && err !== null && 'type' in err && 'status' in err && typeof err.status === 'number') {
      const type = String(err.type);
      if (type === 'entity.parse.failed') sendError(res, 400, 'invalid_json', 'The request body is not valid JSON.');
      else if (type === 'entity.too.large') sendError(res, 413, 'payload_too_large', 'The request body is too large.');
      else sendError(res, err.status, 'bad_request', 'The request could not be read.');
      return;
    }
    logger.error({ err }, 'unhandled error in request');
    sendError(res, 500, 'internal_error', 'Something went wrong; see the bridge logs.');
  };
}
