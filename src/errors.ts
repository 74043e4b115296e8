/**
 * The bridge's one error registry (docs/api-errors.md): every failure has a stable code, and the code
 * decides the HTTP status, the `error` a client sees and the default message. Routes throw a BridgeError
 * (or a subclass); the one handler in src/http/errors.ts answers `{"error","message"}` from this table.
 * Nothing branches on message text. Messages never contain secrets (passwords, token_id, tokens).
 *
 * `error` is what goes on the wire; several codes may share one (`not_found`) so that the answers stay
 * what the contract names while each failure keeps its own message and code in the logs.
 */

interface ErrorSpec {
  readonly status: number;
  /** The `error` field of the JSON answer. */
  readonly error: string;
  /** The answer's message unless the thrower gives one with more detail. */
  readonly message: string;
  /** Seconds the answer's `Retry-After` asks a client to wait (the one error handler sets it). */
  readonly retryAfterS?: number;
}

export const ERRORS = {
  // ---- requests: shape, routes, bodies -----------------------------------------------------------------
  VALIDATION_ERR: { status: 400, error: 'invalid_request', message: 'The request is invalid.' },
  REQUEST_ERR_INVALID_JSON: { status: 400, error: 'invalid_json', message: 'The request body is not valid JSON.' },
  REQUEST_ERR_TOO_LARGE: { status: 413, error: 'payload_too_large', message: 'The request body is too large.' },
  /** A body Express could not read for another reason; the answer keeps the parser's 4xx status. */
  REQUEST_ERR_UNREADABLE: { status: 400, error: 'bad_request', message: 'The request could not be read.' },
  NOT_FOUND: { status: 404, error: 'not_found', message: 'Not found.' },
  INTERNAL_ERR: { status: 500, error: 'internal_error', message: 'Something went wrong; see the bridge logs.' },

  // ---- authentication ------------------------------------------------------------------------------------
  AUTH_ERR_ADMIN_DISABLED: { status: 404, error: 'not_found', message: 'The admin API is disabled: set ADMIN_API_KEY.' },
  AUTH_ERR_ADMIN_KEY: {
    status: 401,
    error: 'unauthorized',
    message: 'A valid admin key is required: Authorization: Bearer <ADMIN_API_KEY>.',
  },
  AUTH_ERR_METRICS_TOKEN: {
    status: 401,
    error: 'unauthorized',
    message: 'A valid metrics token is required: Authorization: Bearer <METRICS_TOKEN>.',
  },
  AUTH_ERR_INVALID_TOKEN: {
    status: 401,
    error: 'invalid_token',
    message: 'A valid agent token is required: Authorization: Bearer <token>.',
  },
  /** Routes open to agents and operators alike (the contacts routes). */
  AUTH_ERR_AGENT_OR_ADMIN: {
    status: 401,
    error: 'invalid_token',
    message: 'An agent token or the admin key is required: Authorization: Bearer <token>.',
  },

  // ---- agent sign-in --------------------------------------------------------------------------------------
  LOGIN_ERR_INVALID_CREDENTIALS: { status: 401, error: 'invalid_credentials', message: 'The PBX refused this extension and password.' },
  LOGIN_ERR_IN_PROGRESS: {
    status: 429,
    error: 'too_many_attempts',
    message: 'A sign-in for this extension is already in progress; try again in a moment.',
  },
  /** Sign-in's answer to any PBX failure that is not a refusal (timeout, unreachable, odd answer). */
  LOGIN_ERR_PBX_UNAVAILABLE: { status: 503, error: 'pbx_unavailable', message: 'The PBX cannot be reached right now; try again shortly.' },
  LOGIN_ERR_TOO_MANY_ATTEMPTS: { status: 429, error: 'too_many_attempts', message: 'Too many failed sign-in attempts; try again in a minute.' },

  // ---- admin API --------------------------------------------------------------------------------------------
  TOKEN_ERR_NOT_FOUND: { status: 404, error: 'not_found', message: 'No unexpired token has this id.' },
  TOKEN_ERR_WILDCARD_AGENT: { status: 400, error: 'invalid_request', message: 'extension: "*" is only for supervisor tokens' },
  EXTENSION_ERR_NOT_REGISTERED: { status: 404, error: 'not_found', message: 'The extension is not registered.' },
  /** The PBX refused an operator's extension password; the message is the PBX's own. */
  EXTENSION_ERR_REFUSED: { status: 422, error: 'pbx_refused', message: 'The PBX refused the credentials.' },
  WEBHOOK_ERR_INVALID_URL: { status: 400, error: 'invalid_request', message: 'url: is not a valid URL' },
  WEBHOOK_ERR_URL_NOT_ALLOWED: { status: 422, error: 'url_not_allowed', message: 'url: is not allowed' },
  WEBHOOK_ERR_URL_UNRESOLVABLE: { status: 422, error: 'url_unresolvable', message: 'url: does not resolve' },
  /** DNS did not answer in time: the bridge's resolver, not the URL, is at fault, so a retry may succeed. */
  WEBHOOK_ERR_URL_LOOKUP_TIMEOUT: { status: 503, error: 'url_lookup_timeout', message: 'url: the host name did not resolve in time', retryAfterS: 5 },
  WEBHOOK_ERR_NOT_FOUND: { status: 404, error: 'not_found', message: 'No such webhook endpoint.' },
  WEBHOOK_ERR_DELIVERY_NOT_FOUND: { status: 404, error: 'not_found', message: 'No such delivery for this webhook endpoint.' },
  WEBHOOK_ERR_ENDPOINT_DISABLED: { status: 409, error: 'endpoint_disabled', message: 'The endpoint is disabled; enable it first.' },
  WEBHOOK_ERR_NOT_FAILED: { status: 409, error: 'not_failed', message: 'Only a failed delivery can be sent again.' },
  // ---- WebSocket handshakes (refused with a plain HTTP answer whose body is only `{"error"}`) -------------
  /** Verifying the token failed (the store could not be read); the page retries. */
  WS_ERR_UNAVAILABLE: { status: 503, error: 'unavailable', message: 'The token cannot be checked right now.' },
  WS_ERR_SHUTTING_DOWN: { status: 503, error: 'shutting_down', message: 'This instance is shutting down.' },
  WS_ERR_TOO_MANY_SOCKETS: { status: 503, error: 'too_many_sockets', message: 'This instance has as many sockets open as it takes (WS_MAX_SOCKETS).' },
  WS_ERR_TOO_MANY_SOCKETS_FOR_TOKEN: { status: 429, error: 'too_many_sockets_for_token', message: 'This token has as many sockets open as it may.' },

  CALL_ERR_NOT_FOUND: { status: 404, error: 'not_found', message: 'No call with that sessionId.' },
  /** Saving a contact from the pop: the PBX's answer to createNumber (src/pbx/refusals.ts tells them apart). */
  CONTACT_ERR_ALREADY_EXISTS: { status: 409, error: 'already_exists', message: 'The PBX already has a contact with this number.' },
  /** Any other refusal; the message is the PBX's own, the answer adds `pbxStatus` and the `field` it names. */
  CONTACT_ERR_REFUSED: { status: 422, error: 'pbx_refused', message: 'The PBX refused the contact.' },
  CONTACT_ERR_PBX_BAD_RESPONSE: { status: 502, error: 'pbx_bad_response', message: 'The PBX gave an answer the bridge cannot read.' },
  /** A timeout may still have created the contact: the next refresh shows it. */
  CONTACT_ERR_PBX_UNAVAILABLE: { status: 503, error: 'pbx_unavailable', message: 'The PBX cannot be reached; try again.' },
  /** A webhook connection to a non-public address, refused by the SSRF guard (a delivery failure, never an answer). */
  WEBHOOK_ERR_BLOCKED_ADDRESS: { status: 422, error: 'url_not_allowed', message: 'The address is not public.' },

  // ---- the PBX (src/pbx/ turns the PBX's own status codes into these) ----------------------------------------
  PBX_ERR_TIMEOUT: { status: 503, error: 'pbx_unavailable', message: 'The PBX cannot be reached right now; try again shortly.' },
  PBX_ERR_UNREACHABLE: { status: 503, error: 'pbx_unavailable', message: 'The PBX cannot be reached right now; try again shortly.' },
  PBX_ERR_BAD_RESPONSE: { status: 502, error: 'pbx_error', message: 'The PBX gave an unexpected answer.' },
  PBX_ERR_REJECTED: { status: 502, error: 'pbx_error', message: 'The PBX refused the request.' },

  // ---- the PBX's callback (answered `{"status":"FAILED","message"}` by the callback route) -------------------
  CALLBACK_ERR_NO_EXTENSION: { status: 400, error: 'invalid_request', message: 'No extension in the callback.' },
  CALLBACK_ERR_NO_CALLER: { status: 400, error: 'invalid_request', message: 'No caller in the callback.' },
  CALLBACK_ERR_BAD_FIELD: { status: 400, error: 'invalid_request', message: 'A callback field is invalid.' },
  CALLBACK_ERR_MALFORMED_JSON: { status: 400, error: 'invalid_json', message: 'Malformed JSON body: it does not parse.' },
  CALLBACK_ERR_UNREADABLE: { status: 400, error: 'bad_request', message: 'The request body could not be read.' },
  CALLBACK_ERR_UNAUTHORIZED: { status: 401, error: 'unauthorized', message: 'Invalid or missing callback secret.' },
  CALLBACK_ERR_TOO_LARGE: { status: 413, error: 'payload_too_large', message: 'Request body is larger than 64 KiB.' },
  CALLBACK_ERR_UNSUPPORTED_TYPE: {
    status: 415,
    error: 'unsupported_media_type',
    message: 'Unsupported Content-Type: send application/json or application/x-www-form-urlencoded.',
  },
  CALLBACK_ERR_UNSUPPORTED_ENCODING: {
    status: 415,
    error: 'unsupported_media_type',
    message: 'Unsupported Content-Encoding: send the body uncompressed, gzip or deflate.',
  },
  /** The event could not be stored (e.g. Redis down and the outage buffer full); the PBX retries. */
  CALLBACK_ERR_UNAVAILABLE: { status: 503, error: 'unavailable', message: 'Temporarily unable to accept callbacks.' },
  /** Refused for load before the body was read (docs/performance.md). */
  CALLBACK_ERR_OVERLOADED: { status: 503, error: 'unavailable', message: 'Temporarily unable to accept callbacks.' },

  // ---- the bridge's store (Redis) --------------------------------------------------------------------------
  /**
   * Redis cannot be reached (refused, no answer in time, not serving yet): every route that needs it answers
   * this from the one error handler (src/http/errors.ts), which recognises the failure (src/events/redis-timeouts.ts).
   */
  STORE_ERR_UNAVAILABLE: {
    status: 503,
    error: 'unavailable',
    message: "The bridge's store cannot be reached right now; try again shortly.",
    retryAfterS: 1,
  },

  // ---- inside the bridge (never an answer of their own) ----------------------------------------------------
  EVENT_LOG_ERR_BUFFER_FULL: { status: 503, error: 'unavailable', message: 'The event log cannot take more events right now.' },
  CREDENTIAL_ERR_UNREADABLE: { status: 500, error: 'internal_error', message: 'A stored credential cannot be opened.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** The registry's entry for a code, with the optional fields every entry may have. */
export function errorSpec(code: ErrorCode): ErrorSpec {
  return ERRORS[code];
}

export interface BridgeErrorOptions {
  cause?: unknown;
  /** Fields the answer carries besides `error` and `message` (the `field` a 400 names, …); never a secret. */
  answerFields?: Readonly<Record<string, unknown>>;
}

export class BridgeError extends Error {
  readonly code: ErrorCode;
  readonly answerFields: Readonly<Record<string, unknown>> | undefined;
  /** @param message more detail than the registry's default message (never a secret). */
  constructor(code: ErrorCode, message?: string, options?: BridgeErrorOptions) {
    super(message ?? ERRORS[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.answerFields = options?.answerFields;
  }
  get status(): number {
    return ERRORS[this.code].status;
  }
  /** The `error` field of the answer. */
  get error(): string {
    return ERRORS[this.code].error;
  }
}

export type PbxErrorCode = Extract<ErrorCode, `PBX_ERR_${string}`>;

/** A failed PBX call. `pbxStatus` is the manual's status code when the PBX gave one (read only in src/pbx/). */
export class PbxError extends BridgeError {
  declare readonly code: PbxErrorCode;
  readonly endpoint: string;
  readonly pbxStatus: number | null;
  readonly pbxMessage: string | null;
  constructor(
    code: PbxErrorCode,
    endpoint: string,
    message: string,
    details: { pbxStatus?: number | null; pbxMessage?: string | null; cause?: unknown } = {},
  ) {
    super(code, message, { cause: details.cause });
    this.endpoint = endpoint;
    this.pbxStatus = details.pbxStatus ?? null;
    this.pbxMessage = details.pbxMessage ?? null;
  }
  /** True when the PBX answered and refused (as opposed to timing out or being unreachable). */
  get isRejection(): boolean {
    return this.code === 'PBX_ERR_REJECTED';
  }
}

export type CallbackErrorCode = Extract<ErrorCode, `CALLBACK_ERR_${string}`>;

export class CallbackError extends BridgeError {
  declare readonly code: CallbackErrorCode;
  constructor(code: CallbackErrorCode, message?: string) {
    super(code, message);
  }
}

export class ValidationError extends BridgeError {
  readonly field: string;
  constructor(field: string, message: string, options?: BridgeErrorOptions) {
    super('VALIDATION_ERR', message, options);
    this.field = field;
  }
}
