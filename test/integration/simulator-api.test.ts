/**
 * The simulator answers as the HoduPBX Tenant API manual says, driven over real HTTP. These tests read
 * the manual, not the bridge: they never import src/pbx.
 */
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { startRecordingServer, type RecordedRequest } from '../helpers/recording-server.js';
import { Agent, request } from 'undici';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/simulator.js';
import { DEMO_CONTACTS, DEMO_EXTENSIONS, DEMO_TOKEN, generateContacts } from '../../src/simulator/seed.js';
import { eventually } from '../helpers/wait.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const PASSWORD_101 = DEMO_EXTENSIONS['101'] ?? '';

const agent = new Agent({ keepAliveTimeout: 1000 });
afterAll(() => agent.close());

interface Answer {
  status: number;
  text: string;
  json: Record<string, unknown> | null;
}

async function call(url: string, body?: unknown, method: 'POST' | 'GET' | 'PUT' = 'POST'): Promise<Answer> {
  const res = await request(url, {
    method,
    dispatcher: agent,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { status: res.statusCode, text, json };
}

/** A simulator listening on a free port, closed after the current suite. */
async function startSimulator(opts?: SimulatorOptions): Promise<{ sim: Simulator; api: string; origin: string }> {
  const sim = createSimulator(opts);
  afterAll(() => sim.close());
  const { url, apiBaseUrl } = await sim.listen(0);
  return { sim, api: apiBaseUrl, origin: url };
}


/** A real http.Server standing in for the bridge's callback endpoint. */
async function startCallbackReceiver(status = 200): Promise<{ url: string; received: RecordedRequest[]; server: Server }> {
  const { origin, requests, server } = await startRecordingServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: status === 200 ? 'SUCCESS' : 'FAILED', eventId: '1-0' }));
  });
  return { url: `${origin}/pbx/callback?secret=s3cret`, received: requests, server };
}

describe('simulator, default settings (errors in an HTTP 200 body, MD5 passwords)', () => {
  let sim: Simulator;
  let api: string;
  let origin: string;
  beforeAll(async () => {
    ({ sim, api, origin } = await startSimulator());
  });
  beforeEach(() => sim.reset());

  describe('crmSubscribe / crmUnSubscribe', () => {
    it('when the token, extension and MD5 of the web password are right, then it subscribes', async () => {
      const r = await call(`${api}/info/crmSubscribe`, {
        token_id: DEMO_TOKEN,
        extension_number: '101',
        extension_password: md5(PASSWORD_101),
      });
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ status: 'SUCCESS', message: 'Extension Subscribed Successfully.' });
      expect(sim.subscriptions()).toEqual(['101']);
      expect((await call(`${origin}/_sim/subscriptions`, undefined, 'GET')).json).toEqual({ subscriptions: ['101'] });
    });

    it('when the password is sent in plain text while MD5 is expected, then 406 names extension_password', async () => {
      const r = await call(`${api}/info/crmSubscribe`, {
        token_id: DEMO_TOKEN,
        extension_number: '101',
        extension_password: PASSWORD_101,
      });
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ status: 'FAILED', status_code: 406, message: 'Invalid extension_password' });
      expect(sim.subscriptions()).toEqual([]);
    });

    it('when the extension does not exist, then 406 names extension_number', async () => {
      const r = await call(`${api}/info/crmSubscribe`, {
        token_id: DEMO_TOKEN,
        extension_number: '999',
        extension_password: md5('x'),
      });
      expect(r.json).toMatchObject({ status: 'FAILED', status_code: 406, message: 'Invalid extension_number' });
    });

    it('when the token is wrong or missing, then 406 names token_id', async () => {
      const body = { extension_number: '101', extension_password: md5(PASSWORD_101) };
      expect((await call(`${api}/info/crmSubscribe`, { ...body, token_id: 'nope' })).json).toMatchObject({
        status_code: 406,
        message: 'Invalid token_id',
      });
      expect((await call(`${api}/info/crmSubscribe`, body)).json).toMatchObject({ status_code: 406, message: 'Invalid token_id' });
      expect((await call(`${api}/info/crmSubscribe`)).json).toMatchObject({ status_code: 406 });
    });

    it('when an extension number comes as a JSON number, then it is read as the number', async () => {
      const r = await call(`${api}/info/crmSubscribe`, { token_id: DEMO_TOKEN, extension_number: 101, extension_password: md5(PASSWORD_101) });
      expect(r.json).toMatchObject({ status: 'SUCCESS' });
    });

    it('when unsubscribing, then the extension is no longer subscribed', async () => {
      const body = { token_id: DEMO_TOKEN, extension_number: '101', extension_password: md5(PASSWORD_101) };
      await call(`${api}/info/crmSubscribe`, body);
      const r = await call(`${api}/info/crmUnSubscribe`, body);
      expect(r.json).toEqual({ status: 'SUCCESS', message: 'Extension UnSubscribed Successfully.' });
      expect(sim.subscriptions()).toEqual([]);
      const bad = await call(`${api}/info/crmUnSubscribe`, { ...body, extension_password: md5('wrong') });
      expect(bad.json).toMatchObject({ status_code: 406, message: 'Invalid extension_password' });
    });
  });

  describe('list endpoints', () => {
    it('getPhoneNumber answers "Phonebook Details:" with Count and the entries in the manual format', async () => {
      const r = await call(`${api}/info/TENANT/getPhoneNumber`, { token_id: DEMO_TOKEN });
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ status: 'SUCCESS', message: 'Phonebook Details:', Count: DEMO_CONTACTS.length });
      const data = r.json?.data as unknown[];
      expect(data).toHaveLength(DEMO_CONTACTS.length);
      expect(data[0]).toEqual({
        'Phonebook ID': '41',
        'First Name': 'Nisha',
        'Last Name': 'Patel',
        'Display Name': 'Nisha Patel',
        Extension: '101',
        'Phone Number': '98988778',
        'Cell Number': '78768876',
        'Email ID': 'nisha.patel@example.com',
        'Phone Group': '3',
        'Custom Details': { Company: 'Ecosmob', City: 'Abd', 'Office No': '9879973234' },
      });
      expect(data[1]).toMatchObject({ 'First Name': 'Anjali', 'Cell Number': '78768876', Extension: '102' });
    });

    it('getPhoneNumber: 602 without a token, 604 for another userType, 603 for a wrong token', async () => {
      expect((await call(`${api}/info/TENANT/getPhoneNumber`, {})).json).toMatchObject({ status: 'FAILED', status_code: 602 });
      expect((await call(`${api}/info/RESELLER/getPhoneNumber`, { token_id: DEMO_TOKEN })).json).toMatchObject({
        status: 'FAILED',
        status_code: 604,
      });
      expect((await call(`${api}/info/TENANT/getPhoneNumber`, { token_id: 'wrong' })).json).toMatchObject({
        status: 'FAILED',
        status_code: 603,
        message: 'Authentication Failed',
      });
    });

    it('getPhoneNumber with an empty phonebook answers 601 Data Not Found', async () => {
      sim.setContacts([]);
      expect((await call(`${api}/info/TENANT/getPhoneNumber`, { token_id: DEMO_TOKEN })).json).toEqual({
        status: 'FAILED',
        status_code: 601,
        message: 'Data Not Found',
      });
    });

    it('getPhonebookCustomfield answers the field definitions', async () => {
      const r = await call(`${api}/info/getPhonebookCustomfield`, { token_id: DEMO_TOKEN });
      expect(r.json).toMatchObject({ status: 'SUCCESS', message: 'Phonebook Custom Field Details:', Count: 3 });
      const data = r.json?.data as Array<Record<string, unknown>>;
      expect(data.map((f) => [f['Field Name'], f['Field Type']])).toEqual([
        ['Company', 'DropDownList'],
        ['City', 'Text'],
        ['Office No', 'Text'],
      ]);
      expect((await call(`${api}/info/getPhonebookCustomfield`, {})).json).toMatchObject({ status_code: 602 });
      expect((await call(`${api}/info/getPhonebookCustomfield`, { token_id: 'x' })).json).toMatchObject({ status_code: 603 });
    });

    it('getExtension answers ext_id / ext_name pairs like "102_name-102"', async () => {
      const r = await call(`${api}/info/TENANT/getExtension`, { token_id: DEMO_TOKEN });
      expect(r.json).toMatchObject({ status: 'SUCCESS', message: 'Extension Details.', count: 10 });
      const data = r.json?.data as Array<Record<string, unknown>>;
      expect(data[1]).toEqual({ ext_id: expect.any(String), ext_name: '102_sales-102' });
      expect(data.map((e) => String(e.ext_name).split('-').pop())).toEqual(Object.keys(DEMO_EXTENSIONS));
      expect((await call(`${api}/info/tenant/getExtension`, { token_id: DEMO_TOKEN })).json).toMatchObject({ status_code: 604 });
    });
  });

  it('when an unknown path or method is called, then 424 Method Failed', async () => {
    expect((await call(`${api}/info/nothingHere`, { token_id: DEMO_TOKEN })).json).toEqual({
      status: 'FAILED',
      status_code: 424,
      message: 'Method Failed',
    });
    expect((await call(`${api}/info/crmSubscribe`, undefined, 'GET')).json).toMatchObject({ status_code: 424 });
    expect((await call(`${api}/info/getPhoneNumber`, { token_id: DEMO_TOKEN })).json).toMatchObject({ status_code: 424 });
  });

  it('counts requests per endpoint', async () => {
    await call(`${api}/info/TENANT/getPhoneNumber`, { token_id: DEMO_TOKEN });
    await call(`${api}/info/TENANT/getPhoneNumber`, { token_id: DEMO_TOKEN });
    await call(`${api}/info/nope`, {});
    const r = await call(`${origin}/_sim/requests`, undefined, 'GET');
    expect(r.json).toEqual({
      counts: {
        crmSubscribe: 0,
        crmUnSubscribe: 0,
        getPhoneNumber: 2,
        getPhonebookCustomfield: 0,
        getExtension: 0,
        activeCalls: 0,
        callLog: 0,
        recordingPath: 0,
        getRingGroup: 0,
        getQueue: 0,
        createNumber: 0,
        unknown: 1,
      },
      // Nothing is held back without the slow fault: every endpoint listed with 0.
      held: {
        crmSubscribe: 0,
        crmUnSubscribe: 0,
        getPhoneNumber: 0,
        getPhonebookCustomfield: 0,
        getExtension: 0,
        activeCalls: 0,
        callLog: 0,
        recordingPath: 0,
        getRingGroup: 0,
        getQueue: 0,
        createNumber: 0,
        unknown: 0,
      },
    });
    expect(sim.requestCounts().getPhoneNumber).toBe(2);
  });

  describe('ringing callbacks', () => {
    const subscribe101 = () =>
      call(`${api}/info/crmSubscribe`, { token_id: DEMO_TOKEN, extension_number: '101', extension_password: md5(PASSWORD_101) });

    it('when the extension is not subscribed, then nothing is sent', async () => {
      const receiver = await startCallbackReceiver();
      sim.setCallbackUrl(receiver.url);
      const r = await call(`${origin}/_sim/ring`, { extension: '101', from: '09824740472' });
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ delivered: false, reason: 'not_subscribed' });
      expect(receiver.received).toEqual([]);
    });

    it('when the extension is subscribed, then a JSON ringing callback is POSTed to the callback URL', async () => {
      const receiver = await startCallbackReceiver();
      sim.setCallbackUrl(receiver.url);
      await subscribe101();
      const r = await call(`${origin}/_sim/ring`, { extension: '101', from: '09824740472', fromName: 'NISHA' });
      expect(r.json).toMatchObject({ delivered: true, status: 200, callId: expect.any(String), response: { eventId: '1-0' } });
      expect(receiver.received).toHaveLength(1);
      const got = receiver.received[0];
      expect(got?.method).toBe('POST');
      expect(got?.url).toBe('/pbx/callback?secret=s3cret');
      expect(got?.contentType).toBe('application/json');
      expect(JSON.parse(got?.body ?? '')).toEqual({
        extension_number: '101',
        caller_number: '09824740472',
        caller_name: 'NISHA',
        call_id: r.json?.callId,
        event: 'ringing',
      });
    });

    it('when unsubscribed again, then ringing sends nothing', async () => {
      const receiver = await startCallbackReceiver();
      sim.setCallbackUrl(receiver.url);
      await subscribe101();
      await call(`${api}/info/crmUnSubscribe`, { token_id: DEMO_TOKEN, extension_number: '101', extension_password: md5(PASSWORD_101) });
      expect(await sim.ring({ extension: '101', from: '123' })).toEqual({ delivered: false, reason: 'not_subscribed' });
      expect(receiver.received).toEqual([]);
    });

    it('when no callback URL is set, then it says so', async () => {
      sim.setCallbackUrl(null);
      await subscribe101();
      expect(await sim.ring({ extension: '101', from: '123' })).toEqual({ delivered: false, reason: 'no_callback_url' });
    });

    it('when the receiver answers 401, then the result says rejected with the status', async () => {
      const receiver = await startCallbackReceiver(401);
      sim.setCallbackUrl(receiver.url);
      await subscribe101();
      const r = await sim.ring({ extension: '101', from: '123', callId: 'c-1', state: 'answered' });
      expect(r).toMatchObject({ delivered: false, reason: 'callback_rejected', status: 401, callId: 'c-1' });
      expect(JSON.parse(receiver.received[0]?.body ?? '')).toMatchObject({ call_id: 'c-1', event: 'answered' });
    });

    it('when the receiver is down, then the result says callback_failed', async () => {
      const receiver = await startCallbackReceiver();
      await new Promise<void>((resolve) => receiver.server.close(() => resolve()));
      sim.setCallbackUrl(receiver.url);
      await subscribe101();
      expect(await sim.ring({ extension: '101', from: '123' })).toMatchObject({ delivered: false, reason: 'callback_failed', error: 'ECONNREFUSED' });
    });

    it('POST /_sim/ring without extension or caller answers 400', async () => {
      expect((await call(`${origin}/_sim/ring`, { from: '1' })).status).toBe(400);
      expect((await call(`${origin}/_sim/ring`, { extension: '101' })).status).toBe(400);
    });

    it('POST /_sim/callback-url points callbacks somewhere else', async () => {
      const receiver = await startCallbackReceiver();
      expect((await call(`${origin}/_sim/callback-url`, { url: receiver.url })).json).toEqual({ callbackUrl: receiver.url });
      await subscribe101();
      expect(await sim.ring({ extension: '101', from: '5' })).toMatchObject({ delivered: true });
      expect((await call(`${origin}/_sim/callback-url`, { url: 'not a url' })).status).toBe(400);
    });
  });

  describe('faults', () => {
    const phonebook = () => call(`${api}/info/TENANT/getPhoneNumber`, { token_id: DEMO_TOKEN });

    it('garbage: HTTP 200 with a body that is not JSON', async () => {
      await call(`${origin}/_sim/fault`, { mode: 'garbage' });
      const r = await phonebook();
      expect(r.status).toBe(200);
      expect(r.json).toBeNull();
    });

    it('down: the connection is closed without an answer', async () => {
      await call(`${origin}/_sim/fault`, { mode: 'down' });
      await expect(phonebook()).rejects.toThrow();
    });

    it('down with httpStatus: that status and an HTML page', async () => {
      sim.setFault({ mode: 'down', httpStatus: 503 });
      const r = await phonebook();
      expect(r.status).toBe(503);
      expect(r.text).toContain('<html>');
    });

    it('slow: the answer comes delayMs late', async () => {
      sim.setFault({ mode: 'slow', delayMs: 300 });
      const started = Date.now();
      const r = await phonebook();
      expect(Date.now() - started).toBeGreaterThanOrEqual(280);
      expect(r.json).toMatchObject({ status: 'SUCCESS' });
    });

    it('slow: a request held back is counted as held until it is answered', async () => {
      sim.setFault({ mode: 'slow', delayMs: 300, endpoints: ['getPhoneNumber'] });
      const answer = phonebook();
      await eventually(() => sim.heldRequests().getPhoneNumber === 1, 5000, 'a held getPhoneNumber');
      const during = await call(`${origin}/_sim/requests`, undefined, 'GET');
      expect(during.json).toMatchObject({ held: { getPhoneNumber: 1, getExtension: 0 } });
      expect((await answer).json).toMatchObject({ status: 'SUCCESS' });
      expect(sim.heldRequests().getPhoneNumber).toBe(0);
    });

    it('a fault limited to some endpoints leaves the others alone; none and reset clear it', async () => {
      sim.setFault({ mode: 'garbage', endpoints: ['getPhoneNumber'] });
      expect((await phonebook()).json).toBeNull();
      expect((await call(`${api}/info/TENANT/getExtension`, { token_id: DEMO_TOKEN })).json).toMatchObject({ status: 'SUCCESS' });
      await call(`${origin}/_sim/fault`, { mode: 'none' });
      expect((await phonebook()).json).toMatchObject({ status: 'SUCCESS' });
      sim.setFault({ mode: 'garbage' });
      expect((await call(`${origin}/_sim/reset`, {})).json).toEqual({ reset: true });
      expect((await phonebook()).json).toMatchObject({ status: 'SUCCESS' });
    });

    it('an unknown fault mode is refused', async () => {
      expect((await call(`${origin}/_sim/fault`, { mode: 'explode' })).status).toBe(400);
    });
  });

  describe('PUT /_sim/phonebook', () => {
    it('replaces the contacts with a list or a generated phonebook; reset restores the demo one', async () => {
      const one = { 'Phonebook ID': '1', 'First Name': 'Solo', 'Phone Number': 12345 };
      expect((await call(`${origin}/_sim/phonebook`, [one], 'PUT')).json).toEqual({ count: 1 });
      expect((await phonebook()).json).toMatchObject({ Count: 1, data: [one] });
      expect((await call(`${origin}/_sim/phonebook`, { generate: 1000 }, 'PUT')).json).toEqual({ count: 1000 });
      expect((await phonebook()).json).toMatchObject({ Count: 1000 });
      sim.reset();
      expect((await phonebook()).json).toMatchObject({ Count: DEMO_CONTACTS.length });
    });
    const phonebook = () => call(`${api}/info/TENANT/getPhoneNumber`, { token_id: DEMO_TOKEN });
  });
});

describe('simulator with errorStyle http and plain passwords', () => {
  let sim: Simulator;
  let api: string;
  beforeAll(async () => {
    ({ sim, api } = await startSimulator({ errorStyle: 'http', passwordFormat: 'plain', token: 'tok-http', extensions: { '200': 'pw200' } }));
  });

  it('subscribes with the plain web password, and refuses its MD5', async () => {
    const ok = await call(`${api}/info/crmSubscribe`, { token_id: 'tok-http', extension_number: '200', extension_password: 'pw200' });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ status: 'SUCCESS', message: 'Extension Subscribed Successfully.' });
    expect(sim.subscriptions()).toEqual(['200']);
    const bad = await call(`${api}/info/crmSubscribe`, { token_id: 'tok-http', extension_number: '200', extension_password: md5('pw200') });
    expect(bad.status).toBe(406);
    expect(bad.json).toEqual({ status: 'FAILED', message: 'Invalid extension_password' });
  });

  it('puts the manual codes in the HTTP status: 424, 602, 603, 604', async () => {
    expect((await call(`${api}/info/unknown`, {})).status).toBe(424);
    expect((await call(`${api}/info/TENANT/getPhoneNumber`, {})).status).toBe(602);
    expect((await call(`${api}/info/TENANT/getPhoneNumber`, { token_id: 'no' })).status).toBe(603);
    expect((await call(`${api}/info/OTHER/getPhoneNumber`, { token_id: 'tok-http' })).status).toBe(604);
  });

  it('answers an empty phonebook with HTTP 601', async () => {
    sim.setContacts([]);
    const r = await call(`${api}/info/TENANT/getPhoneNumber`, { token_id: 'tok-http' });
    expect(r.status).toBe(601);
    expect(r.json).toEqual({ status: 'FAILED', message: 'Data Not Found' });
  });

  it('names extensions "<number>-<number>" when it has no names for them', async () => {
    const r = await call(`${api}/info/TENANT/getExtension`, { token_id: 'tok-http' });
    expect(r.json).toMatchObject({ count: 1, data: [{ ext_id: expect.any(String), ext_name: '200-200' }] });
  });
});

describe('simulator callback styles', () => {
  it.each([
    ['form', 'POST', 'application/x-www-form-urlencoded'],
    ['query', 'GET', undefined],
  ] as const)('%s: the same fields, sent as %s', async (style, method, contentType) => {
    const sim = createSimulator({ callbackStyle: style });
    onTestFinished(() => sim.close());
    const { apiBaseUrl: api } = await sim.listen(0);
    const receiver = await startCallbackReceiver();
    sim.setCallbackUrl(receiver.url);
    await call(`${api}/info/crmSubscribe`, { token_id: DEMO_TOKEN, extension_number: '103', extension_password: md5('demo103pass') });
    const r = await sim.ring({ extension: '103', from: '+91 98247 40472', fromName: 'Rahul S', callId: 'abc' });
    expect(r).toMatchObject({ delivered: true, status: 200 });
    const got = receiver.received[0];
    expect(got?.method).toBe(method);
    expect(got?.contentType).toBe(contentType);
    const fields = style === 'form' ? new URLSearchParams(got?.body) : new URL(got?.url ?? '', 'http://x').searchParams;
    expect(Object.fromEntries(fields)).toMatchObject({
      extension_number: '103',
      caller_number: '+91 98247 40472',
      caller_name: 'Rahul S',
      call_id: 'abc',
      event: 'ringing',
    });
    if (style === 'query') expect(fields.get('secret')).toBe('s3cret');
  });
});

describe('generateContacts', () => {
  it('makes 100,000 distinct contacts with unique numbers', () => {
    // Its speed is measured in bench/, not asserted here.
    const contacts = generateContacts(100_000, 7);
    expect(contacts).toHaveLength(100_000);
    const ids = new Set(contacts.map((c) => c['Phonebook ID']));
    expect(ids.size).toBe(100_000);
    // Numbers compared as country + national digits. The generator deals countries by index (i % 10:
    // 0-5 India, 6-8 US, 9 UK), so national forms without a prefix are read with that country.
    const numbers = new Set<string>();
    contacts.forEach((c, i) => {
      const country = i % 10 < 6 ? '91' : i % 10 < 9 ? '1' : '44';
      for (const n of [c['Phone Number'], c['Cell Number']]) {
        const d = n.replace(/\D/g, '');
        const national = d.startsWith('00' + country)
          ? d.slice(2 + country.length)
          : n.startsWith('+')
            ? d.slice(country.length)
            : d.replace(/^0/, '');
        numbers.add(`${country}:${national}`);
      }
    });
    expect(numbers.size).toBe(200_000);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    expect(generateContacts(50, 3)).toEqual(generateContacts(50, 3));
    expect(generateContacts(50, 3)[0]?.['Phone Number']).not.toBe(generateContacts(50, 4)[0]?.['Phone Number']);
  });
});
