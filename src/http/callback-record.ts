/**
 * The redacted record of one callback request (GET /api/callbacks/recent): built from the raw parts captured
 * when the request was answered, with the configured secret and any long enough presented one cut out.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { NormalizedCallback } from '../core/callback.js';
import { redactCut, redactForRecord, redactText, REDACTED } from './callback-redaction.js';
import type { MatchedRoute } from './callback-route.js';
import type { RecentCallbackEntry, SecretSource } from './recent-callbacks.js';

const RAW_RECORD_LIMIT = 2048;

/** What the route answered. */
export interface CallbackAnswer {
  status: number;
  body: { status: 'SUCCESS' | 'FAILED'; message: string; eventId?: string; duplicate?: true };
}

/** What the record needs of the request's steps. */
export interface RecordParts {
  /** Wall-clock time at arrival. */
  arrivedAt: number;
  secretFrom: SecretSource[];
  fields: Record<string, unknown> | null;
  rawBody: Buffer | null;
  normalized: NormalizedCallback | null;
}


export function recordPath(route: MatchedRoute): string {
  return `${route.basePath}/pbx/callback${route.secret !== undefined ? `/${REDACTED}` : ''}`;
}

/** What the record needs from the request, captured when it is answered. */
export interface RawRecord {
  method: string;
  path: string;
  query: Record<string, unknown>;
  headers: IncomingHttpHeaders;
  /** The configured secret and any long enough presented one: cut out of everything recorded. */
  secrets: string[];
}

export function buildRecord(req: RawRecord, ctx: RecordParts, answer: CallbackAnswer): RecentCallbackEntry {
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
