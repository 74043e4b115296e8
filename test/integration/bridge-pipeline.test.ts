/**
 * The whole path, through real parts: the simulator rings an extension, calls the bridge's callback URL,
 * the bridge enriches from the phonebook it read from the simulator, and the agent's WebSocket receives it.
 * Run once in memory mode and once on a real redis-server.
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { admin, createHarness, login, postJson, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';
import { openAgentSocket, type AgentSocket, type Frame } from '../helpers/ws-client.js';

const modes = [
  ['memory', () => ({})],
  ['redis', () => ({ REDIS_URL: inject('redisUrl') })],
] as const;

describe.each(modes)('the bridge in %s mode', (mode, env) => {
  let h: Harness;
  let bridge: Bridge;
  let token101: string;
  let token102: string;
  const sockets: AgentSocket[] = [];
  const open = async (token: string, lastEventId?: string) => {
    const s = await openAgentSocket(bridge.url, token, lastEventId);
    sockets.push(s);
    await s.waitFor((f) => f.some((x) => x.type === 'ready'));
    return s;
  };
  const callback = (fields: Record<string, string>) =>
    postJson(`${bridge.url}/pbx/callback?secret=${SECRETS.callbackSecret}`, fields);

  beforeAll(async () => {
    h = await createHarness();
    bridge = await h.startBridge(
      { ...env(), DEFAULT_COUNTRY: 'IN', CRM_LINK_TEMPLATE: 'https://crm.example.com/search?phone={number}&ext={extension}&id={phonebookId}' },
      { redisPrefix: uniquePrefix(`pipeline-${mode}`) },
    );
    token101 = await login(bridge.url, '101', DEMO_EXTENSIONS['101'] ?? '');
    token102 = await login(bridge.url, '102', DEMO_EXTENSIONS['102'] ?? '');
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await h.close();
  });

  it('when an agent signs in with a wrong password, then the PBX refuses it and the answer is 401', async () => {
    const r = await postJson(`${bridge.url}/api/agents/login`, { extension: '103', password: 'wrong' }, { 'x-forwarded-for': '10.1.0.1' });
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('invalid_credentials');
  });

  it('when the login body is malformed, then the answer is 400 naming the field', async () => {
    const r = await postJson(`${bridge.url}/api/agents/login`, { extension: 'abc', password: 'x' });
    expect(r.status).toBe(400);
    expect(String(r.body.message)).toContain('extension');
    const r2 = await postJson(`${bridge.url}/api/agents/login`, { extension: '103' });
    expect(r2.status).toBe(400);
    expect(String(r2.body.message)).toContain('password');
  });

  it('when the PBX rings a signed-in agent, then that agent gets one enriched event and nobody else does', async () => {
    const s101 = await open(token101);
    const s102 = await open(token102);
    expect(s101.frames[0]).toEqual({ type: 'ready', extension: '101', resumed: false });

    const callId = randomUUID();
    const rang = await h.simulator.ring({ extension: '101', from: '09824740472', fromName: 'RAHUL', callId });
    expect(rang.delivered).toBe(true);
    await s101.waitFor((f) => f.some((x) => x.type === 'call.ringing'));
    const event = s101.events().find((x) => x.type === 'call.ringing') as Frame & { data: Record<string, unknown> };
    expect(Object.keys(event)[0]).toBe('id');
    expect(event).toMatchObject({
      type: 'call.ringing',
      data: {
        extension: '101',
        call: { id: callId, from: '+919824740472', fromRaw: '09824740472', fromName: 'RAHUL', to: '101', direction: 'inbound' },
        contact: { phonebookId: '43', displayName: 'Rahul Sharma', firstName: 'Rahul', lastName: 'Sharma', customFields: { Company: 'Hodusoft' } },
        otherContacts: [],
        links: { crm: 'https://crm.example.com/search?phone=%2B919824740472&ext=101&id=43' },
      },
    });
    expect(new Date(String(event.timestamp)).getTime()).toBeGreaterThan(Date.now() - 10_000);

    // 102's own call arrives; 101's never did.
    await h.simulator.ring({ extension: '102', from: '+1 202 555 0100', callId: randomUUID() });
    await s102.waitFor((f) => f.some((x) => x.type === 'call.ringing'));
    expect(s102.events()).toHaveLength(1);
    expect(s102.events()[0]).toMatchObject({ data: { extension: '102', contact: null, call: { from: '+12025550100' } } });
    expect(s101.events()).toHaveLength(1);
  });

  it('when contacts share a number, then the best is the contact and the others are listed', async () => {
    const s = await open(token101);
    await callback({ extension: '101', caller: '78768876', call_id: randomUUID() });
    await s.waitFor((f) => f.some((x) => x.type === 'call.ringing'));
    expect(s.events()[0]).toMatchObject({
      data: { contact: { phonebookId: '41', displayName: 'Nisha Patel' }, otherContacts: [{ phonebookId: '42', displayName: 'Anjali Patel' }] },
    });
  });

  it('when the caller is an extension of the tenant, then the direction is internal', async () => {
    const s = await open(token101);
    await callback({ extension: '101', caller: '102', call_id: randomUUID() });
    await s.waitFor((f) => f.some((x) => x.type === 'call.ringing'));
    expect(s.events()[0]).toMatchObject({ data: { call: { from: '102', direction: 'internal' } } });
  });

  it('when the PBX sends the same callback twice, then the second is a duplicate and no second event pops', async () => {
    const s = await open(token101);
    const fields = { extension: '101', caller: '09824740472', call_id: randomUUID() };
    const first = await callback(fields);
    const second = await callback(fields);
    expect(first.body).toMatchObject({ status: 'SUCCESS', message: 'Callback accepted.' });
    expect(first.body.duplicate).toBeUndefined();
    expect(second.body).toMatchObject({ status: 'SUCCESS', eventId: first.body.eventId, duplicate: true });
    // A different state of the same call is a new event.
    const answered = await callback({ ...fields, event: 'answered' });
    expect(answered.body.duplicate).toBeUndefined();
    await s.waitFor((f) => f.some((x) => x.type === 'call.answered'));
    expect(s.events().map((e) => e.type)).toEqual(['call.ringing', 'call.answered']);
    // Without a call id, the same fields within 10 s are a duplicate too.
    const a = await callback({ extension: '101', caller: '5550001' });
    const b = await callback({ extension: '101', caller: '5550001' });
    expect(b.body).toMatchObject({ duplicate: true, eventId: a.body.eventId });
  });

  it('when an agent reconnects with lastEventId, then it gets exactly the missed events, in order, then live ones', async () => {
    const s = await open(token101);
    await callback({ extension: '101', caller: '1111', call_id: randomUUID() });
    await s.waitFor((f) => f.some((x) => x.type === 'call.ringing'));
    const lastSeen = String(s.events().at(-1)?.id);
    s.close();
    await s.closed;

    const missed: string[] = [];
    for (const caller of ['2222', '3333', '4444']) {
      missed.push(String((await callback({ extension: '101', caller, call_id: randomUUID() })).body.eventId));
    }
    await callback({ extension: '102', caller: '5555', call_id: randomUUID() });

    const again = await open(token101, lastSeen);
    expect(again.frames[0]).toEqual({ type: 'ready', extension: '101', resumed: true });
    await again.waitFor((f) => f.filter((x) => x.id).length >= 3);
    const live = String((await callback({ extension: '101', caller: '6666', call_id: randomUUID() })).body.eventId);
    await again.waitFor((f) => f.some((x) => x.id === live));
    expect(again.events().map((e) => e.id)).toEqual([...missed, live]);
  });

  it('when a supervisor token is minted through the admin API, then it sees every extension', async () => {
    const minted = await postJson(`${bridge.url}/api/tokens`, { extension: '*', role: 'supervisor', ttlSeconds: 600 }, admin);
    expect(minted.status).toBe(200);
    const sup = await open(String(minted.body.token));
    expect(sup.frames[0]).toMatchObject({ type: 'ready', resumed: false });
    await callback({ extension: '101', caller: '7001', call_id: randomUUID() });
    await callback({ extension: '109', caller: '7002', call_id: randomUUID() });
    await sup.waitFor((f) => f.filter((x) => x.id).length >= 2);
    expect(sup.events().map((e) => (e.data as { extension: string }).extension)).toEqual(['101', '109']);
  });

  it('when a token is missing, forged or revoked by logout, then the upgrade is refused with 401', async () => {
    await expect(openAgentSocket(bridge.url, 'forged.token.value')).rejects.toThrow('401');
    const t = await login(bridge.url, '104', DEMO_EXTENSIONS['104'] ?? '');
    const session = await fetch(`${bridge.url}/api/agents/session`, { headers: { authorization: `Bearer ${t}` } });
    expect(session.status).toBe(200);
    expect(await session.json()).toMatchObject({ extension: '104', role: 'agent' });
    const out = await fetch(`${bridge.url}/api/agents/logout`, { method: 'POST', headers: { authorization: `Bearer ${t}` } });
    expect(out.status).toBe(204);
    await expect(openAgentSocket(bridge.url, t)).rejects.toThrow('401');
    const after = await fetch(`${bridge.url}/api/agents/session`, { headers: { authorization: `Bearer ${t}` } });
    expect(after.status).toBe(401);
  });

  it('when the admin API is called without the key, then it is 401; with it, lookup and recent callbacks work without secrets', async () => {
    expect((await fetch(`${bridge.url}/api/callbacks/recent`)).status).toBe(401);
    expect((await fetch(`${bridge.url}/api/callbacks/recent`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    const lookup = await fetch(`${bridge.url}/api/phonebook/lookup?number=%2B91%2098247%2040472`, { headers: admin });
    expect(await lookup.json()).toMatchObject({ from: '+919824740472', contact: { phonebookId: '43' } });
    const missing = await fetch(`${bridge.url}/api/phonebook/lookup`, { headers: admin });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: 'invalid_request', message: expect.stringContaining('number') });
    const recent = await fetch(`${bridge.url}/api/callbacks/recent`, { headers: admin });
    const text = await recent.text();
    expect(JSON.parse(text).callbacks.length).toBeGreaterThan(0);
    expect(text).not.toContain(SECRETS.callbackSecret);
    const refreshed = await postJson(`${bridge.url}/api/phonebook/refresh`, {}, admin);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({ phonebook: { contacts: 20 } });
  });

  it('when the bridge is healthy, then /healthz and /readyz say so and /metrics counts callbacks', async () => {
    expect((await fetch(`${bridge.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${bridge.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, redis: mode === 'redis' ? 'ok' : 'not_configured', phonebook: { contacts: 20 } });
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    expect(metrics).toMatch(/bridge_callbacks_total\{result="accepted"\} [1-9]/);
    expect(metrics).toMatch(/bridge_callbacks_total\{result="duplicate"\} [1-9]/);
    expect(metrics).toContain('bridge_phonebook_contacts 20');
  });

  it('when 10 sign-ins fail within a minute for one extension or one address, then the next is refused with 429', async () => {
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    for (let i = 0; i < 10; i++) {
      const r = await postJson(`${bridge.url}/api/agents/login`, { extension: '108', password: `bad-${i}` }, from(`10.8.0.${i}`));
      expect(r.status).toBe(401);
    }
    const byExtension = await postJson(`${bridge.url}/api/agents/login`, { extension: '108', password: DEMO_EXTENSIONS['108'] ?? '' }, from('10.8.1.1'));
    expect(byExtension.status).toBe(429);
    expect(byExtension.body.error).toBe('too_many_attempts');
    for (let i = 0; i < 10; i++) {
      const r = await postJson(`${bridge.url}/api/agents/login`, { extension: String(200 + i), password: 'bad' }, from('10.9.9.9'));
      expect(r.status).toBe(401);
    }
    const byAddress = await postJson(`${bridge.url}/api/agents/login`, { extension: '109', password: DEMO_EXTENSIONS['109'] ?? '' }, from('10.9.9.9'));
    expect(byAddress.status).toBe(429);
    const elsewhere = await postJson(`${bridge.url}/api/agents/login`, { extension: '109', password: DEMO_EXTENSIONS['109'] ?? '' }, from('10.9.9.10'));
    expect(elsewhere.status).toBe(200);
  });

  it('when the PBX is down, then sign-in answers 503 and ringing callbacks still pop from the cached phonebook', async () => {
    const s = await open(token101);
    h.simulator.setFault({ mode: 'down' });
    try {
      const r = await postJson(`${bridge.url}/api/agents/login`, { extension: '105', password: DEMO_EXTENSIONS['105'] ?? '' }, { 'x-forwarded-for': '10.5.0.1' });
      expect(r.status).toBe(503);
      expect(r.body.error).toBe('pbx_unavailable');
      await callback({ extension: '101', caller: '(415) 555-0132', call_id: randomUUID() });
      await s.waitFor((f) => f.some((x) => x.type === 'call.ringing'));
      expect(s.events()[0]).toMatchObject({ data: { contact: { displayName: 'Emily Carter' } } });
    } finally {
      h.simulator.setFault({ mode: 'none' });
    }
  });

  it('then no password, token_id, agent token, key or secret ever reached the logs', async () => {
    await eventually(() => h.logs.lines.length > 0);
    const text = h.logs.text();
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const secrets = [
      SECRETS.pbxToken,
      SECRETS.callbackSecret,
      SECRETS.sessionSecret,
      SECRETS.adminApiKey,
      token101,
      token102,
      ...Object.values(DEMO_EXTENSIONS).flatMap((p) => [p, md5(p)]),
    ];
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(h.logs.parsed().some((l) => l.msg === 'agent signed in')).toBe(true);
  });
});
