/**
 * Saving a contact from the pop: POST /api/contacts creates it at the PBX (the simulator's createNumber,
 * written from the manual) and the next call from its number pops it, on the instance that created it and,
 * with Redis, on another one, without a phonebook refresh. Every error answer, and the custom-field list.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { DEMO_CONTACTS, DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { admin, createHarness, login, postJson, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { openAgentSocket, type AgentSocket, type Frame } from '../helpers/ws-client.js';

const pw = (ext: string): string => DEMO_EXTENSIONS[ext] ?? '';

async function ringingContact(socket: AgentSocket, from: string): Promise<Record<string, unknown> | null> {
  await socket.waitFor((f) => f.some((x) => x.type === 'call.ringing' && (x.data as { call: { fromRaw: string } }).call.fromRaw === from));
  const event = socket.events().find((x) => x.type === 'call.ringing' && (x.data as { call: { fromRaw: string } }).call.fromRaw === from) as Frame & {
    data: { contact: Record<string, unknown> | null };
  };
  return event.data.contact;
}

function ring(bridge: Bridge, extension: string, from: string) {
  return postJson(`${bridge.url}/pbx/callback?secret=${SECRETS.callbackSecret}`, { extension, from, callId: randomUUID(), state: 'ringing' });
}

const newContact = (phoneNumber: string) => ({
  firstName: 'Kavya',
  lastName: 'Menon',
  phoneNumber,
  email: 'kavya.menon@example.com',
  customFields: { City: 'Kochi', Company: 'Globex' },
});

describe('POST /api/contacts in memory mode', () => {
  let h: Harness;
  let bridge: Bridge;
  let token: string;
  const sockets: AgentSocket[] = [];

  beforeAll(async () => {
    h = await createHarness();
    bridge = await h.startBridge({ DEFAULT_COUNTRY: 'IN' });
    token = await login(bridge.url, '103', pw('103'));
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await h.close();
  });
  const auth = () => ({ authorization: `Bearer ${token}` });

  it('when an agent saves an unknown caller, then the PBX has it and the next call pops it at once', async () => {
    const socket = await openAgentSocket(bridge.url, token);
    sockets.push(socket);
    await ring(bridge, '103', '09447011111');
    expect(await ringingContact(socket, '09447011111')).toBeNull();
    const refreshesBefore = h.simulator.requestCounts().getPhoneNumber;

    const r = await postJson(`${bridge.url}/api/contacts`, newContact('09447011111'), auth());
    expect(r.status).toBe(201);
    expect(r.body.contact).toMatchObject({ displayName: 'Kavya Menon', firstName: 'Kavya', phoneNumber: '09447011111', customFields: { City: 'Kochi' } });
    expect(h.simulator.requestCounts().createNumber).toBe(1);

    await ring(bridge, '103', '+91 94470 11111');
    expect(await ringingContact(socket, '+91 94470 11111')).toMatchObject({ displayName: 'Kavya Menon', match: 'exact', email: 'kavya.menon@example.com' });
    expect(h.simulator.requestCounts().getPhoneNumber).toBe(refreshesBefore);
  });

  it('when the admin key saves a contact, then it is accepted too', async () => {
    const r = await postJson(`${bridge.url}/api/contacts`, { ...newContact(''), cellNumber: '+91 90000 22222' }, admin);
    expect(r.status).toBe(201);
  });

  it('when the request is incomplete or wrong, then the answer is 400 naming the field', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...newContact('09447033333'), firstName: ' ' }, 'firstName'],
      [{ ...newContact('09447033333'), lastName: undefined }, 'lastName'],
      [{ ...newContact('') }, 'phoneNumber'],
      [{ ...newContact('call me') }, 'phoneNumber'],
      [{ ...newContact(''), cellNumber: 'x' }, 'cellNumber'],
      [{ ...newContact('09447033333'), email: 'not-an-address' }, 'email'],
      [{ ...newContact('09447033333'), customFields: { Company: 'Globex' } }, 'customFields.City'],
      [{ ...newContact('09447033333'), customFields: { City: 'Kochi', Company: 'Initech' } }, 'customFields.Company'],
      [{ ...newContact('09447033333'), customFields: { City: 'Kochi', Shoe: '42' } }, 'customFields.Shoe'],
      [{ ...newContact('09447033333'), customFields: { City: 'Kochi', Company: 7 } }, 'customFields.Company'],
    ];
    for (const [body, field] of cases) {
      const r = await postJson(`${bridge.url}/api/contacts`, body, auth());
      expect({ field, status: r.status, answer: r.body.field }).toEqual({ field, status: 400, answer: field });
      expect(String(r.body.message)).toContain(field);
    }
    expect(h.simulator.requestCounts().createNumber).toBe(2);
  });

  it('when there is no token or a forged one, then the answer is 401', async () => {
    expect((await postJson(`${bridge.url}/api/contacts`, newContact('09447033333'))).status).toBe(401);
    expect((await postJson(`${bridge.url}/api/contacts`, newContact('09447033333'), { authorization: 'Bearer forged' })).status).toBe(401);
  });

  it('when the PBX already has the number, then the answer is 409 already_exists', async () => {
    // 43 Rahul Sharma's phone in the demo phonebook.
    const r = await postJson(`${bridge.url}/api/contacts`, newContact('+91 98247 40472'), auth());
    expect(r.status).toBe(409);
    expect(r.body.error).toBe('already_exists');
  });

  it('when the PBX refuses for another reason, then the answer is 422 with its message and the field it names', async () => {
    // The bridge's own check passes (the e-mail looks fine to it); the simulator's Field Length for City is 10.
    const r = await postJson(`${bridge.url}/api/contacts`, { ...newContact('09447044444'), customFields: { City: 'Thiruvananthapuram' } }, auth());
    expect(r.status).toBe(400); // the bridge knows the length from the definitions
    expect(r.body.field).toBe('customFields.City');
    // A refusal the bridge cannot foresee: the PBX's token is wrong (603), as if it had been revoked.
    const other = await h.startBridge({ DEFAULT_COUNTRY: 'IN', PBX_TOKEN: 'revoked-token-123' });
    const r2 = await postJson(`${other.url}/api/contacts`, newContact('09447044444'), admin);
    expect(r2.status).toBe(422);
    expect(r2.body).toMatchObject({ error: 'pbx_refused', message: 'Authentication Failed', pbxStatus: 603 });
  });

  it('when the PBX cannot be reached, then the answer is 503', async () => {
    h.simulator.setFault({ mode: 'down', endpoints: ['createNumber'] });
    try {
      const r = await postJson(`${bridge.url}/api/contacts`, newContact('09447055555'), auth());
      expect(r.status).toBe(503);
      expect(r.body.error).toBe('pbx_unavailable');
    } finally {
      h.simulator.setFault({ mode: 'none' });
    }
  });

  it('when the PBX answers something that is not an answer, then 502 pbx_bad_response', async () => {
    h.simulator.setFault({ mode: 'garbage', endpoints: ['createNumber'] });
    try {
      const r = await postJson(`${bridge.url}/api/contacts`, newContact('09447066666'), auth());
      expect(r.status).toBe(502);
      expect(r.body.error).toBe('pbx_bad_response');
    } finally {
      h.simulator.setFault({ mode: 'none' });
    }
  });

  it('lists the custom fields for the form, required ones marked', async () => {
    const res = await fetch(`${bridge.url}/api/contacts/fields`, { headers: auth() });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { fields: Array<Record<string, unknown>> };
    expect(body.fields).toEqual([
      { name: 'Company', type: 'DropDownList', required: false, items: ['Hodusoft', 'Ecosmob', 'Acme Corp', 'Globex'], maxLength: null },
      { name: 'City', type: 'Text', required: true, items: null, maxLength: 10 },
      { name: 'Office No', type: 'Text', required: false, items: null, maxLength: 20 },
    ]);
    expect((await fetch(`${bridge.url}/api/contacts/fields`)).status).toBe(401);
  });
});

describe('POST /api/contacts in Redis mode, two instances', () => {
  let h: Harness;
  let a: Bridge;
  let b: Bridge;
  const sockets: AgentSocket[] = [];
  const prefix = uniquePrefix('contacts');

  beforeAll(async () => {
    h = await createHarness();
    const env = { REDIS_URL: inject('redisUrl'), DEFAULT_COUNTRY: 'IN' };
    a = await h.startBridge(env, { redisPrefix: prefix });
    b = await h.startBridge(env, { redisPrefix: prefix });
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await h.close();
  });

  it('when a contact is created on one instance, then the next call on the other pops it without a refresh', async () => {
    const tokenA = await login(a.url, '104', pw('104'));
    const tokenB = await login(b.url, '105', pw('105'));
    const socketB = await openAgentSocket(b.url, tokenB);
    sockets.push(socketB);
    const refreshesBefore = h.simulator.requestCounts().getPhoneNumber;

    const r = await postJson(`${a.url}/api/contacts`, newContact('0484 2345678'), { authorization: `Bearer ${tokenA}` });
    expect(r.status).toBe(201);
    await ring(b, '105', '+91 484 234 5678');
    expect(await ringingContact(socketB, '+91 484 234 5678')).toMatchObject({ displayName: 'Kavya Menon', match: 'exact' });
    expect(h.simulator.requestCounts().getPhoneNumber).toBe(refreshesBefore);
  });

  it('when the next refresh has not seen the new contact yet, then the snapshot keeps it for every instance', async () => {
    const r = await postJson(`${a.url}/api/contacts`, { ...newContact(''), firstName: 'Ravi', cellNumber: '+91 93333 44444' }, admin);
    expect(r.status).toBe(201);
    // The PBX's list lags behind its createNumber: the refresh reads a phonebook without the new contact.
    h.simulator.setContacts(DEMO_CONTACTS);
    const refreshed = await fetch(`${a.url}/api/phonebook/refresh`, { method: 'POST', headers: admin });
    expect(refreshed.status).toBe(200);
    // A third instance starts from the snapshot alone.
    const c = await h.startBridge({ REDIS_URL: inject('redisUrl'), DEFAULT_COUNTRY: 'IN' }, { redisPrefix: prefix });
    for (const bridge of [a, b, c]) {
      const res = await fetch(`${bridge.url}/api/phonebook/lookup?number=${encodeURIComponent('09333344444')}`, { headers: admin });
      const body = (await res.json()) as { contact: { displayName: string } | null };
      expect(body.contact?.displayName).toBe('Ravi Menon');
    }
  });
});
