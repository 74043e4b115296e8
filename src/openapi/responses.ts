/**
 * OpenAPI responses for failures, generated from the one error registry (src/errors.ts, docs/api-errors.md):
 * an operation names the codes it can answer, and each status gets the `Error` envelope with the `error`
 * values and one example per code (the registry's status, `error` and default message).
 */
import { ERRORS, type CallbackErrorCode, type ErrorCode } from '../errors.js';

export type ResponseObject = Record<string, unknown>;

/**
 * Answers written by hand outside the registry (POST /api/contacts' PBX outcomes, the WebSocket upgrade's
 * refusals): named here so the document still says what goes on the wire.
 */
export interface LocalError {
  status: number;
  error: string;
  message: string;
  /** Example's name (no registry code to use). */
  name: string;
}

export type ErrorRef = ErrorCode | LocalError;

const ERROR_SCHEMA = { $ref: '#/components/schemas/Error' };
const CALLBACK_SCHEMA = { $ref: '#/components/schemas/CallbackAnswer' };

const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** Codes every operation can answer. */
export const ALWAYS: readonly ErrorCode[] = ['INTERNAL_ERR'];
/** Codes of an operation that validates a query, path or body with zod. */
export const VALIDATED: readonly ErrorCode[] = ['VALIDATION_ERR'];
/** Codes of an operation that reads or writes the bridge's store (Redis, when configured). */
export const STORED: readonly ErrorCode[] = ['STORE_ERR_UNAVAILABLE'];
/** Codes of an operation that reads a JSON body. */
export const JSON_BODY: readonly ErrorCode[] = ['VALIDATION_ERR', 'REQUEST_ERR_INVALID_JSON', 'REQUEST_ERR_TOO_LARGE', 'REQUEST_ERR_UNREADABLE'];

interface Entry {
  name: string;
  status: number;
  error: string;
  message: string;
}

function entryOf(ref: ErrorRef): Entry {
  if (typeof ref !== 'string') return ref;
  const spec = ERRORS[ref];
  return { name: ref, status: spec.status, error: spec.error, message: spec.message };
}

function byStatus(entries: Entry[]): Map<number, Entry[]> {
  const groups = new Map<number, Entry[]>();
  for (const e of entries) {
    const group = groups.get(e.status) ?? [];
    if (!group.some((g) => g.name === e.name)) group.push(e);
    groups.set(e.status, group);
  }
  return new Map([...groups].sort(([a], [b]) => a - b));
}

const RETRY_AFTER = { 'Retry-After': { description: 'seconds to wait before trying again', schema: { type: 'integer' } } };

/** Response headers the thrower sets with these codes (docs/api-errors.md). */
const HEADERS: Partial<Record<ErrorCode, ResponseObject>> = {
  AUTH_ERR_METRICS_TOKEN: { 'WWW-Authenticate': { description: 'Bearer', schema: { type: 'string' } } },
  LOGIN_ERR_TOO_MANY_ATTEMPTS: RETRY_AFTER,
  LOGIN_ERR_IN_PROGRESS: RETRY_AFTER,
  CALLBACK_ERR_UNAVAILABLE: RETRY_AFTER,
  CALLBACK_ERR_OVERLOADED: RETRY_AFTER,
  STORE_ERR_UNAVAILABLE: RETRY_AFTER,
};

function headersFor(entries: Entry[]): ResponseObject | undefined {
  const headers = Object.assign({}, ...entries.map((e) => HEADERS[e.name as ErrorCode] ?? {})) as ResponseObject;
  return Object.keys(headers).length > 0 ? headers : undefined;
}

function describe(status: number, entries: Entry[]): string {
  const codes = entries.map((e) => `\`${e.error}\` (${e.name})`).join(', ');
  // The examples carry the registry's default messages; a validation failure's names the field.
  const detail = entries.some((e) => e.name === 'VALIDATION_ERR') ? '. For invalid_request the message starts with the field\'s path: `extension: must be …`' : '';
  return `${REASON[status] ?? 'Error'}: ${codes}${detail}`;
}

/** The error responses of an operation, by status. */
export function errorResponses(refs: readonly ErrorRef[]): Record<string, ResponseObject> {
  const out: Record<string, ResponseObject> = {};
  for (const [status, entries] of byStatus([...refs, ...ALWAYS].map(entryOf))) {
    const headers = headersFor(entries);
    out[String(status)] = {
      description: describe(status, entries),
      ...(headers ? { headers } : {}),
      content: {
        'application/json': {
          schema: {
            allOf: [ERROR_SCHEMA, { properties: { error: { enum: [...new Set(entries.map((e) => e.error))] } } }],
          },
          examples: Object.fromEntries(entries.map((e) => [e.name, { summary: e.name, value: { error: e.error, message: e.message } }])),
        },
      },
    };
  }
  return out;
}

/** Every CALLBACK_ERR_ code of the registry, in its order. */
export function callbackErrorCodes(): CallbackErrorCode[] {
  return (Object.keys(ERRORS) as ErrorCode[]).filter((c): c is CallbackErrorCode => c.startsWith('CALLBACK_ERR_'));
}

/** The PBX callback's refusals: `{"status":"FAILED","message"}` with the registry's status and message. */
export function callbackErrorResponses(): Record<string, ResponseObject> {
  const out: Record<string, ResponseObject> = {};
  for (const [status, entries] of byStatus(callbackErrorCodes().map(entryOf))) {
    const headers = headersFor(entries);
    out[String(status)] = {
      description: `${REASON[status] ?? 'Error'}: ${entries.map((e) => e.name).join(', ')}`,
      ...(headers ? { headers } : {}),
      content: {
        'application/json': {
          schema: CALLBACK_SCHEMA,
          examples: Object.fromEntries(entries.map((e) => [e.name, { summary: e.name, value: { status: 'FAILED', message: e.message } }])),
        },
      },
    };
  }
  return out;
}

/**
 * A refused WebSocket upgrade: a plain HTTP answer `{"error"}` without a message (src/ws/upgrade-auth.ts), by
 * status; `error` values may be a registry code's (e.g. AUTH_ERR_INVALID_TOKEN's `invalid_token`).
 */
export function upgradeRefusals(refusals: ReadonlyArray<{ status: number; error: string; when: string }>): Record<string, ResponseObject> {
  const out: Record<string, ResponseObject> = {};
  const statuses = [...new Set(refusals.map((r) => r.status))].sort((a, b) => a - b);
  for (const status of statuses) {
    const group = refusals.filter((r) => r.status === status);
    out[String(status)] = {
      description: `${REASON[status] ?? 'Error'}, no socket: ${group.map((r) => `\`${r.error}\` (${r.when})`).join('; ')}`,
      content: {
        'application/json': {
          schema: { type: 'object', required: ['error'], properties: { error: { enum: group.map((r) => r.error) } } },
          examples: Object.fromEntries(group.map((r) => [r.error, { value: { error: r.error } }])),
        },
      },
    };
  }
  return out;
}
