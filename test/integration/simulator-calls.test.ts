/**
 * The simulator playing whole calls, driven over real HTTP (control routes and the manual's endpoints),
 * with a real callback receiver. Like simulator-api.test.ts these tests read the manual, not the bridge:
 * they never import src/pbx.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { startRecordingServer, type RecordedRequest } from '../helpers/recording-server.js';
import { createSimulator, type ActiveCallsListing, type Simulator, type SimulatorOptions } from '../../src/simulator/simulator.js';
import { DEMO_EXTENSIONS, DEMO_TOKEN } from '../../src/simulator/seed.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const CALLER = '09824740472';

const agent = new Agent({ keepAliveTimeout: 1000 });
afterAll(() => agent.close());

interface Answer {
  status: number;
  json: Record<string, unknown>;
  contentType: string;
  bytes: number;
}

async function call(url: string, body?: unknown, method: 'POST' | 'GET' | 'PUT' = 'POST'): Promise<Answer> {
  const res = await request(url, {
    method,
    dispatcher: agent,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const buf = Buffer.from(await res.body.arrayBuffer());
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(buf.toString('utf8')) as Record<string, unknown>;
  } catch {
    json = {};
  }
  return { status: res.statusCode, json, contentType: String(res.headers['content-type'] ?? ''), bytes: buf.length };
}

const today = (): string => new Date().toISOString().slice(0, 10);
const dayOffset = (days: number): string => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

describe('simulator: whole calls', () => {
  let sim: Simulator;
  let api: string;
  let origin: string;
  let received: RecordedRequest[];

  const control = (path: string, body?: unknown, method: 'POST' | 'GET' | 'PUT' = 'POST'): Promise<Answer> =>
    call(`${origin}/_sim${path}`, body, method);
  const manual = (path: string, body: Record<string, unknown> = {}): Promise<Answer> => call(`${api}${path}`, { token_id: DEMO_TOKEN, ...body });
  const activeCalls = async (): Promise<Array<[unknown, unknown]>> => {
    const r = await manual('/info/TENANT/activeCalls');
    expect(r.json.status).toBe('SUCCESS');
    return (r.json.data as Array<Record<string, unknown>>).map((row) => [row.caller_number, row.callee_number]);
  };
  const callLog = (number?: string, from = today(), to = today()): Promise<Answer> =>
    manual(`/info/${from}/${to}/TENANT/callLog`, number === undefined ? {} : { number });
  const startCall = async (body: Record<string, unknown>): Promise<{ callId: string; legs: string[]; delivered: string[] }> => {
    const r = await control('/calls', body);
    expect(r.status).toBe(200);
    return r.json as { callId: string; legs: string[]; delivered: string[] };
  };
  const callbacks = (): Array<Record<string, unknown>> => received.map((r) => JSON.parse(r.body) as Record<string, unknown>);
  const subscribe = async (...extensions: string[]): Promise<void> => {
    for (const ext of extensions) {
      const r = await manual('/info/crmSubscribe', { extension_number: ext, extension_password: md5(DEMO_EXTENSIONS[ext] ?? '') });
      expect(r.json.status).toBe('SUCCESS');
    }
  };

  beforeAll(async () => {
    const opts: SimulatorOptions = {};
    sim = createSimulator(opts);
    ({ url: origin, apiBaseUrl: api } = await sim.listen(0));
  });
  afterAll(() => sim.close());
  beforeEach(async () => {
    sim.reset();
    const receiver = await startRecordingServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"SUCCESS"}');
    });
    received = receiver.requests;
    sim.setCallbackUrl(`${receiver.origin}/pbx/callback`);
  });

  describe('ring groups and queues', () => {
    it('serves the seeded ring group and queue on the manual paths', async () => {
      const rg = await manual('/info/TENANT/getRingGroup');
      expect(rg.json).toMatchObject({
        status: 'SUCCESS',
        message: 'Ring Group Details.',
        data: [{ ring_group_id: '1', ring_group_name: 'Sales', ring_group_extension: '5000' }],
      });
      const q = await manual('/info/TENANT/getQueue');
      expect(q.json).toMatchObject({ status: 'SUCCESS', data: [{ queue_id: '1', queue_name: 'Support', queue_extension: '2000' }] });
      expect((await control('/call-groups', undefined, 'GET')).json.groups).toEqual([
        { kind: 'ring_group', id: '1', name: 'Sales', number: '5000', members: ['101', '102', '103'] },
        { kind: 'queue', id: '1', name: 'Support', number: '2000', members: ['104', '105'] },
      ]);
    });

    it('takes other groups through the control route; an empty list is the manual 601', async () => {
      const r = await control('/call-groups', { ringGroups: [{ name: 'Night', number: 5100, members: ['106', '107'] }], queues: [] }, 'PUT');
      expect(r.status).toBe(200);
      expect((await manual('/info/TENANT/getRingGroup')).json.data).toEqual([{ ring_group_id: '1', ring_group_name: 'Night', ring_group_extension: '5100' }]);
      expect((await manual('/info/TENANT/getQueue')).json).toMatchObject({ status: 'FAILED', status_code: 601, message: 'Data Not Found' });
      expect((await startCall({ from: CALLER, to: '5100' })).legs).toEqual(['106', '107']);
      sim.reset();
      expect((await manual('/info/TENANT/getQueue')).json.status).toBe('SUCCESS');
    });

    it.each([
      [{ ringGroups: {} }, 'ringGroups'],
      [{ ringGroups: [{ number: '5100', members: ['101'] }] }, 'ringGroups[0].name'],
      [{ queues: [{ name: 'Q', members: ['101'] }] }, 'queues[0].number'],
      [{ queues: [{ name: 'Q', number: '2100', members: [] }] }, 'queues[0].members'],
      [{ queues: [{ name: 'Q', number: '5000', members: ['101'] }] }, 'number'],
    ])('refuses %j naming %s', async (body, field) => {
      const r = await control('/call-groups', body, 'PUT');
      expect(r.status).toBe(400);
      expect(r.json.field).toBe(field);
    });

    it('answers getRingGroup with the manual 602 / 604 / 603 on a bad token or user type', async () => {
      expect((await call(`${api}/info/TENANT/getRingGroup`, {})).json.status_code).toBe(602);
      expect((await call(`${api}/info/OTHER/getQueue`, { token_id: DEMO_TOKEN })).json.status_code).toBe(604);
      expect((await call(`${api}/info/TENANT/getQueue`, { token_id: 'wrong' })).json.status_code).toBe(603);
    });
  });

  describe('ringing', () => {
    it('a ring-group call rings every member with one PBX call id; only subscribed extensions are called back', async () => {
      await subscribe('101', '102');
      const { callId, legs, delivered } = await startCall({ from: CALLER, to: '5000', fromName: 'RAHUL' });
      expect(legs).toEqual(['101', '102', '103']);
      expect(delivered).toEqual(['101', '102']);
      expect(callId).toMatch(/^\d+$/);
      const sent = callbacks().sort((a, b) => String(a.extension_number).localeCompare(String(b.extension_number)));
      expect(sent).toEqual([
        { extension_number: '101', caller_number: CALLER, caller_name: 'RAHUL', call_id: callId, event: 'ringing' },
        { extension_number: '102', caller_number: CALLER, caller_name: 'RAHUL', call_id: callId, event: 'ringing' },
      ]);
    });

    it('withCallId false: the callbacks carry no call id, and the call log still has it', async () => {
      await subscribe('104', '105');
      const { callId } = await startCall({ from: CALLER, to: '2000', withCallId: false });
      expect(callbacks().map((c) => c.call_id)).toEqual([undefined, undefined]);
      await control(`/calls/${callId}/answer`, { extension: '105' });
      await control(`/calls/${callId}/hangup`);
      expect((await callLog('105')).json.data).toMatchObject([{ callid: callId, callee: '2000', forward: '105' }]);
    });

    it('a direct call rings only that extension', async () => {
      await subscribe('103');
      expect(await startCall({ from: CALLER, to: '103' })).toMatchObject({ legs: ['103'], delivered: ['103'] });
    });
  });

  describe.each<[ActiveCallsListing, Array<[string, string]>, Array<[string, string]>]>([
    [
      'ringing-legs',
      [
        [CALLER, '101'],
        [CALLER, '102'],
        [CALLER, '103'],
      ],
      [[CALLER, '102']],
    ],
    ['connected-only', [], [[CALLER, '102']]],
    ['group-number', [[CALLER, '5000']], [[CALLER, '102']]],
  ])('activeCalls listing %s', (listing, whileRinging, onceAnswered) => {
    beforeEach(async () => {
      expect((await control('/calls-mode', { activeCalls: listing }, 'PUT')).json.mode).toMatchObject({ activeCalls: listing });
    });

    it('a ring-group call answered by one member, then hung up', async () => {
      const { callId } = await startCall({ from: CALLER, to: '5000' });
      expect(await activeCalls()).toEqual(whileRinging);
      const answered = await control(`/calls/${callId}/answer`, { extension: '102' });
      expect(answered.json.call).toMatchObject({ phase: 'answered', answeredBy: '102' });
      expect(await activeCalls()).toEqual(onceAnswered);
      await control(`/calls/${callId}/hangup`);
      expect(await activeCalls()).toEqual([]);
    });

    it('a missed call: listed as ringing (or not at all), then gone', async () => {
      const { callId } = await startCall({ from: CALLER, to: '5000' });
      expect(await activeCalls()).toEqual(whileRinging);
      const ended = await control(`/calls/${callId}/hangup`);
      expect(ended.json.call).toMatchObject({ phase: 'missed', answeredBy: null });
      expect(await activeCalls()).toEqual([]);
      expect((await callLog()).json.data).toMatchObject([{ callid: callId, call_status: 'NO ANSWER', answer_time: '-' }]);
    });

    it('a direct call to an extension lists that extension', async () => {
      const { callId } = await startCall({ from: CALLER, to: '104' });
      expect(await activeCalls()).toEqual(listing === 'connected-only' ? [] : [[CALLER, '104']]);
      await control(`/calls/${callId}/answer`, { extension: '104' });
      expect(await activeCalls()).toEqual([[CALLER, '104']]);
    });
  });

  describe('activeCalls answer', () => {
    it('is SUCCESS with an empty data list when nothing rings', async () => {
      expect((await manual('/info/TENANT/activeCalls')).json).toEqual({ status: 'SUCCESS', message: 'Active Calls Details.', data: [] });
    });

    it('writes start_time in the PBX local time zone', async () => {
      await control('/calls-mode', { timezone: 'Asia/Kolkata' }, 'PUT');
      await startCall({ from: CALLER, to: '101' });
      const startedAt = ((await control('/calls', undefined, 'GET')).json.calls as Array<{ startedAt: string }>)[0]?.startedAt ?? '';
      const kolkata = new Date(Date.parse(startedAt) + 330 * 60_000).toISOString().slice(0, 19).replace('T', ' ');
      const rows = (await manual('/info/TENANT/activeCalls')).json.data as Array<Record<string, unknown>>;
      expect(rows[0]?.start_time).toBe(kolkata);
    });

    it('answers the manual 405 / 414 / 501', async () => {
      expect((await call(`${api}/info/TENANT/activeCalls`, {})).json).toMatchObject({ status: 'FAILED', status_code: 405 });
      expect((await call(`${api}/info/OTHER/activeCalls`, { token_id: DEMO_TOKEN })).json.status_code).toBe(414);
      expect((await call(`${api}/info/TENANT/activeCalls`, { token_id: 'nope' })).json.status_code).toBe(501);
      expect(sim.requestCounts().activeCalls).toBe(3);
    });
  });

  describe('call log', () => {
    async function answeredCall(): Promise<string> {
      const { callId } = await startCall({ from: CALLER, to: '5000', fromName: 'RAHUL' });
      await control(`/calls/${callId}/answer`, { extension: '102' });
      await control(`/calls/${callId}/hangup`);
      return callId;
    }

    it('has no row while the call is on, and the row with the extra fields once it is hung up', async () => {
      const { callId } = await startCall({ from: CALLER, to: '5000', fromName: 'RAHUL' });
      await control(`/calls/${callId}/answer`, { extension: '102' });
      expect((await callLog()).json).toEqual({ status: 'FAILED', status_code: 411, message: 'No Call Log Details Found' });
      await control(`/calls/${callId}/hangup`);
      const r = await callLog();
      expect(r.json).toMatchObject({ status: 'SUCCESS', message: 'Call Log Details.' });
      const [row] = r.json.data as Array<Record<string, string>>;
      expect(Object.keys(row ?? {}).sort()).toEqual(
        [
          'tenant_id',
          'start_date',
          'end_date',
          'caller',
          'callee',
          'forward',
          'incoming_call_charges',
          'outgoing_call_charges',
          'callid',
          'unique_token',
          'call_direction',
          'caller_name',
          'callee_name',
          'did',
          'answer_time',
          'call_status',
          'hangup_by',
          'call_rec_path',
        ].sort(),
      );
      expect(row).toMatchObject({
        tenant_id: '1000',
        caller: CALLER,
        callee: '5000',
        forward: '102',
        callid: callId,
        call_direction: 'inbound',
        caller_name: 'RAHUL',
        callee_name: '102_sales',
        did: '-',
        call_status: 'ANSWERED',
        hangup_by: 'caller',
        call_rec_path: '-',
      });
      for (const key of ['start_date', 'end_date', 'answer_time']) expect(row?.[key]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      expect((row?.start_date ?? '') <= (row?.answer_time ?? '')).toBe(true);
    });

    it("callLogFields manual: only the manual's fields", async () => {
      await control('/calls-mode', { callLogFields: 'manual' }, 'PUT');
      await answeredCall();
      const [row] = (await callLog()).json.data as Array<Record<string, string>>;
      expect(Object.keys(row ?? {})).toEqual([
        'tenant_id',
        'start_date',
        'end_date',
        'caller',
        'callee',
        'forward',
        'incoming_call_charges',
        'outgoing_call_charges',
      ]);
    });

    it('filters by number (caller, callee or forward) and by date range; 411 when none match', async () => {
      const answered = await answeredCall();
      const { callId: missed } = await startCall({ from: '+1 415 555 0132', to: '104' });
      await control(`/calls/${missed}/hangup`);
      const ids = async (number?: string, from?: string, to?: string): Promise<unknown> => {
        const r = await callLog(number, from, to);
        return r.json.status === 'SUCCESS' ? (r.json.data as Array<Record<string, unknown>>).map((row) => row.callid) : r.json.status_code;
      };
      expect(await ids()).toEqual([answered, missed]);
      expect(await ids(CALLER)).toEqual([answered]);
      expect(await ids('5000')).toEqual([answered]);
      expect(await ids('102')).toEqual([answered]);
      expect(await ids('104')).toEqual([missed]);
      expect(await ids('101')).toBe(411);
      expect(await ids(undefined, dayOffset(-3), dayOffset(-1))).toBe(411);
      expect(await ids(undefined, dayOffset(-1), dayOffset(1))).toEqual([answered, missed]);
    });

    it('answers 412 / 413 for dates not written YYYY-MM-DD, and 405 / 501 for the token', async () => {
      expect((await manual('/info/2026-1-1/2026-01-02/TENANT/callLog')).json).toMatchObject({ status_code: 412 });
      expect((await manual('/info/2026-01-01/2026-02-30/TENANT/callLog')).json).toMatchObject({ status_code: 413 });
      expect((await call(`${api}/info/${today()}/${today()}/TENANT/callLog`, {})).json.status_code).toBe(405);
      expect((await call(`${api}/info/${today()}/${today()}/TENANT/callLog`, { token_id: 'x' })).json.status_code).toBe(501);
      expect(sim.requestCounts().callLog).toBe(4);
    });

    it('callLogDelayMs: the row appears only that long after the hang-up', async () => {
      await control('/calls-mode', { callLogDelayMs: 600_000 }, 'PUT');
      await answeredCall();
      expect((await callLog()).json.status_code).toBe(411);
      await control('/calls-mode', { callLogDelayMs: 0 }, 'PUT');
      expect((await callLog()).json.status).toBe('SUCCESS');
    });

    it('writes start_date in the PBX time zone, and the dates asked for are its local dates', async () => {
      await control('/calls-mode', { timezone: 'Pacific/Kiritimati' }, 'PUT'); // UTC+14: often already tomorrow
      const callId = await answeredCall();
      const startedAt = ((await control('/calls', undefined, 'GET')).json.calls as Array<{ startedAt: string }>)[0]?.startedAt ?? '';
      const local = new Date(Date.parse(startedAt) + 14 * 3_600_000).toISOString();
      const r = await callLog(undefined, local.slice(0, 10), local.slice(0, 10));
      expect((r.json.data as Array<Record<string, unknown>>)[0]).toMatchObject({ callid: callId, start_date: local.slice(0, 19).replace('T', ' ') });
    });
  });

  describe('recordings', () => {
    it('recordingPath answers 406 until recordingDelayMs after the end, then the URL, which serves a WAV', async () => {
      await control('/calls-mode', { recordingDelayMs: 600_000 }, 'PUT');
      const { callId } = await startCall({ from: CALLER, to: '101' });
      await control(`/calls/${callId}/answer`, { extension: '101' });
      expect((await manual('/info/TENANT/recordingPath', { callid: callId })).json).toEqual({
        status: 'FAILED',
        status_code: 406,
        message: 'No Recording Found',
      });
      await control(`/calls/${callId}/hangup`);
      expect((await manual('/info/TENANT/recordingPath', { callid: callId })).json.status_code).toBe(406);
      await control('/calls-mode', { recordingDelayMs: 0 }, 'PUT');
      const r = await manual('/info/TENANT/recordingPath', { callid: callId });
      expect(r.json).toMatchObject({ status: 'SUCCESS', message: 'Recording Path.' });
      const url = (r.json.data as { recordingPath: string }).recordingPath;
      expect(url).toBe(`${origin}/fs_sounds/recordings/0/1000/auto_rec/${today()}/${callId}.wav`);
      expect((await callLog()).json.data).toMatchObject([{ call_rec_path: url }]);
      const wav = await call(url, undefined, 'GET');
      expect([wav.status, wav.contentType]).toEqual([200, 'audio/wav']);
      expect(wav.bytes).toBeGreaterThan(44);
    });

    it('a missed call never has a recording; an unknown call id is 406 and a missing one 404', async () => {
      await control('/calls-mode', { recordingDelayMs: 0 }, 'PUT');
      const { callId } = await startCall({ from: CALLER, to: '5000' });
      await control(`/calls/${callId}/hangup`);
      expect((await manual('/info/TENANT/recordingPath', { callid: callId })).json.status_code).toBe(406);
      expect((await manual('/info/TENANT/recordingPath', { callid: '424242' })).json.status_code).toBe(406);
      expect((await manual('/info/TENANT/recordingPath')).json).toMatchObject({ status_code: 404, message: 'Missing Parameter' });
      expect((await call(`${origin}/fs_sounds/recordings/0/1000/auto_rec/${today()}/${callId}.wav`, undefined, 'GET')).status).toBe(404);
    });
  });

  describe('state callbacks', () => {
    it('when on for the call: answered to the answering extension, ended to it at hang-up', async () => {
      await subscribe('101', '102', '103');
      const { callId } = await startCall({ from: CALLER, to: '5000', stateCallbacks: true });
      await control(`/calls/${callId}/answer`, { extension: '103' });
      await control(`/calls/${callId}/hangup`);
      const events = callbacks().map((c) => [c.extension_number, c.event, c.call_id]);
      expect(events.slice(3)).toEqual([
        ['103', 'answered', callId],
        ['103', 'ended', callId],
      ]);
    });

    it('when on for the run: a missed call sends ended to every leg', async () => {
      await subscribe('104', '105');
      await control('/calls-mode', { sendStateCallbacks: true }, 'PUT');
      const { callId } = await startCall({ from: CALLER, to: '2000' });
      await control(`/calls/${callId}/hangup`);
      expect(callbacks().map((c) => [c.extension_number, c.event]).sort()).toEqual([
        ['104', 'ended'],
        ['104', 'ringing'],
        ['105', 'ended'],
        ['105', 'ringing'],
      ]);
    });

    it('off by default: only the ringing callbacks', async () => {
      await subscribe('101');
      const { callId } = await startCall({ from: CALLER, to: '101' });
      await control(`/calls/${callId}/answer`, { extension: '101' });
      await control(`/calls/${callId}/hangup`);
      expect(callbacks().map((c) => c.event)).toEqual(['ringing']);
    });
  });

  describe('control routes', () => {
    it('GET /_sim/calls shows every call since reset and the mode; reset clears them', async () => {
      const { callId } = await startCall({ from: CALLER, to: '5000', fromName: 'RAHUL' });
      const view = await control('/calls', undefined, 'GET');
      expect(view.json).toMatchObject({
        calls: [
          {
            callId,
            from: CALLER,
            fromName: 'RAHUL',
            to: '5000',
            via: { kind: 'ring_group', name: 'Sales', number: '5000' },
            legs: ['101', '102', '103'],
            phase: 'ringing',
            answeredBy: null,
            answeredAt: null,
            endedAt: null,
            withCallId: true,
            stateCallbacks: false,
          },
        ],
        mode: { activeCalls: 'ringing-legs', callLogFields: 'extended', recordingDelayMs: 3000, callLogDelayMs: 0, timezone: 'UTC' },
      });
      await control('/reset');
      expect((await control('/calls', undefined, 'GET')).json.calls).toEqual([]);
      expect((await manual('/info/TENANT/activeCalls')).json.data).toEqual([]);
    });

    it.each([
      [{ to: '5000' }, 'from'],
      [{ from: CALLER }, 'to'],
      [{ from: CALLER, to: '999' }, 'to'],
      [{ from: CALLER, to: '5000', withCallId: 'yes' }, 'withCallId'],
      [{ from: CALLER, to: '5000', stateCallbacks: 1 }, 'stateCallbacks'],
      [{ from: CALLER, to: '5000', fromName: {} }, 'fromName'],
    ])('POST /_sim/calls %j is a 400 naming %s', async (body, field) => {
      const r = await control('/calls', body);
      expect(r.status).toBe(400);
      expect(r.json.field).toBe(field);
      expect(String(r.json.error)).toContain(field);
    });

    it('answer / hang-up: 404 for an unknown call, 400 for an extension that is not ringing, 409 when it is too late', async () => {
      expect((await control('/calls/nope/answer', { extension: '101' })).status).toBe(404);
      expect((await control('/calls/nope/hangup')).status).toBe(404);
      const { callId } = await startCall({ from: CALLER, to: '5000' });
      const notRinging = await control(`/calls/${callId}/answer`, { extension: '104' });
      expect([notRinging.status, notRinging.json.field]).toEqual([400, 'extension']);
      expect((await control(`/calls/${callId}/answer`, {})).json.field).toBe('extension');
      expect((await control(`/calls/${callId}/answer`, { extension: '101' })).status).toBe(200);
      expect((await control(`/calls/${callId}/answer`, { extension: '102' })).status).toBe(409);
      expect((await control(`/calls/${callId}/hangup`)).status).toBe(200);
      expect((await control(`/calls/${callId}/hangup`)).status).toBe(409);
    });

    it.each([
      [{ activeCalls: 'all' }, 'activeCalls'],
      [{ callLogFields: 'everything' }, 'callLogFields'],
      [{ recordingDelayMs: -1 }, 'recordingDelayMs'],
      [{ callLogDelayMs: '5' }, 'callLogDelayMs'],
      [{ timezone: 'Mars/Olympus' }, 'timezone'],
      [{ sendStateCallbacks: 'on' }, 'sendStateCallbacks'],
    ])('PUT /_sim/calls-mode %j is a 400 naming %s, and changes nothing', async (body, field) => {
      const r = await control('/calls-mode', body, 'PUT');
      expect([r.status, r.json.field]).toEqual([400, field]);
      expect(sim.callsMode()).toMatchObject({ activeCalls: 'ringing-legs', callLogFields: 'extended', timezone: 'UTC' });
    });

    it('refuses a bad option at construction', () => {
      expect(() => createSimulator({ timezone: 'Nowhere/Land' })).toThrow(/timezone/);
    });
  });
});

describe('standalone simulator CLI', () => {
  const run = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/simulator/standalone.ts', ...args], { timeout: 15_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' }),
    );

  it('--help prints every option, the call listings among them, and exits 0', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    for (const option of ['--port', '--callback-url', '--active-calls', '--call-log-fields', '--recording-delay-ms', '--call-log-delay-ms', '--timezone', '--state-callbacks']) {
      expect(r.stdout).toContain(option);
    }
    expect(r.stdout).toContain('ringing-legs | connected-only | group-number');
  });

  it('a bad listing is refused with exit 2, naming the option', async () => {
    const r = await run('--active-calls', 'everything');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--active-calls must be one of');
  });
});
