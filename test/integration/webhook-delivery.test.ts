/**
 * CRM webhook delivery through whole bridges (memory and Redis mode): a callback is accepted, and a real
 * receiver (an http.Server on 127.0.0.1) gets the signed envelope. Signatures are checked with the reference
 * `standardwebhooks` package, never with the bridge's own signing code.
 */
import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { admin, createHarness, postJson, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { startReceiver, type Answer, type Hit, type Receiver } from '../helpers/webhook-receiver.js';
import { eventuallyValue, letTimePass } from '../helpers/wait.js';
import { uniquePrefix } from '../helpers/redis-server.js';



async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { headers: admin });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

interface Delivery {
  id: string;
  eventId: string;
  status: string;
  attempts: Array<{ at: string; statusCode: number | null; error: string | null; durationMs: number }>;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
}

const modes = [
  ['memory', () => ({})],
  ['redis', () => ({ REDIS_URL: inject('redisUrl') })],
] as const;

describe.each(modes)('CRM webhooks in %s mode', (mode, env) => {
  let h: Harness;
  let bridge: Bridge;
  const receivers: Receiver[] = [];

  const receiver = async (answer?: (hit: Hit) => Answer) => {
    const r = await startReceiver(answer);
    receivers.push(r);
    return r;
  };
  const register = async (body: Record<string, unknown>) => {
    const r = await postJson(`${bridge.url}/api/webhooks`, body, admin);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return { id: String(r.body.id), secret: String(r.body.secret) };
  };
  const ring = async (fields: Record<string, string> = {}) => {
    const r = await postJson(`${bridge.url}/pbx/callback?secret=${SECRETS.callbackSecret}`, {
      extension: '101',
      caller: '+14155550132',
      call_id: randomUUID(),
      ...fields,
    });
    expect(r.status).toBe(200);
    return String(r.body.eventId);
  };
  const deliveries = async (endpointId: string, status = '') =>
    (await getJson(`${bridge.url}/api/webhooks/${endpointId}/deliveries${status ? `?status=${status}` : ''}`)).body.deliveries as Delivery[];

  beforeAll(async () => {
    h = await createHarness();
    bridge = await h.startBridge(
      { ...env(), WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_SCHEDULE: '0.05,0.1', WEBHOOK_TIMEOUT_MS: '500', LOG_LEVEL: 'warn' },
      { redisPrefix: uniquePrefix(`webhooks-${mode}`) },
    );
  });
  afterAll(async () => {
    await h.close();
    for (const r of receivers) await r.close();
  });

  it('when an endpoint is registered, then the answer is 201 with an id and a whsec_ secret of at least 24 bytes, and the list never shows it', async () => {
    const r = await postJson(`${bridge.url}/api/webhooks`, { url: 'http://127.0.0.1:9/x', description: 'CRM' }, admin);
    expect(r.status).toBe(201);
    expect(String(r.body.secret)).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(String(r.body.secret).slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
    const list = await getJson(`${bridge.url}/api/webhooks`);
    const listed = (list.body.webhooks as Array<Record<string, unknown>>).find((w) => w.id === r.body.id);
    expect(listed).toMatchObject({ url: 'http://127.0.0.1:9/x', description: 'CRM', events: null, status: 'active' });
    expect(JSON.stringify(list.body)).not.toContain(String(r.body.secret));
    const del = await fetch(`${bridge.url}/api/webhooks/${String(r.body.id)}`, { method: 'DELETE', headers: admin });
    expect(del.status).toBe(204);
    const again = await fetch(`${bridge.url}/api/webhooks/${String(r.body.id)}`, { method: 'DELETE', headers: admin });
    expect(again.status).toBe(404);
  });

  it('when the request is unauthenticated or malformed, then 401 / 400 naming the field', async () => {
    expect((await postJson(`${bridge.url}/api/webhooks`, { url: 'http://127.0.0.1:9/' })).status).toBe(401);
    const noUrl = await postJson(`${bridge.url}/api/webhooks`, {}, admin);
    expect(noUrl.status).toBe(400);
    expect(String(noUrl.body.message)).toContain('url');
    const ftp = await postJson(`${bridge.url}/api/webhooks`, { url: 'ftp://example.com/' }, admin);
    expect(ftp.status).toBe(400);
    expect(String(ftp.body.message)).toMatch(/^url: /);
    const badEvent = await postJson(`${bridge.url}/api/webhooks`, { url: 'http://127.0.0.1:9/', events: ['call.ringing', 'call.nope'] }, admin);
    expect(badEvent.status).toBe(400);
    expect(String(badEvent.body.message)).toContain('events');
    const badStatus = await getJson(`${bridge.url}/api/webhooks/nope/deliveries?status=weird`);
    expect(badStatus.status).toBe(400);
  });

  it('when an event is accepted, then each matching endpoint gets it signed as Standard Webhooks says, the raw envelope as body', async () => {
    const all = await receiver();
    const ringingOnly = await receiver();
    const endedOnly = await receiver();
    const a = await register({ url: all.url });
    const b = await register({ url: ringingOnly.url, events: ['call.ringing'] });
    await register({ url: endedOnly.url, events: ['call.ended'] });

    const eventId = await ring();
    const [hit] = await eventuallyValue(() => all.hitsFor(eventId), (x) => x.length === 1);
    await eventuallyValue(() => ringingOnly.hitsFor(eventId), (x) => x.length === 1);
    const verified = new Webhook(a.secret).verify(hit!.body, {
      'webhook-id': hit!.id,
      'webhook-timestamp': hit!.timestamp,
      'webhook-signature': hit!.signature,
    }) as Record<string, unknown>;
    expect(verified).toMatchObject({ id: eventId, type: 'call.ringing', data: { extension: '101' } });
    expect(hit!.body.startsWith(`{"id":"${eventId}"`)).toBe(true);
    expect(Math.abs(Number(hit!.timestamp) - Date.now() / 1000)).toBeLessThan(5);
    // The other endpoint's secret does not verify it.
    expect(() =>
      new Webhook(b.secret).verify(hit!.body, { 'webhook-id': hit!.id, 'webhook-timestamp': hit!.timestamp, 'webhook-signature': hit!.signature }),
    ).toThrow();

    // A hang-up event reaches the "all" and "ended" endpoints, not the ringing-only one.
    const ended = await ring({ event: 'hangup' });
    await eventuallyValue(() => endedOnly.hitsFor(ended), (x) => x.length === 1);
    await eventuallyValue(() => all.hitsFor(ended), (x) => x.length === 1);
    await letTimePass(100); // a delivery it should not get would come in this time
    expect(ringingOnly.hitsFor(ended)).toHaveLength(0);
    expect(endedOnly.hitsFor(eventId)).toHaveLength(0);

    const list = await deliveries(a.id, 'succeeded');
    expect(list.find((d) => d.eventId === eventId)).toMatchObject({ status: 'succeeded', lastStatusCode: 200, nextAttemptAt: null });
  });

  it('when the endpoint fails, then it is retried on the schedule with the same webhook-id, re-signed, and then marked failed', async () => {
    const r = await receiver(() => ({ status: 500, body: 'database is down' }));
    const ep = await register({ url: r.url });
    const eventId = await ring();
    const hits = await eventuallyValue(() => r.hitsFor(eventId), (x) => x.length === 3);
    const failed = await eventuallyValue(() => deliveries(ep.id, 'failed'), (x) => x.some((d) => d.eventId === eventId));
    const d = failed.find((x) => x.eventId === eventId)!;
    expect(d.attempts).toHaveLength(3);
    expect(d.lastStatusCode).toBe(500);
    expect(d.lastError).toContain('database is down');
    expect(d.nextAttemptAt).toBeNull();
    // 0.05 s then 0.1 s, ±20 %.
    expect(hits[1]!.at - hits[0]!.at).toBeGreaterThanOrEqual(35);
    expect(hits[2]!.at - hits[1]!.at).toBeGreaterThanOrEqual(75);
    for (const hit of hits) {
      expect(hit.id).toBe(eventId);
      expect(() =>
        new Webhook(ep.secret).verify(hit.body, { 'webhook-id': hit.id, 'webhook-timestamp': hit.timestamp, 'webhook-signature': hit.signature }),
      ).not.toThrow();
    }
    await letTimePass(200); // past the schedule: no fourth attempt after it is marked failed
    expect(r.hitsFor(eventId)).toHaveLength(3);

    // A manual retry sends it again; a second retry while it is pending is refused.
    r.answer = () => ({ status: 204 });
    const retry = await postJson(`${bridge.url}/api/webhooks/${ep.id}/deliveries/${d.id}/retry`, {}, admin);
    expect(retry.status).toBe(202);
    await eventuallyValue(() => r.hitsFor(eventId), (x) => x.length === 4);
    await eventuallyValue(() => deliveries(ep.id, 'succeeded'), (x) => x.some((y) => y.id === d.id));
    const twice = await postJson(`${bridge.url}/api/webhooks/${ep.id}/deliveries/${d.id}/retry`, {}, admin);
    expect(twice.status).toBe(409);
    const missing = await postJson(`${bridge.url}/api/webhooks/${ep.id}/deliveries/nope/retry`, {}, admin);
    expect(missing.status).toBe(404);
  });

  it('when the endpoint answers 503 with Retry-After, then the next attempt waits that long', async () => {
    const r = await receiver((hit) => (hit.n === 1 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 }));
    await register({ url: r.url });
    const eventId = await ring();
    const hits = await eventuallyValue(() => r.hitsFor(eventId), (x) => x.length === 2, 4000);
    expect(hits[1]!.at - hits[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('when the endpoint answers 410, then it is disabled: no retries, no further deliveries, visible in the list', async () => {
    const r = await receiver(() => ({ status: 410 }));
    const ep = await register({ url: r.url });
    const first = await ring();
    await eventuallyValue(() => deliveries(ep.id, 'failed'), (x) => x.some((d) => d.eventId === first));
    const list = await getJson(`${bridge.url}/api/webhooks`);
    expect((list.body.webhooks as Array<Record<string, unknown>>).find((w) => w.id === ep.id)).toMatchObject({ status: 'disabled' });
    const second = await ring();
    await letTimePass(300); // neither a retry nor the next event comes to a disabled endpoint
    expect(r.hitsFor(first)).toHaveLength(1);
    expect(r.hitsFor(second)).toHaveLength(0);
  });

  it('when the endpoint redirects, then that is a failure and the redirect is not followed', async () => {
    const target = await receiver();
    const r = await receiver(() => ({ status: 307, headers: { location: target.url } }));
    const ep = await register({ url: r.url });
    const eventId = await ring();
    const failed = await eventuallyValue(() => deliveries(ep.id, 'failed'), (x) => x.some((d) => d.eventId === eventId));
    expect(failed[0]!.lastStatusCode).toBe(307);
    expect(failed[0]!.lastError).toContain('redirect');
    expect(r.hitsFor(eventId)).toHaveLength(3);
    expect(target.hits).toHaveLength(0);
  });

  it('when the endpoint does not answer within WEBHOOK_TIMEOUT_MS, then the attempt is a timeout failure', async () => {
    const r = await receiver((hit) => (hit.n === 1 ? 'hang' : { status: 200 }));
    const ep = await register({ url: r.url });
    const eventId = await ring();
    const hits = await eventuallyValue(() => r.hitsFor(eventId), (x) => x.length === 2, 4000);
    expect(hits[1]!.at - hits[0]!.at).toBeGreaterThanOrEqual(450);
    const ok = await eventuallyValue(() => deliveries(ep.id, 'succeeded'), (x) => x.some((d) => d.eventId === eventId));
    const d = ok.find((x) => x.eventId === eventId)!;
    expect(d.attempts[0]).toMatchObject({ statusCode: null, error: expect.stringContaining('timed out') });
    expect(d.attempts[1]).toMatchObject({ statusCode: 200, error: null });
  });
});

describe('webhook URLs without WEBHOOK_ALLOW_PRIVATE', () => {
  let h: Harness;
  let bridge: Bridge;
  beforeAll(async () => {
    h = await createHarness();
    bridge = await h.startBridge({ LOG_LEVEL: 'warn' });
  });
  afterAll(async () => h.close());

  it.each([
    'http://127.0.0.1:8080/hook',
    'http://10.0.0.8/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://2130706433/hook',
    'http://0x7f000001/hook',
    'http://127.1/hook',
    'http://localhost:3000/hook',
    'http://192.168.1.20/hook',
    'http://100.64.0.1/hook',
    'http://0.0.0.0/hook',
    'http://[fd00::1]/hook',
    'http://[fe80::1]/hook',
  ])('when the URL is %s, then registration is refused with 422 naming url', async (url) => {
    const r = await postJson(`${bridge.url}/api/webhooks`, { url }, admin);
    expect(r.status).toBe(422);
    expect(r.body.error).toBe('url_not_allowed');
    expect(String(r.body.message)).toMatch(/^url: /);
  });
});
