/**
 * The HoduPBX Tenant API client (manual sections "CRM Subscribe", "CRM Unsubscribe", "Call Log", "Active
 * Calls", 25, 36, 39, 41, 47, 48).
 *
 * Every call is a JSON POST with `token_id` in the body, over this client's own keep-alive undici Agent.
 * Failures become PbxError: PBX_ERR_TIMEOUT (no full answer within timeoutMs), PBX_ERR_UNREACHABLE
 * (refused, reset, DNS), PBX_ERR_BAD_RESPONSE (not JSON, unexpected shape), PBX_ERR_REJECTED (the PBX
 * said no; `pbxStatus` is its code, `pbxMessage` its message). Messages name the endpoint and the PBX's
 * status only: never the token, a password, its MD5 or a request body.
 */
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import type { PbxActiveCall, PbxApi, PbxCallGroup, PbxCallLogQuery, PbxCallLogRow, PbxContact, PbxCustomField, PbxExtension } from '../core/ports.js';
import { PbxError, ValidationError, type PbxErrorCode } from '../errors.js';
import {
  DATA_NOT_FOUND,
  isJsonObject,
  NO_CALL_LOG_FOUND,
  NO_RECORDING_FOUND,
  readPbxAnswer,
  type JsonObject,
  type PbxAnswer,
} from './answer.js';
import { encodeExtensionPassword, redactSecrets, type PasswordFormat } from './credentials.js';
import { parseElementsSliced, readAndScan, type ByteChunks, type ListBodyScanner } from './json-slices.js';
import {
  listEntries,
  mapActiveCall,
  mapCallLogRow,
  mapContact,
  mapCustomField,
  mapExtension,
  mapQueue,
  mapRingGroup,
  recordingPathOf,
} from './mapping.js';

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
  /**
   * Called once per request (metrics). An answer that means "nothing" (601 "Data Not Found" on a list,
   * 411 on callLog, 406 on recordingPath) counts as `ok`.
   */
  onRequest?: (endpoint: string, outcome: PbxRequestOutcome, durationMs: number) => void;
}

export type PbxClient = PbxApi & { close(): Promise<void> };

/**
 * List answers at least this large are read in slices (scan for the `data` array, parse and map its
 * entries a few hundred at a time, yielding in between): 100,000 contacts are ~30 MB, and one
 * `JSON.parse` of that blocks the event loop for most of a second. Smaller ones are parsed in one go.
 */
export const SLICED_LIST_MIN_BYTES = 1024 * 1024;

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
   * POSTs `{token_id, ...fields}` and hands the JSON body of a SUCCESS answer to `read`. With `readScanned`,
   * the body is scanned while it arrives (json-slices.ts) and `readScanned` gives the answer itself. A
   * refusal with the code `nothingStatus` (default 601 "Data Not Found") gives `whenNothing()` instead,
   * when one is given.
   */
  async function post<T>(
    endpoint: string,
    path: string,
    fields: Record<string, string>,
    options: {
      read: (body: JsonObject) => T;
      readScanned?: (statusCode: number, body: ScannedBody, redact: (message: string) => string) => Promise<PbxAnswer | { ok: true; value: T }>;
      whenNothing?: () => T;
      /** null: no refusal means "nothing" on this endpoint. */
      nothingStatus?: number | null;
      secrets?: readonly string[];
    },
  ): Promise<T> {
    const secrets = [token, ...(options.secrets ?? [])];
    const started = performance.now();
    let outcome: PbxRequestOutcome = 'ok';
    try {
      const signal = AbortSignal.timeout(timeoutMs);
      let statusCode: number;
      let body: string | ScannedBody;
      try {
        const res = await request(`${baseUrl}${path}`, {
          method: 'POST',
          dispatcher: agent,
          signal,
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ token_id: token, ...fields }),
        });
        statusCode = res.statusCode;
        body = options.readScanned ? await readAndScan(res.body) : await res.body.text();
      } catch (err) {
        throw transportError(endpoint, err, signal.aborted, timeoutMs);
      }
      const redact = (m: string): string => redactSecrets(m, secrets);
      const answer =
        typeof body === 'string'
          ? readPbxAnswer(endpoint, statusCode, body, redact)
          : options.readScanned
            ? await options.readScanned(statusCode, body, redact)
            : readPbxAnswer(endpoint, statusCode, utf8Text(body.bytes), redact);
      if (answer.ok) return 'value' in answer ? answer.value : options.read(answer.body);
      const nothing = options.nothingStatus === undefined ? DATA_NOT_FOUND : options.nothingStatus;
      if (options.whenNothing && nothing !== null && answer.error.pbxStatus === nothing) return options.whenNothing();
      throw answer.error;
    } catch (err) {
      outcome = err instanceof PbxError ? outcomeOf(err) : 'unreachable';
      throw err;
    } finally {
      report(endpoint, outcome, performance.now() - started);
    }
  }

  /**
   * The list endpoints: `data` mapped entry by entry; 601 "Data Not Found" is an empty list. Large answers
   * are read in slices (SLICED_LIST_MIN_BYTES) with the same outcome as one parse of the whole text; an
   * answer that is not a SUCCESS with a `data` array, or that the slices cannot read, is parsed whole.
   */
  function fetchList<T>(
    endpoint: string,
    path: string,
    map: (entry: JsonObject) => T,
    request: { fields?: Record<string, string>; nothingStatus?: number | null } = {},
  ): Promise<T[]> {
    return post<T[]>(endpoint, path, request.fields ?? {}, {
      whenNothing: () => [],
      nothingStatus: request.nothingStatus,
      read: (body) => {
        const entries = listEntries(body.data);
        if (entries === null) {
          throw new PbxError('PBX_ERR_BAD_RESPONSE', endpoint, `PBX ${endpoint} answered with a "data" that is not a list`);
        }
        return entries.map(map);
      },
      readScanned: async (statusCode, { bytes, scanner }, redact) => {
        const whole = (): PbxAnswer => readPbxAnswer(endpoint, statusCode, utf8Text(bytes), redact);
        if (bytes.length < SLICED_LIST_MIN_BYTES) return whole();
        const layout = scanner.finish();
        if (layout === null) return whole();
        const envelope = readPbxAnswer(endpoint, statusCode, layout.envelope, redact);
        // Refusals and odd answers: whatever the whole text says (they are not the large case).
        if (!envelope.ok) return whole();
        const items: T[] = [];
        const read = await parseElementsSliced(bytes, layout, (values) => {
          for (const value of values) if (isJsonObject(value)) items.push(map(value));
        });
        return read ? { ok: true, value: items } : whole();
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
    // The manual lists no "nothing" code for activeCalls: no calls is an empty `data`, and any refusal
    // (a 601 too) is an error, so a tracker never takes a refusal for "every call is over".
    activeCalls: (): Promise<PbxActiveCall[]> =>
      fetchList('activeCalls', `/info/${userType}/activeCalls`, mapActiveCall, { nothingStatus: null }),
    callLog: async (query): Promise<PbxCallLogRow[]> => {
      const { startDate, endDate } = checkCallLogQuery(query);
      const fields: Record<string, string> = query.number === undefined ? {} : { number: query.number };
      return fetchList('callLog', `/info/${startDate}/${endDate}/${userType}/callLog`, mapCallLogRow, {
        fields,
        nothingStatus: NO_CALL_LOG_FOUND,
      });
    },
    recordingPath: async (callId): Promise<string | null> => {
      if (callId.trim() === '') throw new ValidationError('callId', 'callId must not be empty');
      return post('recordingPath', `/info/${userType}/recordingPath`, { callid: callId }, {
        read: (body) => recordingPathOf(body.data),
        whenNothing: () => null,
        nothingStatus: NO_RECORDING_FOUND,
      });
    },
    getRingGroups: (): Promise<PbxCallGroup[]> => fetchList('getRingGroup', `/info/${userType}/getRingGroup`, mapRingGroup),
    getQueues: (): Promise<PbxCallGroup[]> => fetchList('getQueue', `/info/${userType}/getQueue`, mapQueue),
    close: () => agent.close(),
  };
}

const CALL_LOG_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A real calendar date written YYYY-MM-DD, as the manual's 412/413 demand; else a ValidationError naming the field. */
function checkDate(field: 'startDate' | 'endDate', value: string): string {
  const m = CALL_LOG_DATE.exec(value);
  const date = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (date === null || date.toISOString().slice(0, 10) !== value) {
    throw new ValidationError(field, `${field} must be a date written YYYY-MM-DD`);
  }
  return value;
}

/** The dates go into the URL path, so they are checked before anything is sent. */
function checkCallLogQuery(query: PbxCallLogQuery): { startDate: string; endDate: string } {
  const startDate = checkDate('startDate', query.startDate);
  const endDate = checkDate('endDate', query.endDate);
  if (startDate > endDate) throw new ValidationError('endDate', 'endDate must not be before startDate');
  if (query.number !== undefined && query.number.trim() === '') throw new ValidationError('number', 'number must not be empty when given');
  return { startDate, endDate };
}

/** A body read by `readAndScan`: its chunks, and the scan of them. */
interface ScannedBody {
  bytes: ByteChunks;
  scanner: ListBodyScanner;
}

/** The body as text, as undici's `body.text()` gives it (UTF-8, a leading BOM dropped). */
function utf8Text(chunks: ByteChunks): string {
  const bytes = chunks.join();
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  return bytes.toString('utf8', bom);
}
