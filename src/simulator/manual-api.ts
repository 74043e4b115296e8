/**
 * The HoduPBX Tenant API as the manual describes it, for the endpoints the bridge uses. Mounted at
 * `/hodupbx_api/v1.4/api`. Status codes per the manual's tables:
 * - crmSubscribe / crmUnSubscribe: 406 "Not Acceptable" naming the bad parameter (token_id,
 *   extension_number or extension_password), 424 "Method Failed".
 * - getPhoneNumber / getExtension: 602 No Token, 604 Invalid User Type, 603 Authentication Failed,
 *   601 Data Not Found. getPhonebookCustomfield: 602, 603, 601 (it has no userType).
 * - activeCalls, callLog, recordingPath, getRingGroup, getQueue: call-api.ts.
 * - createNumber (section 10, `/add/{userType}/createNumber`): 602 "Can Not Be Empty" naming the empty field
 *   (token_id, pb_first_name, pb_last_name, "one of pb_extension, pb_phone_number, pb_cell_number", or a
 *   custom field whose definition says "Field Required": YES), 604, 603, 606 "Invalid Input" naming the field
 *   (an e-mail or number that is not one, a drop-down value not in its list, a value longer than its Field
 *   Length), 605 "Already Exists" when a given Phone Number or Cell Number is already some entry's Phone or
 *   Cell Number. The answer carries no id, as in the manual; the entry gets the next Phonebook ID.
 * - anything else (unknown path or method): 424 "Method Failed".
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { mountCallEndpoints } from './call-api.js';
import type { ApiEndpoint, RawEntry, SimulatorState } from './state.js';

export interface FaultTimers {
  /** Delays `fn` and keeps the timer so close() can cancel it. */
  later(fn: () => void, ms: number): void;
}

const GARBAGE_PAGE = '<html><head><title>Error</title></head><body><b>Fatal error</b>: Allowed memory size exhausted</body></html>';

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The manual says bodies are raw JSON; a form body is read too, and anything unreadable counts as empty. */
function readBody(req: Request): Record<string, unknown> {
  const raw: unknown = req.body;
  if (typeof raw !== 'string' || raw.trim() === '') return {};
  if (req.is('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw));
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function asText(value: unknown): string | null {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

const WITH_USER_TYPE: readonly ApiEndpoint[] = ['getPhoneNumber', 'getExtension', 'activeCalls', 'recordingPath', 'getRingGroup', 'getQueue'];

function endpointOf(method: string, path: string): ApiEndpoint | 'unknown' {
  if (method !== 'POST') return 'unknown';
  if (/^\/info\/[^/]+\/[^/]+\/[^/]+\/callLog\/?$/.test(path)) return 'callLog';
  if (/^\/add\/[^/]+\/createNumber\/?$/.test(path)) return 'createNumber';
  const m = /^\/info\/(?:([^/]+)\/)?([^/]+)\/?$/.exec(path);
  if (!m) return 'unknown';
  const [, userType, name] = m;
  const withoutUserType = name === 'crmSubscribe' || name === 'crmUnSubscribe' || name === 'getPhonebookCustomfield';
  const withUserType = WITH_USER_TYPE.find((e) => e === name);
  if (withUserType !== undefined && userType !== undefined) return withUserType;
  if (withoutUserType && userType === undefined) return name;
  return 'unknown';
}

/** The manual's custom_fields: an array holding one object of name -> value (an object alone is read too). */
function customValues(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const objects = Array.isArray(raw) ? raw : [raw];
  for (const o of objects) {
    if (typeof o !== 'object' || o === null || Array.isArray(o)) continue;
    for (const [name, value] of Object.entries(o as Record<string, unknown>)) {
      const v = asText(value);
      if (v !== null && v.trim() !== '') out[name] = v.trim();
    }
  }
  return out;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const NUMBER = /^\+?[\d\s\-().]{3,20}$/;

/** createNumber's checks in the manual's terms; null when the entry may be added. */
function checkNewNumber(body: Record<string, unknown>, state: SimulatorState): { code: number; message: string } | null {
  const text = (name: string): string => asText(body[name])?.trim() ?? '';
  for (const name of ['pb_first_name', 'pb_last_name']) {
    if (text(name) === '') return { code: 602, message: `${name} Can Not Be Empty` };
  }
  const numbers = ['pb_extension', 'pb_phone_number', 'pb_cell_number'];
  if (numbers.every((n) => text(n) === '')) {
    return { code: 602, message: 'pb_extension, pb_phone_number or pb_cell_number Can Not Be Empty' };
  }
  for (const name of numbers) {
    if (text(name) !== '' && !NUMBER.test(text(name))) return { code: 606, message: `Invalid Input: ${name}` };
  }
  if (text('pb_email') !== '' && !EMAIL.test(text('pb_email'))) return { code: 606, message: 'Invalid Input: pb_email' };
  const custom = customValues(body.custom_fields);
  for (const def of state.customFields) {
    const name = asText(def['Field Name']);
    if (name === null) continue;
    const value = custom[name];
    if (value === undefined) {
      if (asText(def['Field Required'])?.toUpperCase() === 'YES') return { code: 602, message: `${name} Can Not Be Empty` };
      continue;
    }
    const length = Number(asText(def['Field Length']) ?? '0');
    if (length > 0 && value.length > length) return { code: 606, message: `Invalid Input: ${name}` };
    const items = asText(def['List of Items']);
    if (items !== null && !items.split(',').map((s) => s.trim()).includes(value)) return { code: 606, message: `Invalid Input: ${name}` };
  }
  const digits = (v: unknown): string => (asText(v) ?? '').replace(/\D+/g, '');
  for (const name of ['pb_phone_number', 'pb_cell_number']) {
    const d = digits(body[name]);
    if (d === '') continue;
    if (state.contacts.some((c) => digits(c['Phone Number']) === d || digits(c['Cell Number']) === d)) {
      return { code: 605, message: 'Already Exists' };
    }
  }
  return null;
}

export function createManualApi(state: SimulatorState, timers: FaultTimers): Router {
  const router = express.Router();
  router.use(express.text({ type: () => true, limit: '1mb' }));

  const fail = (res: Response, code: number, message: string): void => {
    if (state.errorStyle === 'http') res.status(code).json({ status: 'FAILED', message });
    else res.status(200).json({ status: 'FAILED', status_code: code, message });
  };
  const succeed = (res: Response, body: Record<string, unknown>): void => {
    res.status(200).json({ status: 'SUCCESS', ...body });
  };

  // Count every request, then apply the configured fault before any endpoint answers.
  router.use((req: Request, res: Response, next: NextFunction) => {
    const endpoint = endpointOf(req.method, req.path);
    state.counts.set(endpoint, (state.counts.get(endpoint) ?? 0) + 1);
    const fault = state.fault;
    if (fault.mode === 'none' || (fault.endpoints && !fault.endpoints.includes(endpoint))) {
      next();
      return;
    }
    switch (fault.mode) {
      case 'down':
        if (fault.httpStatus) res.status(fault.httpStatus).type('html').send(`<html><body>${fault.httpStatus} Service Unavailable</body></html>`);
        else req.socket.destroy();
        return;
      case 'garbage':
        res.status(200).type('html').send(GARBAGE_PAGE);
        return;
      case 'slow':
        // Counted while held, so a test can tell a request asked from one answered.
        state.held.set(endpoint, (state.held.get(endpoint) ?? 0) + 1);
        timers.later(() => {
          state.held.set(endpoint, Math.max(0, (state.held.get(endpoint) ?? 0) - 1));
          next();
        }, fault.delayMs ?? 1000);
        return;
    }
  });

  /** The list endpoints' token checks in the manual's order: 602 missing, (604 user type), 603 wrong. */
  const authorizeList = (req: Request, res: Response, checkUserType: boolean): boolean => {
    const token = asText(readBody(req).token_id);
    if (token === null) {
      fail(res, 602, 'No Token');
      return false;
    }
    if (checkUserType && req.params.userType !== state.userType) {
      fail(res, 604, `Invalid User Type. Allowed Type is: '${state.userType}'.`);
      return false;
    }
    if (!sameSecret(token, state.token)) {
      fail(res, 603, 'Authentication Failed');
      return false;
    }
    return true;
  };

  /** crmSubscribe / crmUnSubscribe: every bad parameter is a 406 whose message names it. */
  const checkExtensionCredentials = (req: Request, res: Response): string | null => {
    const body = readBody(req);
    const token = asText(body.token_id);
    if (token === null || !sameSecret(token, state.token)) {
      fail(res, 406, 'Invalid token_id');
      return null;
    }
    const extension = asText(body.extension_number);
    const webPassword = extension === null ? undefined : state.extensions.get(extension);
    if (extension === null || webPassword === undefined) {
      fail(res, 406, 'Invalid extension_number');
      return null;
    }
    const given = asText(body.extension_password);
    const expected = state.passwordFormat === 'md5' ? md5(webPassword) : webPassword;
    if (given === null || !sameSecret(given, expected)) {
      fail(res, 406, 'Invalid extension_password');
      return null;
    }
    return extension;
  };

  router.post('/info/crmSubscribe', (req, res) => {
    const extension = checkExtensionCredentials(req, res);
    if (extension === null) return;
    state.subscriptions.add(extension);
    succeed(res, { message: 'Extension Subscribed Successfully.' });
  });

  router.post('/info/crmUnSubscribe', (req, res) => {
    const extension = checkExtensionCredentials(req, res);
    if (extension === null) return;
    state.subscriptions.delete(extension);
    succeed(res, { message: 'Extension UnSubscribed Successfully.' });
  });

  const sendList = (res: Response, message: string, countKey: 'Count' | 'count', data: readonly unknown[]): void => {
    if (data.length === 0) fail(res, 601, 'Data Not Found');
    else succeed(res, { message, [countKey]: data.length, data });
  };

  router.post('/info/:userType/getPhoneNumber', (req, res) => {
    if (!authorizeList(req, res, true)) return;
    sendList(res, 'Phonebook Details:', 'Count', state.contacts);
  });

  router.post('/info/getPhonebookCustomfield', (req, res) => {
    if (!authorizeList(req, res, false)) return;
    sendList(res, 'Phonebook Custom Field Details:', 'Count', state.customFields);
  });

  router.post('/info/:userType/getExtension', (req, res) => {
    if (!authorizeList(req, res, true)) return;
    const numbers = [...state.extensions.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    const data: RawEntry[] = numbers.map((number, i) => ({
      ext_id: String(480 + i),
      ext_name: `${state.extensionNames[number] ?? number}-${number}`,
    }));
    sendList(res, 'Extension Details.', 'count', data);
  });

  mountCallEndpoints(router, state, { fail, succeed, sendList, authorizeList, readBody, asText, sameSecret });
  router.post('/add/:userType/createNumber', (req, res) => {
    const body = readBody(req);
    const token = asText(body.token_id);
    if (token === null) return fail(res, 602, 'token_id Can Not Be Empty');
    if (req.params.userType !== state.userType) return fail(res, 604, `Invalid User Type. Allowed Type is: '${state.userType}'.`);
    if (!sameSecret(token, state.token)) return fail(res, 603, 'Authentication Failed');
    const refusal = checkNewNumber(body, state);
    if (refusal) return fail(res, refusal.code, refusal.message);
    const text = (name: string): string => asText(body[name])?.trim() ?? '';
    const maxId = state.contacts.reduce((max, c) => Math.max(max, Number(c['Phonebook ID']) || 0), 0);
    const first = text('pb_first_name');
    const last = text('pb_last_name');
    const entry: RawEntry = {
      'Phonebook ID': String(maxId + 1),
      'First Name': first,
      'Last Name': last,
      'Display Name': text('pb_display_name') || `${first} ${last}`,
      Extension: text('pb_extension'),
      'Phone Number': text('pb_phone_number'),
      'Cell Number': text('pb_cell_number'),
      'Email ID': text('pb_email'),
      'Phone Group': text('pb_group'),
      'Custom Details': customValues(body.custom_fields),
    };
    state.contacts = [...state.contacts, entry];
    succeed(res, { message: 'Number Added Successfully.' });
  });

  router.use((_req, res) => fail(res, 424, 'Method Failed'));
  return router;
}
