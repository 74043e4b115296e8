/**
 * The HoduPBX client against the simulator (both error styles, MD5 and plain passwords) and against tiny
 * real http.Servers that misbehave on purpose. No mocks: real sockets throughout.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { startRecordingServer, type RecordedRequest } from '../helpers/recording-server.js';
import { createPbxClient, SLICED_LIST_MIN_BYTES, type PbxClient, type PbxClientOptions, type PbxRequestOutcome } from '../../src/pbx/client.js';
import { mapContact } from '../../src/pbx/mapping.js';
import { PbxError } from '../../src/errors.js';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/simulator.js';
import { DEMO_CONTACTS, DEMO_EXTENSIONS } from '../../src/simulator/seed.js';

const TOKEN = 'tok-SECRET-9f8e7d6c';
const PASSWORD = DEMO_EXTENSIONS['101'] ?? '';
const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

/** Fails unless the promise rejects with a PbxError; returns it. */
async function pbxError(promise: Promise<unknown>): Promise<PbxError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof PbxError) return err;
    throw err;
  }
  throw new Error('expected a PbxError, but the call succeeded');
}

/** No rendering of the error may carry the token, a password or the password's MD5. */
function expectNoSecrets(err: PbxError, secrets: string[] = [TOKEN, PASSWORD, md5(PASSWORD)]): void {
  const renderings = [err.message, String(err), JSON.stringify(err), err.stack ?? '', String(err.pbxMessage)];
  for (const text of renderings) {
    for (const secret of secrets) expect(text.toLowerCase()).not.toContain(secret.toLowerCase());
  }
}

function client(baseUrl: string, overrides: Partial<PbxClientOptions> = {}): PbxClient {
  const c = createPbxClient({ baseUrl, token: TOKEN, userType: 'TENANT', passwordFormat: 'md5', timeoutMs: 2000, ...overrides });
  return c;
}

async function simulatorWithClient(
  simOpts: SimulatorOptions,
  clientOpts: Partial<PbxClientOptions> = {},
): Promise<{ sim: Simulator; pbx: PbxClient; apiBaseUrl: string }> {
  const sim = createSimulator({ token: TOKEN, ...simOpts });
  afterAll(() => sim.close());
  const { apiBaseUrl } = await sim.listen(0);
  const pbx = client(apiBaseUrl, clientOpts);
  afterAll(() => pbx.close());
  return { sim, pbx, apiBaseUrl };
}


/** A real server that answers with `respond` (which may also never answer), recording each request. */
async function misbehavingServer(respond: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ baseUrl: string; requests: RecordedRequest[] }> {
  const { origin, requests } = await startRecordingServer(respond);
  return { baseUrl: `${origin}/hodupbx_api/v1.4/api`, requests };
}

function answerJson(status: number, body: unknown): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
}

/** A client for one test, closed when it finishes. */
function testClient(baseUrl: string, overrides: Partial<PbxClientOptions> = {}): PbxClient {
  const c = client(baseUrl, overrides);
  onTestFinished(() => c.close());
  return c;
}

describe('against the simulator, errors in the body, MD5 passwords (the defaults)', () => {
  let sim: Simulator;
  let pbx: PbxClient;
  const outcomes: Array<[string, PbxRequestOutcome]> = [];
  beforeAll(async () => {
    ({ sim, pbx } = await simulatorWithClient({}, { onRequest: (endpoint, outcome) => outcomes.push([endpoint, outcome]) }));
  });
  beforeEach(() => {
    sim.reset();
    outcomes.length = 0;
  });

  it('when the web password is right, then crmSubscribe succeeds and the PBX has the subscription', async () => {
    await pbx.crmSubscribe('101', PASSWORD);
    expect(sim.subscriptions()).toEqual(['101']);
    await pbx.crmUnSubscribe('101', PASSWORD);
    expect(sim.subscriptions()).toEqual([]);
    expect(outcomes).toEqual([
      ['crmSubscribe', 'ok'],
      ['crmUnSubscribe', 'ok'],
    ]);
  });

  it('when the web password is wrong, then PBX_ERR_REJECTED with the manual 406 and its message', async () => {
    const err = await pbxError(pbx.crmSubscribe('101', 'wrong-password'));
    expect(err.code).toBe('PBX_ERR_REJECTED');
    expect(err.isRejection).toBe(true);
    expect(err.pbxStatus).toBe(406);
    expect(err.pbxMessage).toBe('Invalid extension_password');
    expect(err.endpoint).toBe('crmSubscribe');
    expect(err.message).toContain('crmSubscribe');
    expectNoSecrets(err, [TOKEN, 'wrong-password', md5('wrong-password')]);
    expect(outcomes).toEqual([['crmSubscribe', 'rejected']]);
  });

  it('when the extension is unknown, then 406 naming extension_number', async () => {
    const err = await pbxError(pbx.crmSubscribe('999', PASSWORD));
    expect([err.code, err.pbxStatus, err.pbxMessage]).toEqual(['PBX_ERR_REJECTED', 406, 'Invalid extension_number']);
    expectNoSecrets(err);
  });

  it('maps every phonebook field of the manual', async () => {
    const contacts = await pbx.getPhoneNumber();
    expect(contacts).toHaveLength(DEMO_CONTACTS.length);
    expect(contacts[0]).toEqual({
      phonebookId: '41',
      firstName: 'Nisha',
      lastName: 'Patel',
      displayName: 'Nisha Patel',
      extension: '101',
      phoneNumber: '98988778',
      cellNumber: '78768876',
      email: 'nisha.patel@example.com',
      phoneGroup: '3',
      customFields: { Company: 'Ecosmob', City: 'Abd', 'Office No': '9879973234' },
    });
    expect(contacts.find((c) => c.phonebookId === '54')?.customFields).toMatchObject({ Mobile: '+91 90990 55667' });
    expect(sim.requestCounts().getPhoneNumber).toBe(1);
  });

  it('reads lenient entries: JSON numbers, nulls, missing fields, array or odd custom details', async () => {
    sim.setContacts([
      {
        'Phonebook ID': 7,
        'First Name': 'Ravi',
        'Last Name': null,
        'Display Name': '',
        Extension: 105,
        'Phone Number': 9824740472,
        'Email ID': null,
        'Phone Group': 2,
        'Custom Details': { Company: 'Hodusoft', Employees: 40, Vip: true, Nested: { a: 1 }, Missing: null },
      },
      { 'Phonebook ID': '8', 'First Name': 'Asha', 'Last Name': 'Rao', 'Custom Details': [] },
      { 'Phonebook ID': '9', 'Display Name': 'Front desk', 'Custom Details': [{ 'Field Name': 'City', 'Field Value': 'Pune' }] },
    ]);
    const contacts = await pbx.getPhoneNumber();
    expect(contacts).toEqual([
      {
        phonebookId: '7',
        firstName: 'Ravi',
        lastName: '',
        displayName: 'Ravi',
        extension: '105',
        phoneNumber: '9824740472',
        cellNumber: '',
        email: '',
        phoneGroup: '2',
        customFields: { Company: 'Hodusoft', Employees: '40', Vip: 'true' },
      },
      {
        phonebookId: '8',
        firstName: 'Asha',
        lastName: 'Rao',
        displayName: 'Asha Rao',
        extension: '',
        phoneNumber: '',
        cellNumber: '',
        email: '',
        phoneGroup: '',
        customFields: {},
      },
      {
        phonebookId: '9',
        firstName: '',
        lastName: '',
        displayName: 'Front desk',
        extension: '',
        phoneNumber: '',
        cellNumber: '',
        email: '',
        phoneGroup: '',
        customFields: { City: 'Pune' },
      },
    ]);
  });

  it('when the phonebook is empty (601 Data Not Found), then getPhoneNumber returns []', async () => {
    sim.setContacts([]);
    expect(await pbx.getPhoneNumber()).toEqual([]);
    expect(outcomes).toEqual([['getPhoneNumber', 'ok']]);
  });

  it('maps extensions: the number is what follows the last "-" of ext_name', async () => {
    const extensions = await pbx.getExtensions();
    expect(extensions).toHaveLength(10);
    expect(extensions[1]).toEqual({ id: expect.any(String), name: '102_sales-102', number: '102' });
    expect(extensions.map((e) => e.number)).toEqual(Object.keys(DEMO_EXTENSIONS));
  });

  it('maps custom field definitions', async () => {
    expect(await pbx.getPhonebookCustomFields()).toEqual([
      { name: 'Company', type: 'DropDownList', required: false, items: ['Hodusoft', 'Ecosmob', 'Acme Corp', 'Globex'] },
      { name: 'City', type: 'Text', required: true, maxLength: 10 },
      { name: 'Office No', type: 'Text', required: false, maxLength: 20 },
    ]);
  });

  it('createNumber sends the manual field names: the new entry comes back from getPhoneNumber', async () => {
    const result = await pbx.createNumber({
      firstName: 'Kavya',
      lastName: 'Menon',
      displayName: 'Kavya M',
      phoneNumber: '0484 2345678',
      cellNumber: '',
      email: 'kavya@example.com',
      customFields: { City: 'Kochi', Company: 'Globex' },
    });
    expect(result).toEqual({ phonebookId: null });
    const created = (await pbx.getPhoneNumber()).find((c) => c.firstName === 'Kavya');
    expect(created).toMatchObject({
      displayName: 'Kavya M',
      lastName: 'Menon',
      phoneNumber: '0484 2345678',
      cellNumber: '',
      email: 'kavya@example.com',
      customFields: { City: 'Kochi', Company: 'Globex' },
    });
    expect(outcomes.at(0)).toEqual(['createNumber', 'ok']);
  });

  it('createNumber refusals carry the manual codes: 605 Already Exists, 602 for a missing required field', async () => {
    const exists = await pbxError(pbx.createNumber({ firstName: 'A', lastName: 'B', phoneNumber: '+91 98247 40472', customFields: { City: 'X' } }));
    expect([exists.code, exists.pbxStatus, exists.pbxMessage]).toEqual(['PBX_ERR_REJECTED', 605, 'Already Exists']);
    const empty = await pbxError(pbx.createNumber({ firstName: 'A', lastName: 'B', phoneNumber: '0484 2345679' }));
    expect([empty.pbxStatus, empty.pbxMessage]).toEqual([602, 'City Can Not Be Empty']);
    expectNoSecrets(empty);
  });

  it('when the simulator answers garbage, then PBX_ERR_BAD_RESPONSE', async () => {
    sim.setFault({ mode: 'garbage' });
    const err = await pbxError(pbx.getPhoneNumber());
    expect(err.code).toBe('PBX_ERR_BAD_RESPONSE');
    expect(outcomes).toEqual([['getPhoneNumber', 'bad_response']]);
  });

  it('when the simulator drops connections, then PBX_ERR_UNREACHABLE', async () => {
    sim.setFault({ mode: 'down' });
    const err = await pbxError(pbx.crmSubscribe('101', PASSWORD));
    expect(err.code).toBe('PBX_ERR_UNREACHABLE');
    expectNoSecrets(err);
  });

  it('when the simulator answers 503 with a page, then PBX_ERR_BAD_RESPONSE with pbxStatus 503', async () => {
    sim.setFault({ mode: 'down', httpStatus: 503 });
    const err = await pbxError(pbx.getExtensions());
    expect([err.code, err.pbxStatus]).toEqual(['PBX_ERR_BAD_RESPONSE', 503]);
  });
});

describe('against the simulator, codes as HTTP statuses, plain passwords', () => {
  let sim: Simulator;
  let pbx: PbxClient;
  let apiBaseUrl: string;
  beforeAll(async () => {
    ({ sim, pbx, apiBaseUrl } = await simulatorWithClient({ errorStyle: 'http', passwordFormat: 'plain' }, { passwordFormat: 'plain' }));
  });
  beforeEach(() => sim.reset());

  it('subscribes with the plain password', async () => {
    await pbx.crmSubscribe('102', DEMO_EXTENSIONS['102'] ?? '');
    expect(sim.subscriptions()).toEqual(['102']);
  });

  it('reads the 406 from the HTTP status', async () => {
    const err = await pbxError(pbx.crmSubscribe('102', 'nope'));
    expect([err.code, err.pbxStatus, err.pbxMessage]).toEqual(['PBX_ERR_REJECTED', 406, 'Invalid extension_password']);
    expectNoSecrets(err, [TOKEN, 'nope']);
  });

  it('reads 601 from the HTTP status as an empty list', async () => {
    sim.setContacts([]);
    expect(await pbx.getPhoneNumber()).toEqual([]);
  });

  it('a client sending MD5 to a PBX expecting plain passwords is refused', async () => {
    const md5Client = testClient(apiBaseUrl, { passwordFormat: 'md5' });
    const err = await pbxError(md5Client.crmSubscribe('102', DEMO_EXTENSIONS['102'] ?? ''));
    expect(err.pbxStatus).toBe(406);
  });

  it('a wrong token gets 603 and a wrong userType 604, without the token in the error', async () => {
    const wrongToken = testClient(apiBaseUrl, { token: 'other-token-123' });
    const e603 = await pbxError(wrongToken.getPhoneNumber());
    expect([e603.code, e603.pbxStatus, e603.pbxMessage]).toEqual(['PBX_ERR_REJECTED', 603, 'Authentication Failed']);
    expectNoSecrets(e603, ['other-token-123']);
    const wrongType = testClient(apiBaseUrl, { userType: 'RESELLER' });
    const e604 = await pbxError(wrongType.getExtensions());
    expect([e604.code, e604.pbxStatus]).toEqual(['PBX_ERR_REJECTED', 604]);
    expectNoSecrets(e604);
  });

  it('a wrong base URL gets 424 Method Failed', async () => {
    const wrongPath = testClient(`${apiBaseUrl}/v2`);
    const err = await pbxError(wrongPath.getPhoneNumber());
    expect([err.code, err.pbxStatus, err.pbxMessage]).toEqual(['PBX_ERR_REJECTED', 424, 'Method Failed']);
  });
});

describe('against servers that misbehave on purpose', () => {
  it('sends a JSON POST with token_id, the extension and the lower-case MD5, to the manual paths', async () => {
    const srv = await misbehavingServer(answerJson(200, { status: 'SUCCESS', message: 'ok' }));
    const pbx = testClient(`${srv.baseUrl}/`);
    await pbx.crmSubscribe('122', PASSWORD);
    await pbx.crmUnSubscribe('122', PASSWORD);
    await pbx.getPhoneNumber();
    await pbx.getPhonebookCustomFields();
    await pbx.getExtensions();
    expect(srv.requests.map((r) => [r.method, r.url, r.contentType])).toEqual([
      ['POST', '/hodupbx_api/v1.4/api/info/crmSubscribe', 'application/json'],
      ['POST', '/hodupbx_api/v1.4/api/info/crmUnSubscribe', 'application/json'],
      ['POST', '/hodupbx_api/v1.4/api/info/TENANT/getPhoneNumber', 'application/json'],
      ['POST', '/hodupbx_api/v1.4/api/info/getPhonebookCustomfield', 'application/json'],
      ['POST', '/hodupbx_api/v1.4/api/info/TENANT/getExtension', 'application/json'],
    ]);
    const subscribeBody: unknown = JSON.parse(srv.requests[0]?.body ?? '');
    expect(subscribeBody).toEqual({ token_id: TOKEN, extension_number: '122', extension_password: md5(PASSWORD) });
    expect(md5(PASSWORD)).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.parse(srv.requests[2]?.body ?? '')).toEqual({ token_id: TOKEN });
  });

  it('with passwordFormat plain, sends the web password as given', async () => {
    const srv = await misbehavingServer(answerJson(200, { status: 'SUCCESS' }));
    await testClient(srv.baseUrl, { passwordFormat: 'plain' }).crmSubscribe('122', 'Pl@in pass');
    expect(JSON.parse(srv.requests[0]?.body ?? '')).toMatchObject({ extension_password: 'Pl@in pass' });
  });

  it('when a 200 answer is not JSON, then PBX_ERR_BAD_RESPONSE', async () => {
    const srv = await misbehavingServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Welcome</body></html>');
    });
    const err = await pbxError(testClient(srv.baseUrl).getPhoneNumber());
    expect(err.code).toBe('PBX_ERR_BAD_RESPONSE');
    expect(err.pbxStatus).toBeNull();
    expectNoSecrets(err);
  });

  it('when the answer is HTTP 500 with an HTML page, then PBX_ERR_BAD_RESPONSE with pbxStatus 500', async () => {
    const srv = await misbehavingServer((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end(`<html><body>Internal Server Error</body></html>`);
    });
    const err = await pbxError(testClient(srv.baseUrl).crmSubscribe('101', PASSWORD));
    expect([err.code, err.pbxStatus]).toEqual(['PBX_ERR_BAD_RESPONSE', 500]);
    expect(err.message).toContain('500');
    expectNoSecrets(err);
  });

  it('when the server never answers, then PBX_ERR_TIMEOUT within timeoutMs', async () => {
    const srv = await misbehavingServer(() => undefined);
    const outcomes: PbxRequestOutcome[] = [];
    const pbx = testClient(srv.baseUrl, { timeoutMs: 300, onRequest: (_e, outcome) => outcomes.push(outcome) });
    const started = performance.now();
    const err = await pbxError(pbx.crmSubscribe('101', PASSWORD));
    const elapsed = performance.now() - started;
    expect(err.code).toBe('PBX_ERR_TIMEOUT');
    expect(elapsed).toBeGreaterThanOrEqual(250);
    // Generous: it must give up near its deadline rather than hang, whatever the machine's load.
    expect(elapsed).toBeLessThan(5000);
    expect(outcomes).toEqual(['timeout']);
    expectNoSecrets(err);
  });

  it('when the headers come but the body never ends, then PBX_ERR_TIMEOUT too', async () => {
    const srv = await misbehavingServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"status":"SUCCESS","data":[');
    });
    const started = performance.now();
    const err = await pbxError(testClient(srv.baseUrl, { timeoutMs: 300 }).getPhoneNumber());
    expect(err.code).toBe('PBX_ERR_TIMEOUT');
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('when the connection is refused, then PBX_ERR_UNREACHABLE', async () => {
    // Take a free port, then close it so nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const outcomes: PbxRequestOutcome[] = [];
    const pbx = testClient(`http://127.0.0.1:${port}/hodupbx_api/v1.4/api`, { onRequest: (_e, o) => outcomes.push(o) });
    const err = await pbxError(pbx.crmSubscribe('101', PASSWORD));
    expect(err.code).toBe('PBX_ERR_UNREACHABLE');
    expect(err.message).toContain('ECONNREFUSED');
    expect(outcomes).toEqual(['unreachable']);
    expectNoSecrets(err);
  });

  it('when a 200 body says FAILED with a 406 message, then PBX_ERR_REJECTED with pbxStatus 406', async () => {
    const srv = await misbehavingServer(answerJson(200, { status: 'FAILED', status_code: '406', message: 'Invalid extension_password' }));
    const err = await pbxError(testClient(srv.baseUrl).crmSubscribe('101', PASSWORD));
    expect([err.code, err.pbxStatus, err.pbxMessage]).toEqual(['PBX_ERR_REJECTED', 406, 'Invalid extension_password']);
    expect(err.message).toBe('PBX crmSubscribe refused: 406 Invalid extension_password');
    expectNoSecrets(err);
  });

  it.each([
    ['statusCode', { status: 'FAILED', statusCode: 406, message: 'Not Acceptable' }],
    ['code', { status: 'FAILED', code: 406, message: 'Not Acceptable' }],
    ['a numeric status', { status: 406, message: 'Not Acceptable' }],
  ])('reads the code from %s', async (_name, body) => {
    const srv = await misbehavingServer(answerJson(200, body));
    const err = await pbxError(testClient(srv.baseUrl).crmSubscribe('101', PASSWORD));
    expect([err.code, err.pbxStatus]).toEqual(['PBX_ERR_REJECTED', 406]);
  });

  it('when HTTP 406 carries a FAILED body without a code, then the HTTP status is the code', async () => {
    const srv = await misbehavingServer(answerJson(406, { status: 'FAILED', message: 'Invalid extension_number' }));
    const err = await pbxError(testClient(srv.baseUrl).crmSubscribe('101', PASSWORD));
    expect([err.code, err.pbxStatus, err.pbxMessage]).toEqual(['PBX_ERR_REJECTED', 406, 'Invalid extension_number']);
  });

  it('when HTTP 406 carries a SUCCESS body, it is still a failure', async () => {
    const srv = await misbehavingServer(answerJson(406, { status: 'SUCCESS', message: 'odd' }));
    const err = await pbxError(testClient(srv.baseUrl).crmSubscribe('101', PASSWORD));
    expect([err.code, err.pbxStatus]).toEqual(['PBX_ERR_REJECTED', 406]);
  });

  it('when the PBX echoes the token or password in its message, they are redacted', async () => {
    const srv = await misbehavingServer(
      answerJson(200, { status: 'FAILED', status_code: 406, message: `Invalid token_id ${TOKEN} / ${PASSWORD} / ${md5(PASSWORD).toUpperCase()}` }),
    );
    const err = await pbxError(testClient(srv.baseUrl).crmSubscribe('101', PASSWORD));
    expect(err.pbxMessage).toBe('Invalid token_id *** / *** / ***');
    expectNoSecrets(err);
  });

  it('when a 200 JSON answer has no status at all, then PBX_ERR_BAD_RESPONSE', async () => {
    const srv = await misbehavingServer(answerJson(200, { hello: 'world' }));
    expect((await pbxError(testClient(srv.baseUrl).getPhoneNumber())).code).toBe('PBX_ERR_BAD_RESPONSE');
  });

  it('when the JSON is an array, then PBX_ERR_BAD_RESPONSE', async () => {
    const srv = await misbehavingServer(answerJson(200, [1, 2]));
    expect((await pbxError(testClient(srv.baseUrl).getPhoneNumber())).code).toBe('PBX_ERR_BAD_RESPONSE');
  });

  it('when "data" is not a list, then PBX_ERR_BAD_RESPONSE', async () => {
    const srv = await misbehavingServer(answerJson(200, { status: 'SUCCESS', Count: 1, data: 'oops' }));
    const outcomes: PbxRequestOutcome[] = [];
    const err = await pbxError(testClient(srv.baseUrl, { onRequest: (_e, o) => outcomes.push(o) }).getPhoneNumber());
    expect(err.code).toBe('PBX_ERR_BAD_RESPONSE');
    expect(outcomes).toEqual(['bad_response']);
  });

  it('when a SUCCESS list answer has no data, then the list is empty', async () => {
    const srv = await misbehavingServer(answerJson(200, { status: 'SUCCESS', message: 'Extension Details.', count: 0 }));
    expect(await testClient(srv.baseUrl).getExtensions()).toEqual([]);
  });

  it("reads the manual's own example answer, trailing commas included", async () => {
    const manualExample = `{
 "status": "SUCCESS",
 "message": "Phonebook Details:",
 "Count": 1,
 "data": [
 {
"Phonebook ID": "41",
"First Name": "Nisha",
"Last Name": "Patel",
"Display Name": "Nisha Patel",
"Extension": "101",
"Phone Number": "98988778",
"Cell Number": "78768876",
"Email ID": "nisha.patel@hodusoft.com",
"Phone Group": "3",
"Custom Details": {
  "Company": "Ecosmob",
  "City": "Abd",
  "Office No": "9879973234",
}
}
]
}`;
    const srv = await misbehavingServer(answerJson(200, manualExample));
    const [nisha] = await testClient(srv.baseUrl).getPhoneNumber();
    expect(nisha).toMatchObject({ phonebookId: '41', email: 'nisha.patel@hodusoft.com', customFields: { 'Office No': '9879973234' } });
  });

  it('a 601 answered with HTTP 200 on a list endpoint is an empty list; on crmSubscribe it is a refusal', async () => {
    const srv = await misbehavingServer(answerJson(200, { status: 'FAILED', status_code: 601, message: 'Data Not Found' }));
    const pbx = testClient(srv.baseUrl);
    expect(await pbx.getPhonebookCustomFields()).toEqual([]);
    expect((await pbxError(pbx.crmSubscribe('101', PASSWORD))).pbxStatus).toBe(601);
  });

  it('extension names without a "-" are their own number; entries that are not objects are skipped', async () => {
    const srv = await misbehavingServer(
      answerJson(200, { status: 'SUCCESS', data: [{ ext_id: 645, ext_name: '1001103-1001103' }, 'junk', null, { ext_id: '9', ext_name: '118' }] }),
    );
    expect(await testClient(srv.baseUrl).getExtensions()).toEqual([
      { id: '645', name: '1001103-1001103', number: '1001103' },
      { id: '9', name: '118', number: '118' },
    ]);
  });

  describe('large answers (read in slices while they arrive)', () => {
    /** n phonebook entries with awkward but valid content. */
    function bigPhonebook(n: number): Record<string, unknown>[] {
      return Array.from({ length: n }, (_, i) => ({
        'Phonebook ID': String(i + 1),
        'First Name': i % 7 === 0 ? 'Zoë "Z" {Ångström}' : `First${i}`,
        'Last Name': i % 11 === 0 ? 'back\\slash ], [' : '日本',
        'Display Name': '',
        Extension: i % 13 === 0 ? 101 : '',
        'Phone Number': `+91 98${String(i).padStart(8, '0')}`,
        'Cell Number': i % 5 === 0 ? null : `0${7000000000 + i}`,
        'Email ID': `user${i}@example.com`,
        'Phone Group': '1',
        'Custom Details': i % 3 === 0 ? [] : { Company: 'Ecosmob, "Inc"', City: 'Abd 😀', 'Office No': `98799${i}` },
      }));
    }

    function serveText(status: number, text: string): (req: IncomingMessage, res: ServerResponse) => void {
      return (_req, res) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        // Several writes, as a PBX streaming its answer would.
        const bytes = Buffer.from(text);
        for (let at = 0; at < bytes.length; at += 100_000) res.write(bytes.subarray(at, at + 100_000));
        res.end();
      };
    }

    it('map exactly as one parse of the whole text would: data before status, trailing commas, unicode', async () => {
      const entries = bigPhonebook(6000);
      const dataJson = JSON.stringify(entries, null, 1)
        // The manual's trailing commas, inside entries and after the last one.
        .replace(/"Office No": ("[^"]*")/g, '"Office No": $1,')
        .replace(/\}\n\]$/, '},\n]');
      const text = `\uFEFF{"data": ${dataJson},\n "status": "SUCCESS", "message": "Phonebook Details:", "Count": ${entries.length},}`;
      expect(Buffer.byteLength(text)).toBeGreaterThan(SLICED_LIST_MIN_BYTES);
      const srv = await misbehavingServer(serveText(200, text));
      const got = await testClient(srv.baseUrl).getPhoneNumber();
      expect(got).toEqual(entries.map(mapContact));
      expect(got[7]).toMatchObject({ firstName: 'Zoë "Z" {Ångström}', customFields: { City: 'Abd 😀' } });
    });

    it('with onBatch, a large phonebook is handed over in batches as it is read, each contact once, in order', async () => {
      const entries = bigPhonebook(6000);
      const text = JSON.stringify({ status: 'SUCCESS', message: 'Phonebook Details:', Count: entries.length, data: entries });
      const srv = await misbehavingServer(serveText(200, text));
      const batches: number[] = [];
      const got: unknown[] = [];
      const rest = await testClient(srv.baseUrl).getPhoneNumber(async (batch) => {
        batches.push(batch.length);
        got.push(...batch);
      });
      expect(rest).toEqual([]);
      expect(batches.length).toBeGreaterThan(1);
      expect(got).toEqual(entries.map(mapContact));
      // A small answer goes to onBatch in one piece.
      const small = await misbehavingServer(serveText(200, JSON.stringify({ status: 'SUCCESS', data: entries.slice(0, 3) })));
      const one: unknown[][] = [];
      expect(await testClient(small.baseUrl).getPhoneNumber(async (b) => void one.push(b))).toEqual([]);
      expect(one).toEqual([entries.slice(0, 3).map(mapContact)]);
    });

    it('with onBatch (parsed while it arrives): a refusal after the data is the refusal, a broken or doubled list is PBX_ERR_BAD_RESPONSE', async () => {
      const data = JSON.stringify(bigPhonebook(6000));
      const noop = async (): Promise<void> => undefined;
      const refusal = `{"data":${data},"status":"FAILED","status_code":603,"message":"Authentication Failed for ${TOKEN}"}`;
      const r1 = await misbehavingServer(serveText(200, refusal));
      const err = await pbxError(testClient(r1.baseUrl).getPhoneNumber(noop));
      expect(err).toMatchObject({ code: 'PBX_ERR_REJECTED', pbxStatus: 603 });
      expectNoSecrets(err);
      const broken = `{"status":"SUCCESS","data":${data.slice(0, -200)}`;
      const r2 = await misbehavingServer(serveText(200, broken));
      expect((await pbxError(testClient(r2.baseUrl).getPhoneNumber(noop))).code).toBe('PBX_ERR_BAD_RESPONSE');
      // Two data arrays: JSON.parse would take the second, but the first was handed over already.
      const doubled = `{"status":"SUCCESS","data":${data},"data":[]}`;
      const r3 = await misbehavingServer(serveText(200, doubled));
      expect((await pbxError(testClient(r3.baseUrl).getPhoneNumber(noop))).code).toBe('PBX_ERR_BAD_RESPONSE');
      // What onBatch throws comes out as it is.
      const ok = `{"status":"SUCCESS","data":${data}}`;
      const r4 = await misbehavingServer(serveText(200, ok));
      const thrown = new Error('index full');
      await expect(testClient(r4.baseUrl).getPhoneNumber(async () => Promise.reject(thrown))).rejects.toBe(thrown);
    });

    it('a large refusal is still a refusal with the PBX code and no secret; a large broken body is PBX_ERR_BAD_RESPONSE', async () => {
      const data = JSON.stringify(bigPhonebook(5000));
      const refusal = `{"status":"FAILED","status_code":603,"message":"Authentication Failed for ${TOKEN}","data":${data}}`;
      const srv = await misbehavingServer(serveText(200, refusal));
      const pbx = testClient(srv.baseUrl);
      const err = await pbxError(pbx.getPhoneNumber());
      expect(err).toMatchObject({ code: 'PBX_ERR_REJECTED', pbxStatus: 603 });
      expectNoSecrets(err);

      const broken = `{"status":"SUCCESS","data":${data.replace('"Phonebook ID":"4000"', '"Phonebook ID":4000x')}}`;
      const srv2 = await misbehavingServer(serveText(200, broken));
      expect(await pbxError(testClient(srv2.baseUrl).getPhoneNumber())).toMatchObject({ code: 'PBX_ERR_BAD_RESPONSE', pbxStatus: null });

      const notFound = `{"status":"FAILED","status_code":601,"message":"Data Not Found","padding":"${'x'.repeat(SLICED_LIST_MIN_BYTES)}"}`;
      const srv3 = await misbehavingServer(serveText(200, notFound));
      expect(await testClient(srv3.baseUrl).getPhoneNumber()).toEqual([]);

      const page = `<html><body>${'<p>502 Bad Gateway</p>'.repeat(60_000)}</body></html>`;
      const srv4 = await misbehavingServer(serveText(502, page));
      expect(await pbxError(testClient(srv4.baseUrl).getPhoneNumber())).toMatchObject({ code: 'PBX_ERR_BAD_RESPONSE', pbxStatus: 502 });
    });

    it('a large "data" that is a keyed object (PHP) is read whole, as before', async () => {
      const entries = bigPhonebook(5000);
      const keyed = Object.fromEntries(entries.map((e, i) => [String(i * 2), e]));
      const srv = await misbehavingServer(serveText(200, JSON.stringify({ status: 'SUCCESS', data: keyed })));
      expect(await testClient(srv.baseUrl).getPhoneNumber()).toEqual(entries.map(mapContact));
    });
  });
});

