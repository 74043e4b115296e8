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
import type { PbxActiveCall, PbxApi, PbxCallGroup, PbxCallLogQuery, PbxCallLogRow, PbxContact, PbxCustomField, PbxExtension, PbxNewContact } from '../core/ports.js';
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
import { parseElementsSliced, readAndScan, readScanAndParse, type ByteChunks, type ListBodyScanner, type StreamedList } from './json-slices.js';
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
   * Largest answer read, in bytes (PBX_MAX_RESPONSE_BYTES): past it the request fails with
   * PBX_ERR_BAD_RESPONSE and the rest is not read, so a broken or hostile PBX cannot exhaust memory.
   * Default 64 MiB (100,000 contacts are ~29 MB).
   */
  maxResponseBytes?: number;
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

export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

class ResponseTooLarge extends Error {}

/** The body's chunks, failing with ResponseTooLarge once more than `max` bytes came (or were announced). */
async function* capped(chunks: AsyncIterable<Uint8Array>, max: number, announced: number | null): AsyncGenerator<Uint8Array> {
  if (announced !== null && announced > max) throw new ResponseTooLarge();
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.length;
    if (total > max) throw new ResponseTooLarge();
    yield chunk;
  }
}

async function cappedText(chunks: AsyncIterable<Uint8Array>, max: number, announced: number | null): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of capped(chunks, max, announced)) parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  const bytes = Buffer.concat(parts);
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  return bytes.toString('utf8', bom);
}

export function createPbxClient(opts: PbxClientOptions): PbxClient {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const maxBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
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
    fields: Record<string, unknown>,
    options: {
      read: (body: JsonObject) => T;
      readScanned?: (statusCode: number, body: ScannedBody, redact: (message: string) => string) => Promise<PbxAnswer | { ok: true; value: T }>;
      /** With readScanned: a 2xx list body's elements go here while it arrives (readScanAndParse). */
      stream?: (values: unknown[]) => Promise<void>;
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
      // The request's time limit counts time spent waiting on the PBX, not time the bridge spends indexing
      // what it already received (readScanAndParse hands elements over while the body arrives).
      const deadline = pausableTimeout(timeoutMs);
      const signal = deadline.signal;
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
        const length = Number(res.headers['content-length']);
        const announced = Number.isFinite(length) && length >= 0 ? length : null;
        try {
          const stream = options.stream;
          if (options.readScanned && stream && statusCode >= 200 && statusCode < 300) {
            const consume = async (values: unknown[]): Promise<void> => {
              deadline.pause();
              try {
                await stream(values);
              } finally {
                deadline.resume();
              }
            };
            const streamed = await readScanAndParse(capped(res.body, maxBytes, announced), consume, { minBytes: SLICED_LIST_MIN_BYTES });
            body = { bytes: streamed.bytes, scanner: null, streamed };
          } else {
            body = options.readScanned
              ? await readAndScan(capped(res.body, maxBytes, announced))
              : await cappedText(res.body, maxBytes, announced);
          }
        } catch (err) {
          if (err instanceof ResponseTooLarge) res.body.destroy();
          throw err;
        }
      } catch (err) {
        if (err instanceof ResponseTooLarge) {
          throw new PbxError('PBX_ERR_BAD_RESPONSE', endpoint, `PBX ${endpoint} answered more than ${maxBytes} bytes (PBX_MAX_RESPONSE_BYTES); the answer was not read`);
        }
        throw transportError(endpoint, err, signal.aborted, timeoutMs);
      } finally {
        deadline.clear();
      }
      const redact = (m: string): string => redactSecrets(m, secrets);
      const scanned = options.readScanned;
      // A body is scanned rather than read as text only when `readScanned` is given.
      const answer =
        typeof body === 'string' || !scanned ? readPbxAnswer(endpoint, statusCode, typeof body === 'string' ? body : utf8Text(body.bytes), redact) : await scanned(statusCode, body, redact);
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
    request: { fields?: Record<string, string>; nothingStatus?: number | null; onBatch?: (items: T[]) => Promise<void> } = {},
  ): Promise<T[]> {
    const onBatch = request.onBatch;
    /** With onBatch, the items go there as they are read and the list returned is empty. */
    const hand = async (items: T[]): Promise<T[]> => {
      if (!onBatch) return items;
      if (items.length > 0) await onBatch(items);
      return [];
    };
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
      stream: onBatch
        ? async (values) => {
            const batch: T[] = [];
            for (const value of values) if (isJsonObject(value)) batch.push(map(value));
            await onBatch(batch);
          }
        : undefined,
      readScanned: async (statusCode, { bytes, scanner, streamed }, redact) => {
        const whole = (): PbxAnswer => readPbxAnswer(endpoint, statusCode, utf8Text(bytes), redact);
        if (streamed?.handed) {
          // Parsed while it arrived: what was handed over is gone, so the whole text cannot decide.
          if (streamed.error !== null) throw streamed.error;
          const envelope = streamed.layout ? readPbxAnswer(endpoint, statusCode, streamed.layout.envelope, redact) : null;
          if (envelope && !envelope.ok) return envelope;
          if (!streamed.complete || !envelope) {
            throw new PbxError('PBX_ERR_BAD_RESPONSE', endpoint, `PBX ${endpoint} answered with a list the bridge cannot read`);
          }
          return { ok: true, value: [] };
        }
        if (bytes.length < SLICED_LIST_MIN_BYTES) return whole();
        const layout = streamed ? streamed.layout : (scanner?.finish() ?? null);
        if (layout === null) return whole();
        const envelope = readPbxAnswer(endpoint, statusCode, layout.envelope, redact);
        // Refusals and odd answers: whatever the whole text says (they are not the large case).
        if (!envelope.ok) return whole();
        const items: T[] = [];
        let handed = false;
        const read = await parseElementsSliced(bytes, layout, async (values) => {
          const batch: T[] = [];
          for (const value of values) if (isJsonObject(value)) batch.push(map(value));
          if (!onBatch) {
            for (const item of batch) items.push(item);
            return;
          }
          handed = true;
          await onBatch(batch);
        }, { releaseParsed: onBatch !== undefined });
        if (read) return { ok: true, value: items };
        // Falling back to the whole text would hand the first slices twice.
        if (handed) throw new PbxError('PBX_ERR_BAD_RESPONSE', endpoint, `PBX ${endpoint} answered with a list entry that is not JSON`);
        return whole();
      },
    }).then(hand);
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
    getPhoneNumber: (onBatch?: (contacts: PbxContact[]) => Promise<void>): Promise<PbxContact[]> =>
      fetchList('getPhoneNumber', `/info/${userType}/getPhoneNumber`, mapContact, { onBatch }),
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
    createNumber: (contact: PbxNewContact): Promise<{ phonebookId: string | null }> =>
      post('createNumber', `/add/${userType}/createNumber`, createNumberFields(contact), { read: newPhonebookId }),
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

/**
 * The manual's createNumber parameters (section 10). Empty optional fields are left out rather than sent
 * empty (602 "Can Not Be Empty"); custom fields go as the manual's one-element array of name -> value.
 */
export function createNumberFields(c: PbxNewContact): Record<string, unknown> {
  const fields: Record<string, unknown> = { pb_first_name: c.firstName, pb_last_name: c.lastName };
  const optional: Array<[string, string | undefined]> = [
    ['pb_display_name', c.displayName],
    ['pb_extension', c.extension],
    ['pb_phone_number', c.phoneNumber],
    ['pb_cell_number', c.cellNumber],
    ['pb_email', c.email],
    ['pb_group', c.phoneGroup],
  ];
  for (const [name, value] of optional) if (value !== undefined && value !== '') fields[name] = value;
  const custom = Object.entries(c.customFields ?? {}).filter(([, v]) => v !== '');
  if (custom.length > 0) fields.custom_fields = [Object.fromEntries(custom)];
  return fields;
}

/** The manual's answer is only a message; some PBX builds add the new entry's id, which is used when present. */
function newPhonebookId(body: JsonObject): { phonebookId: string | null } {
  const data = isJsonObject(body.data) ? body.data : body;
  for (const key of ['Phonebook ID', 'phonebook_id', 'phonebookId', 'id']) {
    const v = data[key];
    if ((typeof v === 'string' && v.trim() !== '') || typeof v === 'number') return { phonebookId: String(v).trim() };
  }
  return { phonebookId: null };
}

/** An abort signal after `ms`, with the clock stopped between pause() and resume(). */
function pausableTimeout(ms: number): { signal: AbortSignal; pause(): void; resume(): void; clear(): void } {
  const controller = new AbortController();
  let remaining = ms;
  let since = performance.now();
  let timer: NodeJS.Timeout | null = null;
  const arm = (): void => {
    timer = setTimeout(() => controller.abort(new DOMException('The PBX did not answer in time', 'TimeoutError')), Math.max(0, remaining));
    timer.unref();
  };
  arm();
  return {
    signal: controller.signal,
    pause() {
      if (timer === null) return;
      clearTimeout(timer);
      timer = null;
      remaining -= performance.now() - since;
    },
    resume() {
      if (timer !== null || controller.signal.aborted) return;
      since = performance.now();
      arm();
    },
    clear() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}

/** A body read by `readAndScan` (its chunks, and the scan of them) or by `readScanAndParse` (`streamed`). */
interface ScannedBody {
  bytes: ByteChunks;
  scanner: ListBodyScanner | null;
  streamed?: StreamedList;
}

/** The body as text, as undici's `body.text()` gives it (UTF-8, a leading BOM dropped). */
function utf8Text(chunks: ByteChunks): string {
  const bytes = chunks.join();
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  return bytes.toString('utf8', bom);
}
