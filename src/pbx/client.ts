/**
 * The HoduPBX Tenant API client (manual sections "CRM Subscribe", "CRM Unsubscribe", 36, 47, 48).
 *
 * Every call is a JSON POST with `token_id` in the body, over this client's own keep-alive undici Agent.
 * Failures become PbxError: PBX_ERR_TIMEOUT (no full answer within timeoutMs), PBX_ERR_UNREACHABLE
 * (refused, reset, DNS), PBX_ERR_BAD_RESPONSE (not JSON, unexpected shape), PBX_ERR_REJECTED (the PBX
 * said no; `pbxStatus` is its code, `pbxMessage` its message). Messages name the endpoint and the PBX's
 * status only: never the token, a password, its MD5 or a request body.
 */
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import type { PbxApi, PbxContact, PbxCustomField, PbxExtension } from '../core/ports.js';
import { PbxError, type PbxErrorCode } from '../errors.js';
import { DATA_NOT_FOUND, readPbxAnswer, type JsonObject } from './answer.js';
import { encodeExtensionPassword, redactSecrets, type PasswordFormat } from './credentials.js';
import { listEntries, mapContact, mapCustomField, mapExtension } from './mapping.js';

export type PbxRequestOutcome = 'ok' | 'rejected' | 'timeout' | 'unreachable' | 'bad_response';

export interface PbxClientOptions {
  /** The API root, e.g. `https://pbx.example.com/hodupbx_api/v1.4/api`. */
  baseUrl: string;
  /** The tenant's `token_id`. */
  token: string;
  /** The `{userType}` path segment, e.g. `TENANT`. */
  userType: string;
  passwordFormat: PasswordFormat;
  /** Per request: connect + headers + body. */
  timeoutMs: number;
  /** Called once per request (metrics). A 601 "Data Not Found" on a list endpoint counts as `ok`. */
  onRequest?: (endpoint: string, outcome: PbxRequestOutcome, durationMs: number) => void;
}

export type PbxClient = PbxApi & { close(): Promise<void> };

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

const OUTCOME_OF_CODE: Record<PbxErrorCode, PbxRequestOutcome> = {
  PBX_ERR_TIMEOUT: 'timeout',
  PBX_ERR_UNREACHABLE: 'unreachable',
  PBX_ERR_BAD_RESPONSE: 'bad_response',
  PBX_ERR_REJECTED: 'rejected',
};

function outcomeOf(err: PbxError): PbxRequestOutcome {
  return (OUTCOME_OF_CODE as Partial<Record<string, PbxRequestOutcome>>)[err.code] ?? 'bad_response';
}

function errorCode(err: unknown): string | null {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return null;
}

/** Translates an undici/socket failure. Only the error's code is kept in the message, never its text. */
function transportError(endpoint: string, err: unknown, timedOut: boolean, timeoutMs: number): PbxError {
  const code = errorCode(err);
  if (timedOut || (code !== null && TIMEOUT_CODES.has(code))) {
    return new PbxError('PBX_ERR_TIMEOUT', endpoint, `PBX ${endpoint} did not answer within ${timeoutMs} ms`, { cause: err });
  }
  const reason = code ?? (err instanceof Error ? err.name : 'unknown error');
  return new PbxError('PBX_ERR_UNREACHABLE', endpoint, `PBX ${endpoint} unreachable (${reason})`, { cause: err });
}

export function createPbxClient(opts: PbxClientOptions): PbxClient {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const userType = encodeURIComponent(opts.userType);
  const { token, timeoutMs } = opts;
  const agent = new Agent({
    // Short idle keep-alive: POSTs are not retried by undici, so reusing a socket the PBX already closed would fail.
    keepAliveTimeout: 4000,
    connect: { timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });

  function report(endpoint: string, outcome: PbxRequestOutcome, durationMs: number): void {
    try {
      opts.onRequest?.(endpoint, outcome, durationMs);
    } catch {
      // A failing metrics hook must not turn a PBX answer into an error.
    }
  }

  /**
   * POSTs `{token_id, ...fields}` and hands the JSON body of a SUCCESS answer to `read`. A 601
   * "Data Not Found" answer gives `whenDataNotFound()` instead, when one is given.
   */
  async function post<T>(
    endpoint: string,
    path: string,
    fields: Record<string, string>,
    options: { read: (body: JsonObject) => T; whenDataNotFound?: () => T; secrets?: readonly string[] },
  ): Promise<T> {
    const secrets = [token, ...(options.secrets ?? [])];
    const started = performance.now();
    let outcome: PbxRequestOutcome = 'ok';
    try {
      const signal = AbortSignal.timeout(timeoutMs);
      let statusCode: number;
      let text: string;
      try {
        const res = await request(`${baseUrl}${path}`, {
          method: 'POST',
          dispatcher: agent,
          signal,
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ token_id: token, ...fields }),
        });
        statusCode = res.statusCode;
        text = await res.body.text();
      } catch (err) {
        throw transportError(endpoint, err, signal.aborted, timeoutMs);
      }
      const answer = readPbxAnswer(endpoint, statusCode, text, (m) => redactSecrets(m, secrets));
      if (answer.ok) return options.read(answer.body);
      if (options.whenDataNotFound && answer.error.pbxStatus === DATA_NOT_FOUND) return options.whenDataNotFound();
      throw answer.error;
    } catch (err) {
      outcome = err instanceof PbxError ? outcomeOf(err) : 'unreachable';
      throw err;
    } finally {
      report(endpoint, outcome, performance.now() - started);
    }
  }

  /** The list endpoints: `data` mapped entry by entry; 601 "Data Not Found" is an empty list. */
  function fetchList<T>(endpoint: string, path: string, map: (entry: JsonObject) => T): Promise<T[]> {
    return post(endpoint, path, {}, {
      whenDataNotFound: () => [],
      read: (body) => {
        const entries = listEntries(body.data);
        if (entries === null) {
          throw new PbxError('PBX_ERR_BAD_RESPONSE', endpoint, `PBX ${endpoint} answered with a "data" that is not a list`);
        }
        return entries.map(map);
      },
    });
  }

  async function subscription(endpoint: 'crmSubscribe' | 'crmUnSubscribe', extension: string, webPassword: string): Promise<void> {
    const md5 = encodeExtensionPassword(webPassword, 'md5');
    await post(
      endpoint,
      `/info/${endpoint}`,
      { extension_number: extension, extension_password: encodeExtensionPassword(webPassword, opts.passwordFormat) },
      { read: () => undefined, secrets: [webPassword, md5] },
    );
  }

  return {
    crmSubscribe: (extension, webPassword) => subscription('crmSubscribe', extension, webPassword),
    crmUnSubscribe: (extension, webPassword) => subscription('crmUnSubscribe', extension, webPassword),
    getPhoneNumber: (): Promise<PbxContact[]> =>
      fetchList('getPhoneNumber', `/info/${userType}/getPhoneNumber`, mapContact),
    getPhonebookCustomFields: async (): Promise<PbxCustomField[]> =>
      (await fetchList('getPhonebookCustomfield', '/info/getPhonebookCustomfield', mapCustomField)).filter((f) => f.name !== ''),
    getExtensions: (): Promise<PbxExtension[]> => fetchList('getExtension', `/info/${userType}/getExtension`, mapExtension),
    close: () => agent.close(),
  };
}
