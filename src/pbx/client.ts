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
import type { PbxActiveCall, PbxApi, PbxCallGroup, PbxCallLogRow, PbxContact, PbxCustomField, PbxExtension, PbxNewContact } from '../core/ports.js';
import { PbxError, ValidationError } from '../errors.js';
import { withTimeout } from '../timeouts.js';
import { DATA_NOT_FOUND, isJsonObject, NO_CALL_LOG_FOUND, NO_RECORDING_FOUND, readParsedAnswer, readPbxAnswer, type JsonObject, type PbxAnswer } from './answer.js';
import { encodeExtensionPassword, redactSecrets, type PasswordFormat } from './credentials.js';
import { readListBody, type ListBody } from './list-reader.js';
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
import { checkCallLogQuery, createNumberFields, newPhonebookId } from './requests.js';
import { capped, cappedText, DEFAULT_MAX_RESPONSE_BYTES, outcomeOf, pausableTimeout, ResponseTooLarge, timedWhileWaiting, transportError, type PbxRequestOutcome } from './transport.js';

export { createNumberFields } from './requests.js';
export { DEFAULT_MAX_RESPONSE_BYTES, type PbxRequestOutcome } from './transport.js';

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
 * A list answer is handed over while it arrives only once this much of it came (list-reader.ts): a smaller
 * one is read as one, and goes to onBatch in one piece. 100,000 contacts are ~30 MB.
 */
export const SLICED_LIST_MIN_BYTES = 1024 * 1024;

/** How long close() lets requests still in flight finish before it cuts them. */
const CLOSE_WAIT_MS = 2000;

/** A 2xx answer read as a list while it arrives: its elements go to onEntries, and `done` gives the value. */
interface ListRead<T> {
  onEntries: (values: unknown[]) => Promise<void>;
  done: () => T;
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

  /** The answer's body: its text, or (with `list`, for a 2xx answer) what the list reader made of it. */
  async function receive<T>(endpoint: string, path: string, fields: Record<string, unknown>, list: ListRead<T> | undefined): Promise<{ statusCode: number; body: string | ListBody }> {
    // The time limit counts time spent waiting on the PBX, not time the bridge spends parsing and indexing
    // what it already received (timedWhileWaiting).
    const deadline = pausableTimeout(timeoutMs);
    const signal = deadline.signal;
    /** What onEntries threw: it comes out as it is, not as a transport failure. */
    let consumerError: { error: unknown } | null = null;
    try {
      const res = await request(`${baseUrl}${path}`, {
        method: 'POST',
        dispatcher: agent,
        signal,
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ token_id: token, ...fields }),
      });
      const statusCode = res.statusCode;
      const length = Number(res.headers['content-length']);
      const announced = Number.isFinite(length) && length >= 0 ? length : null;
      try {
        if (!list || statusCode < 200 || statusCode >= 300) return { statusCode, body: await cappedText(res.body, maxBytes, announced) };
        const consume = async (values: unknown[]): Promise<void> => {
          try {
            await list.onEntries(values);
          } catch (error) {
            consumerError = { error };
            throw error;
          }
        };
        const chunks = timedWhileWaiting(capped(res.body, maxBytes, announced), deadline);
        return { statusCode, body: await readListBody(chunks, consume, { minBytes: SLICED_LIST_MIN_BYTES }) };
      } catch (err) {
        if (err instanceof ResponseTooLarge) res.body.destroy();
        throw err;
      }
    } catch (err) {
      if (consumerError !== null) throw (consumerError as { error: unknown }).error;
      if (err instanceof ResponseTooLarge) {
        throw new PbxError('PBX_ERR_BAD_RESPONSE', endpoint, `PBX ${endpoint} answered more than ${maxBytes} bytes (PBX_MAX_RESPONSE_BYTES); the answer was not read`);
      }
      throw transportError(endpoint, err, signal.aborted, timeoutMs);
    } finally {
      deadline.clear();
    }
  }

  /**
   * POSTs `{token_id, ...fields}` and hands the JSON body of a SUCCESS answer to `read` (with `list`: a list
   * read while it arrived gives `list.done()`). A refusal with the code `nothingStatus` (default 601 "Data
   * Not Found") gives `whenNothing()` instead, when one is given.
   */
  async function post<T>(
    endpoint: string,
    path: string,
    fields: Record<string, unknown>,
    options: {
      read: (body: JsonObject) => T;
      list?: ListRead<T>;
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
      const { statusCode, body } = await receive(endpoint, path, fields, options.list);
      const redact = (m: string): string => redactSecrets(m, secrets);
      let answer: PbxAnswer;
      if (typeof body === 'string' || body.kind === 'text') {
        answer = readPbxAnswer(endpoint, statusCode, typeof body === 'string' ? body : body.text, redact);
        if (answer.ok) return options.read(answer.body);
      } else if (body.kind === 'broken') {
        throw new PbxError('PBX_ERR_BAD_RESPONSE', endpoint, `PBX ${endpoint} answered with a list the bridge cannot read`);
      } else {
        // A refusal whose status comes after the data is still the refusal.
        answer = readParsedAnswer(endpoint, statusCode, { ok: true, value: body.envelope }, redact);
        const list = options.list as ListRead<T>;
        if (answer.ok) {
          if (body.rest.length > 0) await list.onEntries(body.rest);
          return list.done();
        }
      }
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
   * The list endpoints: `data` mapped entry by entry; 601 "Data Not Found" is an empty list. A 2xx answer
   * is read while it arrives (list-reader.ts), with the same outcome as one parse of its whole text. With
   * onBatch, the items go there as they are read and the list returned is empty.
   */
  function fetchList<T>(
    endpoint: string,
    path: string,
    map: (entry: JsonObject) => T,
    request: { fields?: Record<string, string>; nothingStatus?: number | null; onBatch?: (items: T[]) => Promise<void> } = {},
  ): Promise<T[]> {
    const onBatch = request.onBatch;
    const hand = async (items: T[]): Promise<T[]> => {
      if (!onBatch) return items;
      if (items.length > 0) await onBatch(items);
      return [];
    };
    const items: T[] = [];
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
      list: {
        onEntries: async (values) => {
          const batch: T[] = [];
          for (const value of values) if (isJsonObject(value)) batch.push(map(value));
          if (onBatch) await hand(batch);
          else for (const item of batch) items.push(item);
        },
        done: () => (onBatch ? [] : items),
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
    // What is still in flight at close (a lookup the call tracker abandoned) gets a moment, then is cut, so a
    // PBX holding a request cannot hold the shutdown to its deadline.
    close: () => withTimeout(agent.close(), CLOSE_WAIT_MS, 'the PBX').catch(() => agent.destroy()),
  };
}
