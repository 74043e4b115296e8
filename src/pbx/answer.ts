/**
 * Reads one HoduPBX answer into success or a PbxError.
 *
 * The manual lists status codes (406, 601, …) without saying whether they come as the HTTP status or inside
 * an HTTP 200 body, so both are handled: an answer is a failure when the HTTP status is not 2xx, when the
 * body is not JSON, or when its `status` is not `SUCCESS`. The manual's code is read from the body
 * (`status_code`, `statusCode`, `code`, a numeric `status`) and falls back to the HTTP status.
 */
import { PbxError } from '../errors.js';
import { parseLenientJson } from './lenient-json.js';

export type JsonObject = Record<string, unknown>;

export type PbxAnswer =
  | { ok: true; body: JsonObject }
  | { ok: false; error: PbxError };

/** Manual: "601 Data Not Found" on the list endpoints. */
export const DATA_NOT_FOUND = 601;
/** Manual, "Call Log": "411 No Call Log Details Found" (no rows for that range). */
export const NO_CALL_LOG_FOUND = 411;
/** Manual, "Get Recording Path": "406 No Recording Found" (none yet, or none at all). */
export const NO_RECORDING_FOUND = 406;

const CODE_FIELDS = ['status_code', 'statusCode', 'code', 'status', 'Status Code', 'error_code'] as const;
const MESSAGE_FIELDS = ['message', 'Message', 'msg', 'error', 'status_message'] as const;
const MAX_MESSAGE_LENGTH = 300;

/** The top-level fields readPbxAnswer looks at besides `data` (a list reader keeps only these). */
export const ANSWER_FIELDS: readonly string[] = [...CODE_FIELDS, ...MESSAGE_FIELDS]; // CODE_FIELDS holds `status`

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function numericCode(value: unknown): number | null {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 999) return value;
  if (typeof value === 'string' && /^\s*\d{3}\s*$/.test(value)) return Number(value.trim());
  return null;
}

function codeFromBody(body: JsonObject): number | null {
  for (const field of CODE_FIELDS) {
    const code = numericCode(body[field]);
    if (code !== null) return code;
  }
  return null;
}

function messageFromBody(body: JsonObject): string | null {
  for (const field of MESSAGE_FIELDS) {
    const value = body[field];
    if (typeof value === 'string' && value.trim() !== '') return value.trim().slice(0, MAX_MESSAGE_LENGTH);
  }
  return null;
}

function isSuccessStatus(value: unknown): boolean {
  return typeof value === 'string' && value.trim().toUpperCase() === 'SUCCESS';
}

/**
 * @param redact removes secrets the PBX might echo back (token, password) from its message before it is
 *   kept on the error.
 */
export function readPbxAnswer(
  endpoint: string,
  httpStatus: number,
  text: string,
  redact: (message: string) => string,
): PbxAnswer {
  return readParsedAnswer(endpoint, httpStatus, parseLenientJson(text), redact);
}

/** readPbxAnswer of a body parsed already (`{ ok: false }`: it was not JSON). */
export function readParsedAnswer(
  endpoint: string,
  httpStatus: number,
  parsed: { ok: true; value: unknown } | { ok: false },
  redact: (message: string) => string,
): PbxAnswer {
  const httpOk = httpStatus >= 200 && httpStatus < 300;
  if (!parsed.ok || !isJsonObject(parsed.value)) {
    const what = parsed.ok ? 'JSON that is not an object' : 'a body that is not JSON';
    return {
      ok: false,
      error: new PbxError('PBX_ERR_BAD_RESPONSE', endpoint, `PBX ${endpoint} answered HTTP ${httpStatus} with ${what}`, {
        pbxStatus: httpOk ? null : httpStatus,
      }),
    };
  }
  const body = parsed.value;
  if (httpOk && isSuccessStatus(body.status)) return { ok: true, body };

  const code = codeFromBody(body) ?? (httpOk ? null : httpStatus);
  const rawMessage = messageFromBody(body);
  const message = rawMessage === null ? null : redact(rawMessage);
  // A 2xx JSON object with neither a status nor a code is not an answer the manual describes.
  if (httpOk && body.status === undefined && code === null) {
    return {
      ok: false,
      error: new PbxError('PBX_ERR_BAD_RESPONSE', endpoint, `PBX ${endpoint} answered without a status`),
    };
  }
  const described = [code === null ? null : String(code), message].filter((s) => s !== null).join(' ');
  return {
    ok: false,
    error: new PbxError(
      'PBX_ERR_REJECTED',
      endpoint,
      `PBX ${endpoint} refused${described === '' ? '' : `: ${described}`}`,
      { pbxStatus: code, pbxMessage: message },
    ),
  };
}
