/**
 * The callback route as the bridge serves it: a lean node:http handler before Express (the same answers and
 * headers as the Express route), info logging in aggregate, and 503 refusals past the bridge's limit.
 */
import { gzipSync } from 'node:zlib';
import { request as httpRequest } from 'node:http';
import express from 'express';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import type { AppendResult } from '../../src/core/ports.js';
import { createCallbackRouter, matchCallbackPath } from '../../src/http/callback-route.js';
import { MIN_ARRIVALS_PER_SAMPLE, OverloadGuard, SUSTAIN_SAMPLES, type RefusalReason } from '../../src/http/overload-guard.js';
import { RecentCallbacks } from '../../src/http/recent-callbacks.js';
import { createLogger } from '../../src/logger.js';
import { MemoryKeyValueStore } from '../../src/store/memory.js';
import { createHarness, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { eventually } from '../helpers/wait.js';

const SECRET = SECRETS.callbackSecret;
const call = (id: string) => ({ extension: '101', caller: '+14155550132', call_id: id });

describe('the callback route before Express, in a running bridge', () => {
  let h: Harness;
  let bridge: Bridge;
  beforeAll(async () => {
    h = await createHarness();
    bridge = await h.startBridge({ LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    await h.close();
  });

  const post = (path: string, body: Uint8Array | string, headers: Record<string, string> = {}) =>
    fetch(`${bridge.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : new Uint8Array(body) });

  it('when a callback is accepted, then the answer carries the same headers Express gave it', async () => {
    const res = await post(`/pbx/callback?secret=${SECRET}`, JSON.stringify(call('fast-1')));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(await res.json()).toMatchObject({ status: 'SUCCESS', message: 'Callback accepted.' });
  });

  it('when the path is written in other case, with a trailing slash, or the secret as its segment, then it is the same route', async () => {
    expect((await post(`/PBX/Callback/?secret=${SECRET}`, JSON.stringify(call('fast-2')))).status).toBe(200);
    expect((await post(`/pbx/callback/${encodeURIComponent(SECRET)}/`, JSON.stringify(call('fast-3')))).status).toBe(200);
    const head = await fetch(`${bridge.url}/pbx/callback/${SECRET}?ext=101&from=555&callid=fast-4`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    // Other methods are Express's, as before: OPTIONS lists the route's methods, PUT is not found.
    const options = await fetch(`${bridge.url}/pbx/callback`, { method: 'OPTIONS' });
    expect(options.headers.get('allow')).toMatch(/GET.*POST/);
    expect((await fetch(`${bridge.url}/pbx/callback`, { method: 'PUT' })).status).toBe(404);
  });

  it('when the body is gzip, then it is read; when it inflates past 64 KiB, then the answer is 413', async () => {
    const ok = await post(`/pbx/callback?secret=${SECRET}`, gzipSync(JSON.stringify(call('fast-5'))), { 'content-encoding': 'gzip' });
    expect(ok.status).toBe(200);
    const bomb = gzipSync(JSON.stringify({ ...call('fast-6'), pad: 'x'.repeat(200 * 1024) }));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const big = await post(`/pbx/callback?secret=${SECRET}`, bomb, { 'content-encoding': 'gzip' });
    expect(big.status).toBe(413);
    const odd = await post(`/pbx/callback?secret=${SECRET}`, 'x', { 'content-encoding': 'compress' });
    expect(odd.status).toBe(415);
    // The connection is still usable after the refused bodies.
    expect((await post(`/pbx/callback?secret=${SECRET}`, JSON.stringify(call('fast-7')))).status).toBe(200);
  });

  it('when a declared length is over 64 KiB, then the answer is 413 without reading the body', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${bridge.url}/pbx/callback?secret=${SECRET}`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(1024 * 1024) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', reject);
      req.write('{');
    });
    expect(status).toBe(413);
  });

  it('when callbacks are answered, then the info log has one line per interval with the counts, and the per-callback line is not at info', async () => {
    await post(`/pbx/callback?secret=${SECRET}`, JSON.stringify({ caller: '555' }));
    await eventually(() => h.logs.parsed().some((l) => l['msg'] !== undefined && String(l['msg']).startsWith('callbacks:')), 5000, 'the interval line');
    const line = h.logs.parsed().find((l) => String(l['msg']).startsWith('callbacks:'));
    expect(line).toMatchObject({ level: 30, accepted: expect.any(Number), duplicates: expect.any(Number), rejected: expect.any(Object) });
    expect((line?.['latencyMs'] as Record<string, number>)['p99']).toEqual(expect.any(Number));
    expect(h.logs.parsed().filter((l) => l['msg'] === 'callback accepted')).toEqual([]);
  });

  it('when /metrics is read, then it has the refusal counter and the in-flight gauge', async () => {
    const text = await (await fetch(`${bridge.url}/metrics`)).text();
    expect(text).toContain('bridge_callbacks_refused_total');
    expect(text).toContain('bridge_callbacks_in_flight');
  });
});

describe('matching the callback path as Express did', () => {
  it.each([
    ['POST', '/pbx/callback', { secret: undefined, rawQuery: '' }],
    ['GET', '/pbx/callback/?a=1', { secret: undefined, rawQuery: 'a=1' }],
    ['HEAD', '/PBX/CALLBACK/s%2Fx?b', { secret: 's/x', rawQuery: 'b' }],
    ['POST', '/pbx/callback/abc/', { secret: 'abc', rawQuery: '' }],
  ])('%s %s is the route', (method, url, expected) => {
    expect(matchCallbackPath(method, url)).toEqual(expected);
  });
  it.each([
    ['PUT', '/pbx/callback'],
    ['OPTIONS', '/pbx/callback'],
    ['POST', '/pbx/callbacks'],
    ['POST', '/pbx/callback/a/b'],
    ['POST', '/pbx/callback//'],
    ['GET', '/api/callbacks/recent'],
  ])('%s %s is left to Express', (method, url) => {
    expect(matchCallbackPath(method, url)).toBeNull();
  });

  it('when the secret segment is not valid percent-encoding, then it is compared as written (a wrong secret), not an error', () => {
    expect(matchCallbackPath('POST', '/pbx/callback/%E0%A4%A?x=1')).toEqual({ secret: '%E0%A4%A', rawQuery: 'x=1' });
  });
});

describe('refusing callbacks past the limit', () => {
  function app(guard: OverloadGuard, accept: () => Promise<AppendResult>, refused: RefusalReason[]) {
    const a = express();
    a.use(
      createCallbackRouter({
        secret: SECRET,
        fieldNames: {},
        accept,
        recent: new RecentCallbacks(new MemoryKeyValueStore(), 50, { flushMs: null }),
        logger: createLogger('silent'),
        overload: guard,
        onRefused: (r) => refused.push(r),
      }),
    );
    return a;
  }

  it('when as many callbacks as CALLBACK_MAX_IN_FLIGHT wait for the log, then the next is answered 503 with Retry-After, and after one is answered it is taken again', async () => {
    const guard = new OverloadGuard({ maxInFlight: 1, maxDelayMs: 0, maxUtilization: 0 });
    let release: () => void = () => undefined;
    const blocked = new Promise<void>((r) => (release = r));
    let n = 0;
    const refused: RefusalReason[] = [];
    const server = app(
      guard,
      async () => {
        n++;
        if (n === 1) await blocked;
        return { id: `${n}-0`, duplicate: false };
      },
      refused,
    ).listen(0, '127.0.0.1');
    try {
      const agent = supertest(server);
      const first = agent.post(`/pbx/callback?secret=${SECRET}`).send(call('inflight-1')).then((r) => r);
      await eventually(() => guard.stats().inFlight === 1, 5000, 'the first callback in flight');
      const second = await agent.post(`/pbx/callback?secret=${SECRET}`).send(call('inflight-2'));
      expect(second.status).toBe(503);
      expect(second.body).toEqual({ status: 'FAILED', message: 'Temporarily unable to accept callbacks.' });
      expect(second.headers['retry-after']).toBe('1');
      expect(refused).toEqual(['in_flight']);
      // A wrong secret is still a 401, whatever the load.
      expect((await agent.post('/pbx/callback?secret=wrong-wrong-wrong').send(call('x'))).status).toBe(401);

      release();
      expect((await first).status).toBe(200);
      expect(guard.stats().inFlight).toBe(0);
      expect((await agent.post(`/pbx/callback?secret=${SECRET}`).send(call('inflight-3'))).status).toBe(200);
      expect(guard.stats().refused).toEqual({ in_flight: 1, event_loop: 0, answer_time: 0, connections_busy: 0, open_calls: 0 });
    } finally {
      server.close();
      guard.close();
    }
  });

  const hotSamples = (guard: OverloadGuard, samples: number, utilization: number, arrivals = MIN_ARRIVALS_PER_SAMPLE) => {
    let refused = 0;
    for (let s = 0; s < samples; s++) {
      for (let i = 0; i < arrivals; i++) {
        if (guard.admit() === null) guard.done();
        else refused++;
      }
      guard.sample({ delayMs: 0, utilization });
    }
    return refused;
  };

  it('when the event loop stays over CALLBACK_MAX_EVENT_LOOP_UTILIZATION under callbacks, then a growing share is refused, and none once it cools', () => {
    const guard = new OverloadGuard({ maxInFlight: 0, maxDelayMs: 0, maxUtilization: 0.9, manual: true });
    // Not yet sustained: nothing refused.
    expect(hotSamples(guard, SUSTAIN_SAMPLES - 1, 1)).toBe(0);
    expect(guard.stats().refuseShare).toBe(0);
    hotSamples(guard, 1, 1);
    expect(guard.stats().refuseShare).toBeGreaterThan(0);
    const refusedWhileHot = hotSamples(guard, 3, 1);
    expect(refusedWhileHot).toBeGreaterThan(0);
    expect(refusedWhileHot).toBeLessThan(3 * MIN_ARRIVALS_PER_SAMPLE);
    expect(guard.stats().refused.event_loop).toBe(refusedWhileHot);
    // Cool samples bring the share back to nothing.
    hotSamples(guard, 20, 0.2);
    expect(guard.stats().refuseShare).toBe(0);
    expect(hotSamples(guard, 3, 0.2)).toBe(0);
  });

  it('when the loop is busy but callbacks are few, or the limits are 0, then nothing is refused', () => {
    const busyElsewhere = new OverloadGuard({ maxInFlight: 0, maxDelayMs: 100, maxUtilization: 0.9, manual: true });
    expect(hotSamples(busyElsewhere, 50, 1, MIN_ARRIVALS_PER_SAMPLE - 1)).toBe(0);
    const off = new OverloadGuard({ maxInFlight: 0, maxDelayMs: 0, maxUtilization: 0, manual: true });
    expect(hotSamples(off, 50, 1)).toBe(0);
  });

  it('when the event loop is late by more than CALLBACK_MAX_EVENT_LOOP_DELAY_MS under callbacks, then callbacks are refused', () => {
    const guard = new OverloadGuard({ maxInFlight: 0, maxDelayMs: 100, maxUtilization: 0, manual: true });
    let refused = 0;
    for (let s = 0; s < SUSTAIN_SAMPLES + 5; s++) {
      for (let i = 0; i < MIN_ARRIVALS_PER_SAMPLE; i++) if (guard.admit() !== null) refused++;
      guard.sample({ delayMs: 250, utilization: 0 });
    }
    expect(refused).toBeGreaterThan(0);
  });
});
