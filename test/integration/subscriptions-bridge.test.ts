/**
 * Subscriptions through whole bridges: the admin API (CONTRACT 5), agent sign-in/out with the grace period,
 * restarts, and two bridges on one Redis. The real simulator over HTTP; memory and Redis modes.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { admin, createHarness, login, postJson, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { eventually, letTimePass } from '../helpers/wait.js';
import { openAgentSocket, type AgentSocket } from '../helpers/ws-client.js';

const pw = (ext: string): string => DEMO_EXTENSIONS[ext] ?? '';
const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

let h: Harness;
/** Every admin API answer of every test, checked for secrets at the end. */
const answers: string[] = [];
let sockets: AgentSocket[] = [];

async function api(bridge: Bridge, method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown, headers: Record<string, string> = admin): Promise<Answer> {
  const res = await fetch(`${bridge.url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  answers.push(text);
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function listed(bridge: Bridge): Promise<Array<Record<string, unknown>>> {
  const r = await api(bridge, 'GET', '/api/extensions');
  expect(r.status).toBe(200);
  return r.body.extensions as Array<Record<string, unknown>>;
}

async function stateOf(bridge: Bridge, ext: string): Promise<Record<string, unknown> | undefined> {
  return (await listed(bridge)).find((e) => e.extension === ext);
}

async function socket(bridge: Bridge, token: string): Promise<AgentSocket> {
  const s = await openAgentSocket(bridge.url, token);
  sockets.push(s);
  await s.waitFor((f) => f.some((x) => x.type === 'ready'));
  return s;
}

async function closeSocket(s: AgentSocket): Promise<void> {
  s.close();
  await s.closed;
}

async function metric(bridge: Bridge, name: string): Promise<number> {
  const text = await (await fetch(`${bridge.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').at(-1)) : NaN;
}

const subs = () => h.simulator.subscriptions();

beforeAll(async () => {
  h = await createHarness();
});
afterEach(async () => {
  for (const s of sockets) s.close();
  sockets = [];
});
afterAll(async () => {
  await h.close();
  // No web password (plain or MD5) and no token_id in any log line or admin API answer.
  const everything = [h.logs.text(), ...answers].join('\n');
  expect(h.logs.lines.length).toBeGreaterThan(0);
  for (const ext of Object.keys(DEMO_EXTENSIONS)) {
    expect(everything).not.toContain(pw(ext));
    expect(everything).not.toContain(md5(pw(ext)));
  }
  expect(everything).not.toContain('wrong-password-123');
  expect(everything).not.toContain(SECRETS.pbxToken);
  expect(everything).not.toMatch(/v1\.[A-Za-z0-9_-]{20,}/); // no sealed password either
  for (const a of answers) {
    expect(a).not.toMatch(/"(password|secret)"\s*:/i); // no such field
    expect(a).not.toMatch(/v1\.[A-Za-z0-9_-]{20,}/); // nor a sealed password
  }
});

const modes = [
  ['memory', () => ({})],
  ['redis', () => ({ REDIS_URL: inject('redisUrl') })],
] as const;

describe.each(modes)('subscriptions in %s mode', (mode, env) => {
  let bridge: Bridge;

  beforeAll(async () => {
    h.simulator.reset();
    bridge = await h.startBridge({ ...env(), UNSUBSCRIBE_GRACE_S: '1' }, { redisPrefix: uniquePrefix(`subs-bridge-${mode}`) });
  });
  afterAll(async () => {
    await bridge.close();
  });

  it('when an operator registers an extension, then it is subscribed and listed without a password; deleting it unsubscribes', async () => {
    const put = await api(bridge, 'PUT', '/api/extensions/101', { password: pw('101') });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({
      extension: '101',
      desired: true,
      sources: ['admin'],
      state: 'subscribed',
      lastError: null,
      nextRetryAt: null,
      updatedAt: expect.any(String),
    });
    expect(subs()).toContain('101');
    expect(await stateOf(bridge, '101')).toMatchObject({ desired: true, sources: ['admin'], state: 'subscribed' });
    expect(await metric(bridge, 'bridge_subscriptions_leader')).toBe(1);

    const del = await api(bridge, 'DELETE', '/api/extensions/101');
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ extension: '101', desired: false, sources: [] });
    await eventually(() => !subs().includes('101'), 3000, '101 unsubscribed');
    await eventually(async () => (await stateOf(bridge, '101'))?.state === 'unsubscribed', 2000, 'listed as unsubscribed');

    const again = await api(bridge, 'DELETE', '/api/extensions/101');
    expect(again.status).toBe(404);
    expect(again.body.error).toBe('not_found');
    expect((await api(bridge, 'DELETE', '/api/extensions/999')).status).toBe(404);
  });

  it('when the PBX refuses the password, then the answer is 422 with its message and nothing is stored', async () => {
    const before = h.simulator.requestCounts().crmSubscribe;
    const r = await api(bridge, 'PUT', '/api/extensions/102', { password: 'wrong-password-123' });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ error: 'pbx_refused', message: 'Invalid extension_password' });
    expect(await stateOf(bridge, '102')).toBeUndefined();
    expect(subs()).not.toContain('102');
    // One verification call and no retries.
    await letTimePass(500);
    expect(h.simulator.requestCounts().crmSubscribe).toBe(before + 1);

    // A registered extension keeps its registration when a wrong password is PUT over it.
    expect((await api(bridge, 'PUT', '/api/extensions/103', { password: pw('103') })).status).toBe(200);
    expect((await api(bridge, 'PUT', '/api/extensions/103', { password: 'wrong-password-123' })).status).toBe(422);
    expect(await stateOf(bridge, '103')).toMatchObject({ desired: true, state: 'subscribed' });
    expect((await api(bridge, 'DELETE', '/api/extensions/103')).status).toBe(200);
    await eventually(() => !subs().includes('103'), 3000, '103 unsubscribed');
  });

  it('when the PBX cannot be reached, then the answer is 503 and nothing is stored', async () => {
    h.simulator.setFault({ mode: 'down' });
    try {
      const r = await api(bridge, 'PUT', '/api/extensions/104', { password: pw('104') });
      expect(r.status).toBe(503);
      expect(r.body.error).toBe('pbx_unavailable');
    } finally {
      h.simulator.setFault({ mode: 'none' });
    }
    expect(await stateOf(bridge, '104')).toBeUndefined();
  });

  it('when the request is malformed or unauthorized, then 400 names the field and 401 answers a bad key', async () => {
    const badNumber = await api(bridge, 'PUT', '/api/extensions/12a', { password: 'x' });
    expect(badNumber.status).toBe(400);
    expect(String(badNumber.body.message)).toMatch(/^number: /);
    const longNumber = await api(bridge, 'DELETE', `/api/extensions/${'1'.repeat(33)}`);
    expect(longNumber.status).toBe(400);
    expect(String(longNumber.body.message)).toMatch(/^number: /);
    const noPassword = await api(bridge, 'PUT', '/api/extensions/105', {});
    expect(noPassword.status).toBe(400);
    expect(String(noPassword.body.message)).toMatch(/^password: /);
    expect((await api(bridge, 'GET', '/api/extensions', undefined, {})).status).toBe(401);
    expect((await api(bridge, 'PUT', '/api/extensions/105', { password: pw('105') }, { authorization: 'Bearer nope' })).status).toBe(401);
    expect(await stateOf(bridge, '105')).toBeUndefined();
  });

  it('when an agent signs in and out, then the extension is subscribed while a socket is open and unsubscribed a grace period after', async () => {
    const token = await login(bridge.url, '106', pw('106'));
    expect(subs()).toContain('106');
    expect(await stateOf(bridge, '106')).toMatchObject({ desired: true, sources: ['agent'], state: 'subscribed', lastError: null });
    const s = await socket(bridge, token);
    await letTimePass(1500); // longer than the 1 s grace: the socket keeps it
    expect(subs()).toContain('106');

    const closedAt = Date.now();
    await closeSocket(s);
    await letTimePass(500);
    expect(subs()).toContain('106'); // within the grace period
    await eventually(() => !subs().includes('106'), 3000, '106 unsubscribed');
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(900);
    await eventually(async () => (await stateOf(bridge, '106'))?.state === 'unsubscribed', 2000, 'listed as unsubscribed');
    expect(await stateOf(bridge, '106')).toMatchObject({ desired: false, sources: [] });

    // Signed in again and out again without a socket: the grace period runs from the sign-out.
    const token2 = await login(bridge.url, '106', pw('106'));
    expect(subs()).toContain('106');
    const out = await postJson(`${bridge.url}/api/agents/logout`, {}, { authorization: `Bearer ${token2}` });
    expect(out.status).toBe(204);
    await eventually(() => !subs().includes('106'), 3000, '106 unsubscribed after sign-out');
  });

  it('when an operator removes an extension an agent is on, then it stays subscribed until the agent leaves', async () => {
    expect((await api(bridge, 'PUT', '/api/extensions/107', { password: pw('107') })).status).toBe(200);
    const token = await login(bridge.url, '107', pw('107'));
    const s = await socket(bridge, token);
    expect(await stateOf(bridge, '107')).toMatchObject({ sources: ['admin', 'agent'] });
    const del = await api(bridge, 'DELETE', '/api/extensions/107');
    expect(del.body).toMatchObject({ desired: true, sources: ['agent'] });
    await letTimePass(1500); // longer than the 1 s grace: the agent keeps it
    expect(subs()).toContain('107');
    await closeSocket(s);
    await eventually(() => !subs().includes('107'), 3000, '107 unsubscribed');
  });
});

describe('subscriptions across restarts and instances (Redis)', () => {
  afterEach(() => h.simulator.reset());

  it('when the bridge restarts after the PBX lost its state, then every desired extension is subscribed again; a shutdown leaves them in place', async () => {
    h.simulator.reset();
    const prefix = uniquePrefix('subs-restart');
    const env = { REDIS_URL: inject('redisUrl'), UNSUBSCRIBE_GRACE_S: '60' };
    const first = await h.startBridge(env, { redisPrefix: prefix });
    expect((await api(first, 'PUT', '/api/extensions/101', { password: pw('101') })).status).toBe(200);
    expect((await api(first, 'PUT', '/api/extensions/105', { password: pw('105') })).status).toBe(200);
    await login(first.url, '108', pw('108'));
    expect(subs()).toEqual(['101', '105', '108']);
    await first.close();
    expect(subs()).toEqual(['101', '105', '108']);
    expect(h.simulator.requestCounts().crmUnSubscribe).toBe(0);

    h.simulator.reset(); // the PBX restarted and forgot every subscription
    const second = await h.startBridge(env, { redisPrefix: prefix });
    await eventually(() => subs().join() === '101,105,108', 3000, 'all subscribed again');
    expect((await listed(second)).map((e) => [e.extension, e.state, (e.sources as string[]).join('+')])).toEqual([
      ['101', 'subscribed', 'admin'],
      ['105', 'subscribed', 'admin'],
      ['108', 'subscribed', 'agent'],
    ]);
    await second.close();
  });

  it('when two bridges share Redis, then one leads, only it unsubscribes, and closing it hands the lease over at once', async () => {
    h.simulator.reset();
    const prefix = uniquePrefix('subs-two-bridges');
    const env = { REDIS_URL: inject('redisUrl'), UNSUBSCRIBE_GRACE_S: '1' };
    const a = await h.startBridge(env, { redisPrefix: prefix });
    await eventually(async () => (await metric(a, 'bridge_subscriptions_leader')) === 1, 3000, 'A leads');
    const b = await h.startBridge(env, { redisPrefix: prefix });
    expect(await metric(b, 'bridge_subscriptions_leader')).toBe(0);

    // An agent signs in on B, opens a socket there, and leaves: A (the leader) unsubscribes.
    const token = await login(b.url, '109', pw('109'));
    const s = await socket(b, token);
    await closeSocket(s);
    await eventually(() => !subs().includes('109'), 4000, '109 unsubscribed');
    const unsubscribesBy = async (x: Bridge) => {
      const text = await (await fetch(`${x.url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith('bridge_pbx_requests_total{') && l.includes('endpoint="crmUnSubscribe"'));
      return line ? Number(line.split(' ').at(-1)) : 0;
    };
    expect(await unsubscribesBy(a)).toBe(1);
    expect(await unsubscribesBy(b)).toBe(0);
    // Both show the same shared state.
    expect(await stateOf(a, '109')).toMatchObject({ state: 'unsubscribed' });
    expect(await stateOf(b, '109')).toMatchObject({ state: 'unsubscribed' });

    const closedAt = Date.now();
    await a.close();
    await eventually(async () => (await metric(b, 'bridge_subscriptions_leader')) === 1, 3000, 'B leads');
    expect(Date.now() - closedAt).toBeLessThan(3000); // far less than the 10 s lease: it was released
    await b.close();
  });
});
