/**
 * The PBX client's call endpoints (activeCalls, callLog, recordingPath, getRingGroup, getQueue) against a
 * real HTTP server that records what was sent, and against the simulator playing whole calls.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { startRecordingServer, type RecordedRequest } from '../helpers/recording-server.js';
import { eventually } from '../helpers/wait.js';
import { createPbxClient, type PbxClient, type PbxRequestOutcome } from '../../src/pbx/client.js';
import { PbxError, ValidationError } from '../../src/errors.js';
import { createSimulator, type Simulator } from '../../src/simulator/simulator.js';

const TOKEN = 'tok-SECRET-calls-1234';

type Respond = (req: IncomingMessage, res: ServerResponse) => void;

function answerJson(status: number, body: unknown): Respond {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
}

/** A recording server answering `respond`, and a client for it; both closed when the test finishes. */
async function against(respond: Respond, outcomes: PbxRequestOutcome[] = []): Promise<{ pbx: PbxClient; requests: RecordedRequest[] }> {
  const { origin, requests } = await startRecordingServer(respond);
  const pbx = createPbxClient({
    baseUrl: `${origin}/hodupbx_api/v1.4/api`,
    token: TOKEN,
    userType: 'TENANT',
    passwordFormat: 'md5',
    timeoutMs: 2000,
    onRequest: (_endpoint, outcome) => outcomes.push(outcome),
  });
  onTestFinished(() => pbx.close());
  return { pbx, requests };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, but the call succeeded');
}

function sent(requests: RecordedRequest[]): Array<{ method: string; url: string; body: unknown }> {
  return requests.map((r) => ({ method: r.method, url: r.url, body: JSON.parse(r.body) as unknown }));
}

describe('PBX client call endpoints, against a recording server', () => {
  it('activeCalls POSTs info/TENANT/activeCalls with the token and maps each row', async () => {
    const { pbx, requests } = await against(
      answerJson(200, {
        status: 'SUCCESS',
        message: 'Active Calls Details.',
        data: [
          { caller_number: '124', callee_number: '122', start_time: '2017-12-14 10:03:59' },
          { caller_number: 9824740472, callee_number: '5000', start_time: '-' },
        ],
      }),
    );
    expect(await pbx.activeCalls()).toEqual([
      {
        callerNumber: '124',
        calleeNumber: '122',
        startTime: '2017-12-14 10:03:59',
        raw: { caller_number: '124', callee_number: '122', start_time: '2017-12-14 10:03:59' },
      },
      { callerNumber: '9824740472', calleeNumber: '5000', startTime: null, raw: { caller_number: '9824740472', callee_number: '5000', start_time: '-' } },
    ]);
    expect(sent(requests)).toEqual([{ method: 'POST', url: '/hodupbx_api/v1.4/api/info/TENANT/activeCalls', body: { token_id: TOKEN } }]);
  });

  it.each([
    ['absent', { status: 'SUCCESS', message: 'Active Calls Details.' }],
    ['empty', { status: 'SUCCESS', message: 'Active Calls Details.', data: [] }],
    ['an empty string', { status: 'SUCCESS', message: 'Active Calls Details.', data: '' }],
  ])('activeCalls with data %s is an empty list', async (_what, body) => {
    const outcomes: PbxRequestOutcome[] = [];
    const { pbx } = await against(answerJson(200, body), outcomes);
    expect(await pbx.activeCalls()).toEqual([]);
    expect(outcomes).toEqual(['ok']);
  });

  it.each([
    [501, 'Authentication Failed'],
    [601, 'Data Not Found'],
  ])('activeCalls refused (%i) is a PBX_ERR_REJECTED with the status, never an empty list', async (code, message) => {
    const outcomes: PbxRequestOutcome[] = [];
    const { pbx } = await against(answerJson(200, { status: 'FAILED', status_code: code, message }), outcomes);
    const err = await rejection(pbx.activeCalls());
    expect(err).toBeInstanceOf(PbxError);
    expect([(err as PbxError).code, (err as PbxError).pbxStatus]).toEqual(['PBX_ERR_REJECTED', code]);
    expect((err as PbxError).message).not.toContain(TOKEN);
    expect(outcomes).toEqual(['rejected']);
  });

  it('callLog puts the dates in the path, the number in the body, and reads the manual row', async () => {
    const { pbx, requests } = await against(
      answerJson(200, {
        status: 'SUCCESS',
        message: 'Call Log Details.',
        data: [
          {
            tenant_id: '1000',
            start_date: '2017-12-14 10:03:33',
            end_date: '2017-12-14 10:03:59',
            caller: '124',
            callee: '122',
            forward: '122',
            incoming_call_charges: '0.00000',
            outgoing_call_charges: '0.00000',
          },
        ],
      }),
    );
    const rows = await pbx.callLog({ startDate: '2017-12-14', endDate: '2017-12-15', number: '122' });
    expect(rows).toEqual([
      {
        startDate: '2017-12-14 10:03:33',
        endDate: '2017-12-14 10:03:59',
        caller: '124',
        callee: '122',
        forward: '122',
        callId: null,
        uniqueToken: null,
        direction: null,
        callerName: null,
        calleeName: null,
        did: null,
        answerTime: null,
        callStatus: null,
        hangupBy: null,
        recordingPath: null,
        raw: {
          tenant_id: '1000',
          start_date: '2017-12-14 10:03:33',
          end_date: '2017-12-14 10:03:59',
          caller: '124',
          callee: '122',
          forward: '122',
          incoming_call_charges: '0.00000',
          outgoing_call_charges: '0.00000',
        },
      },
    ]);
    expect(sent(requests)).toEqual([
      { method: 'POST', url: '/hodupbx_api/v1.4/api/info/2017-12-14/2017-12-15/TENANT/callLog', body: { token_id: TOKEN, number: '122' } },
    ]);
  });

  it('callLog without a number sends only the token', async () => {
    const { pbx, requests } = await against(answerJson(200, { status: 'SUCCESS', data: [] }));
    expect(await pbx.callLog({ startDate: '2026-01-31', endDate: '2026-01-31' })).toEqual([]);
    expect(sent(requests)[0]?.body).toEqual({ token_id: TOKEN });
  });

  it('callLog reads the extra fields in any spelling, and "-" / "N/A" / "" as null', async () => {
    const { pbx } = await against(
      answerJson(200, {
        status: 'SUCCESS',
        data: [
          {
            start_date: '2026-03-01 09:00:00',
            end_date: '2026-03-01 09:01:10',
            caller: '09824740472',
            callee: '5000',
            forward: '102',
            CallID: 'c-77',
            'Unique Token': 'tok-u1',
            call_direction: 'inbound',
            caller_name: 'N/A',
            callee_name: 'Anjali',
            DID: '-',
            answer_time: '2026-03-01 09:00:12',
            call_status: 'ANSWERED',
            hangup_by: 'caller',
            call_rec_path: 'http://pbx/fs_sounds/recordings/c-77.wav',
          },
          { start_date: '2026-03-01 10:00:00', end_date: '-', caller: '124', callee: '', forward: 'n/a', answer_time: '-', call_status: 'NO ANSWER' },
        ],
      }),
    );
    const [answered, missed] = await pbx.callLog({ startDate: '2026-03-01', endDate: '2026-03-01' });
    expect(answered).toMatchObject({
      caller: '09824740472',
      callee: '5000',
      forward: '102',
      callId: 'c-77',
      uniqueToken: 'tok-u1',
      direction: 'inbound',
      callerName: null,
      calleeName: 'Anjali',
      did: null,
      answerTime: '2026-03-01 09:00:12',
      callStatus: 'ANSWERED',
      hangupBy: 'caller',
      recordingPath: 'http://pbx/fs_sounds/recordings/c-77.wav',
    });
    expect(answered?.raw.DID).toBe('-');
    expect(missed).toMatchObject({ endDate: null, callee: null, forward: null, answerTime: null, callStatus: 'NO ANSWER', callId: null });
  });

  it('callLog 411 "No Call Log Details Found" is an empty list and counts as ok, in the body or as the HTTP status', async () => {
    const outcomes: PbxRequestOutcome[] = [];
    const inBody = await against(answerJson(200, { status: 'FAILED', status_code: 411, message: 'No Call Log Details Found' }), outcomes);
    expect(await inBody.pbx.callLog({ startDate: '2026-03-01', endDate: '2026-03-02' })).toEqual([]);
    const asHttp = await against(answerJson(411, { status: 'FAILED', message: 'No Call Log Details Found' }), outcomes);
    expect(await asHttp.pbx.callLog({ startDate: '2026-03-01', endDate: '2026-03-02' })).toEqual([]);
    expect(outcomes).toEqual(['ok', 'ok']);
  });

  it.each([
    [412, 'Invalid Start Date'],
    [601, 'Data Not Found'],
  ])('callLog %i is a refusal, not "no rows" (only 411 means empty there)', async (code, message) => {
    const { pbx } = await against(answerJson(200, { status: 'FAILED', status_code: code, message }));
    const err = await rejection(pbx.callLog({ startDate: '2026-03-01', endDate: '2026-03-02' }));
    expect([(err as PbxError).code, (err as PbxError).pbxStatus]).toEqual(['PBX_ERR_REJECTED', code]);
  });

  it.each([
    [{ startDate: '2026-3-1', endDate: '2026-03-01' }, 'startDate'],
    [{ startDate: '2026-02-30', endDate: '2026-03-01' }, 'startDate'],
    [{ startDate: '2026-03-01', endDate: '01/03/2026' }, 'endDate'],
    [{ startDate: '2026-03-02', endDate: '2026-03-01' }, 'endDate'],
    [{ startDate: '2026-03-01', endDate: '2026-03-01', number: ' ' }, 'number'],
    [{ startDate: '../../x', endDate: '2026-03-01' }, 'startDate'],
  ])('callLog(%j) is refused before anything is sent, naming %s', async (query, field) => {
    const { pbx, requests } = await against(answerJson(200, { status: 'SUCCESS', data: [] }));
    const err = await rejection(pbx.callLog(query));
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    expect(requests).toEqual([]);
  });

  it('recordingPath POSTs the callid and reads data.recordingPath', async () => {
    const url = 'http://pbx.example.com/fs_sounds/recordings/0/1000/auto_rec/2017-12-15/4fa3.wav';
    const { pbx, requests } = await against(answerJson(200, { status: 'SUCCESS', message: 'Recording Path.', data: { recordingPath: url } }));
    expect(await pbx.recordingPath('49634')).toBe(url);
    expect(sent(requests)).toEqual([
      { method: 'POST', url: '/hodupbx_api/v1.4/api/info/TENANT/recordingPath', body: { token_id: TOKEN, callid: '49634' } },
    ]);
  });

  it('recordingPath 406 "No Recording Found" is null (not yet) and counts as ok', async () => {
    const outcomes: PbxRequestOutcome[] = [];
    const { pbx } = await against(answerJson(200, { status: 'FAILED', status_code: 406, message: 'No Recording Found' }), outcomes);
    expect(await pbx.recordingPath('49634')).toBeNull();
    expect(outcomes).toEqual(['ok']);
  });

  it('recordingPath with an empty callid is refused before anything is sent', async () => {
    const { pbx, requests } = await against(answerJson(200, { status: 'SUCCESS', data: { recordingPath: 'x' } }));
    expect(((await rejection(pbx.recordingPath(''))) as ValidationError).field).toBe('callId');
    expect(requests).toEqual([]);
  });

  it('getRingGroups / getQueues map the manual fields; 601 is an empty list', async () => {
    const answers: Record<string, unknown> = {
      '/hodupbx_api/v1.4/api/info/TENANT/getRingGroup': {
        status: 'SUCCESS',
        message: 'Ring Group Details.',
        count: '2',
        data: [
          { ring_group_id: '1', ring_group_name: 'RG_1', ring_group_extension: '5000' },
          { ring_group_id: 2, ring_group_name: 'RG_2', ring_group_extension: 5001 },
        ],
      },
      '/hodupbx_api/v1.4/api/info/TENANT/getQueue': { status: 'FAILED', status_code: 601, message: 'Data Not Found' },
    };
    const { pbx, requests } = await against((req, res) => answerJson(200, answers[req.url ?? ''] ?? {})(req, res));
    expect(await pbx.getRingGroups()).toEqual([
      { kind: 'ring_group', id: '1', name: 'RG_1', number: '5000' },
      { kind: 'ring_group', id: '2', name: 'RG_2', number: '5001' },
    ]);
    expect(await pbx.getQueues()).toEqual([]);
    expect(requests.map((r) => r.url)).toEqual(Object.keys(answers));
  });
});

describe('PBX client call endpoints, against the simulator playing a call', () => {
  let sim: Simulator;
  let pbx: PbxClient;
  beforeAll(async () => {
    sim = createSimulator({ token: TOKEN, recordingDelayMs: 0 });
    const { apiBaseUrl } = await sim.listen(0);
    pbx = createPbxClient({ baseUrl: apiBaseUrl, token: TOKEN, userType: 'TENANT', passwordFormat: 'md5', timeoutMs: 2000 });
  });
  afterAll(async () => {
    await pbx.close();
    await sim.close();
  });
  beforeEach(() => sim.reset());

  it('reads the seeded ring group and queue', async () => {
    expect(await pbx.getRingGroups()).toEqual([{ kind: 'ring_group', id: '1', name: 'Sales', number: '5000' }]);
    expect(await pbx.getQueues()).toEqual([{ kind: 'queue', id: '1', name: 'Support', number: '2000' }]);
  });

  it('a PBX outage limited to activeCalls is an error, not an empty list; the call log still answers', async () => {
    const { callId } = await sim.startCall({ from: '124', to: '101' });
    sim.setFault({ mode: 'down', endpoints: ['activeCalls'] });
    const err = await rejection(pbx.activeCalls());
    expect((err as PbxError).code).toBe('PBX_ERR_UNREACHABLE');
    await sim.hangupCall(callId);
    const today = new Date().toISOString().slice(0, 10);
    expect(await pbx.callLog({ startDate: today, endDate: today })).toMatchObject([{ callId, callStatus: 'NO ANSWER', answerTime: null }]);
    sim.setFault({ mode: 'none' });
    expect(await pbx.activeCalls()).toEqual([]);
  });

  it('reads a manual-only call log row: the extra fields are null', async () => {
    sim.setCallsMode({ callLogFields: 'manual' });
    const { callId } = await sim.startCall({ from: '124', to: '2000' });
    await sim.answerCall(callId, '105');
    await sim.hangupCall(callId);
    const today = new Date().toISOString().slice(0, 10);
    expect(await pbx.callLog({ startDate: today, endDate: today, number: '124' })).toMatchObject([
      { caller: '124', callee: '2000', forward: '105', callId: null, answerTime: null, callStatus: null, recordingPath: null },
    ]);
  });

  it('follows a ring-group call from activeCalls to the call log and the recording', async () => {
    sim.setCallsMode({ activeCalls: 'ringing-legs' });
    const { callId } = await sim.startCall({ from: '09824740472', to: '5000' });
    expect((await pbx.activeCalls()).map((c) => [c.callerNumber, c.calleeNumber])).toEqual([
      ['09824740472', '101'],
      ['09824740472', '102'],
      ['09824740472', '103'],
    ]);
    await sim.answerCall(callId, '102');
    expect((await pbx.activeCalls()).map((c) => c.calleeNumber)).toEqual(['102']);
    await sim.hangupCall(callId);
    expect(await pbx.activeCalls()).toEqual([]);
    const today = new Date().toISOString().slice(0, 10);
    const rows = await pbx.callLog({ startDate: today, endDate: today, number: '102' });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ caller: '09824740472', callee: '5000', forward: '102', callId, callStatus: 'ANSWERED' });
    expect(rows[0]?.answerTime).not.toBeNull();
    await eventually(async () => (await pbx.recordingPath(callId)) !== null, 2000, 'the recording');
    expect(await pbx.recordingPath(callId)).toMatch(new RegExp(`/fs_sounds/recordings/.*/${callId}\\.wav$`));
    expect(await pbx.callLog({ startDate: today, endDate: today, number: '555' })).toEqual([]);
  });
});
