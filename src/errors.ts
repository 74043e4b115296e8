/**
 * Error classes with stable codes. The HTTP layer maps code -> status through ERROR_STATUS; nothing
 * branches on message text. Messages never contain secrets (passwords, token_id, tokens).
 */

export const ERROR_STATUS = {
  PBX_ERR_TIMEOUT: 503,
  PBX_ERR_UNREACHABLE: 503,
  PBX_ERR_BAD_RESPONSE: 502,
  PBX_ERR_REJECTED: 502,
  CALLBACK_ERR_NO_EXTENSION: 400,
  CALLBACK_ERR_NO_CALLER: 400,
  CALLBACK_ERR_BAD_FIELD: 400,
  CALLBACK_ERR_MALFORMED_JSON: 400,
  CALLBACK_ERR_UNAUTHORIZED: 401,
  CALLBACK_ERR_TOO_LARGE: 413,
  CALLBACK_ERR_UNSUPPORTED_TYPE: 415,
  AUTH_ERR_INVALID_TOKEN: 401,
  VALIDATION_ERR: 400,
  NOT_FOUND: 404,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class BridgeError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export type PbxErrorCode = 'PBX_ERR_TIMEOUT' | 'PBX_ERR_UNREACHABLE' | 'PBX_ERR_BAD_RESPONSE' | 'PBX_ERR_REJECTED';

/** A failed PBX call. `pbxStatus` is the manual's status code (406, 601, …) when the PBX gave one. */
export class PbxError extends BridgeError {
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
  constructor(code: CallbackErrorCode, message: string) {
    super(code, message);
  }
}

export class ValidationError extends BridgeError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('VALIDATION_ERR', message);
    this.field = field;
  }
}
