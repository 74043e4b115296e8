import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import supertest from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CallbackFieldMap } from '../../src/core/callback.js';
import { dedupeRule, type NormalizedCallback } from '../../src/core/callback.js';
import type { AppendResult } from '../../src/core/ports.js';
import { createCallbackRouter } from '../../src/http/callback-route.js';
import { RecentCallbacks } from '../../src/http/recent-callbacks.js';
import { createLogger } from '../../src/logger.js';
import { MemoryKeyValueStore } from '../../src/store/memory.js';
import { LogCapture } from '../helpers/log-capture.js';

const SECRET = 'Sup3r-Secret_Value+42/x';
const ENC = encodeURIComponent(SECRET);

/** The route's `accept` port, done in the test: records what it got, applies the dedupe rule. */
class FakeAcceptor {
  readonly accepted: NormalizedCallback[] = [];
  failWith: Error | null = null;
  private next = 1;
  private readonly seen = new Map<string, string>();

  accept = async (cb: NormalizedCallback): Promise<AppendResult> => {
    if (this.failWith) throw this.failWith;
    const { key } = dedupeRule(cb);
    const first = this.seen.get(key);
    if (first) return { id: first, duplicate: true };
    const id = `${String(this.next++).padStart(13, '0')}-0`;
    this.seen.set(key, id);
    this.accepted.push(cb);
    return { id, duplicate: false };
  };
}

interface Harness {
  app: express.Express;
  acceptor: FakeAcceptor;
  recent: RecentCallbacks;
  logs: LogCapture;
}

function harness(fieldNames: CallbackFieldMap = {}): Harness {
  const logs = new LogCapture();
  const logger = createLogger('debug', logs.stream);
  const acceptor = new FakeAcceptor();
  const recent = new RecentCallbacks(new MemoryKeyValueStore());
  const app = express();
  app.use(createCallbackRouter({ secret: SECRET, fieldNames, accept: acceptor.accept, recent, logger }));
  return { app, acceptor, recent, logs };
}

const call = { extension: '122', caller: '09824740472', caller_name: 'NISHA', call_id: 'call-1' };

describe('PBX callback route', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });

  describe('when the callback is valid', () => {
    it('accepts a JSON body and answers with the event id', async () => {
      const res = await supertest(h.app).post(`/pbx/callback?secret=${ENC}`).send(call);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'SUCCESS', message: 'Callback accepted.', eventId: '0000000000001-0' });
      expect(h.acceptor.accepted).toEqual([
        { extension: '122', from: '09824740472', fromName: 'NISHA', callId: 'call-1', state: 'ringing' },
      ]);
    });

    it('accepts JSON nested under data', async () => {
      const res = await supertest(h.app)
        .post(`/pbx/callback?secret=${ENC}`)
        .send({ status: 'SUCCESS', data: { 'Caller-Destination-Number': '122', callerId: '555', Event: 'answered' } });
      expect(res.status).toBe(200);
      expect(h.acceptor.accepted[0]).toMatchObject({ extension: '122', from: '555', state: 'answered' });
    });

    it('accepts a +json content type', async () => {
      const res = await supertest(h.app)
        .post(`/pbx/callback?secret=${ENC}`)
        .set('Content-Type', 'application/vnd.pbx+json; charset=utf-8')
        .send(JSON.stringify(call));
      expect(res.status).toBe(200);
    });

    it('accepts a form body', async () => {
      const res = await supertest(h.app)
        .post(`/pbx/callback?secret=${ENC}`)
        .type('form')
        .send('ext=122&cid_number=%2B15551230000&cid_name=Nisha+Patel');
      expect(res.status).toBe(200);
      expect(h.acceptor.accepted[0]).toMatchObject({ extension: '122', from: '+15551230000', fromName: 'Nisha Patel' });
    });

    it('accepts a GET with the fields in the query string', async () => {
      const res = await supertest(h.app).get(`/pbx/callback/${ENC}?exten=122&src=555&uniqueid=u1`);
      expect(res.status).toBe(200);
      expect(h.acceptor.accepted[0]).toMatchObject({ extension: '122', from: '555', callId: 'u1' });
    });

    it('merges query and body, the body winning', async () => {
      const res = await supertest(h.app).post(`/pbx/callback?secret=${ENC}&extension=999&src=555`).send({ extension: '122' });
      expect(res.status).toBe(200);
      expect(h.acceptor.accepted[0]).toMatchObject({ extension: '122', from: '555' });
    });

    it('treats an empty body of any type as no body', async () => {
      const res = await supertest(h.app).post(`/pbx/callback?secret=${ENC}&ext=122&from=555`).set('Content-Type', 'text/plain').send('');
      expect(res.status).toBe(200);
    });

    it('uses the site field names', async () => {
      h = harness({ extension: ['agent'], from: ['clid'] });
      const res = await supertest(h.app).post(`/pbx/callback?secret=${ENC}`).send({ agent: '122', clid: '555', extension: '999' });
      expect(res.status).toBe(200);
      expect(h.acceptor.accepted[0]).toMatchObject({ extension: '122', from: '555' });
    });

    it('logs a debug line per accepted callback', async () => {
      await supertest(h.app).post(`/pbx/callback?secret=${ENC}`).send(call);
      const line = h.logs.parsed().find((l) => l['msg'] === 'callback accepted');
      expect(line).toMatchObject({ level: 20, eventId: '0000000000001-0', extension: '122', duplicate: false });
      expect(typeof line?.['latencyMs']).toBe('number');
    });
  });

  describe('when the secret comes in each supported place', () => {
    const places = [
      ['query', (t: supertest.Test) => t, `/pbx/callback?secret=${ENC}`],
      ['path', (t: supertest.Test) => t, `/pbx/callback/${ENC}`],
      ['header', (t: supertest.Test) => t.set('X-Callback-Secret', SECRET), '/pbx/callback'],
    ] as const;

    it.each(places)('accepts a POST with the secret in the %s', async (_place, decorate, url) => {
      const res = await decorate(supertest(h.app).post(url)).send(call);
      expect(res.status).toBe(200);
    });

    it.each(places)('accepts a GET with the secret in the %s', async (_place, decorate, url) => {
      const sep = url.includes('?') ? '&' : '?';
      const res = await decorate(supertest(h.app).get(`${url}${sep}extension=122&caller=555`));
      expect(res.status).toBe(200);
    });
  });

  describe('when the secret is wrong or missing', () => {
    it.each([
      ['missing', '/pbx/callback', undefined],
      ['wrong in the query', '/pbx/callback?secret=nope-nope-nope', undefined],
      ['wrong in the path', '/pbx/callback/nope-nope-nope', undefined],
      ['wrong in the header', '/pbx/callback', 'nope-nope-nope'],
      ['a prefix of the secret', `/pbx/callback?secret=${encodeURIComponent(SECRET.slice(0, -1))}`, undefined],
      ['empty', '/pbx/callback?secret=', undefined],
    ])('answers 401 when %s', async (_label, url, header) => {
      let t = supertest(h.app).post(url);
      if (header !== undefined) t = t.set('X-Callback-Secret', header);
      const res = await t.send(call);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ status: 'FAILED', message: 'Invalid or missing callback secret.' });
      expect(h.acceptor.accepted).toEqual([]);
    });

    it('records the 401 with where a secret was presented', async () => {
      await supertest(h.app).get('/pbx/callback/wrong-secret-here?ext=122').set('X-Callback-Secret', 'another-wrong-one');
      const [entry] = await h.recent.list();
      expect(entry).toMatchObject({ path: '/pbx/callback/[redacted]', secretFrom: ['path', 'header'], result: { status: 401 } });
      expect(JSON.stringify(entry)).not.toContain('wrong-secret-here');
      expect(JSON.stringify(entry)).not.toContain('another-wrong-one');
    });
  });

  describe('when the body is not acceptable', () => {
    it('answers 413 over 64 KiB', async () => {
      const big = JSON.stringify({ ...call, pad: 'x'.repeat(70 * 1024) });
      const res = await supertest(h.app).post(`/pbx/callback?secret=${ENC}`).set('Content-Type', 'application/json').send(big);
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ status: 'FAILED' });
      expect(h.acceptor.accepted).toEqual([]);
    });

    it('accepts a body of exactly 64 KiB', async () => {
      const body = JSON.stringify({ ...call, pad: '' });
      const padded = JSON.stringify({ ...call, pad: 'x'.repeat(64 * 1024 - body.length) });
      expect(Buffer.byteLength(padded)).toBe(64 * 1024);
      const res = await supertest(h.app).post(`/pbx/callback?secret=${ENC}`).set('Content-Type', 'application/json').send(padded);
      expect(res.status).toBe(200);
    });

    it('answers 413 to a chunked body without a length, without waiting for all of it', async () => {
      const server = h.app.listen(0);
      try {
        const { port } = server.address() as AddressInfo;
        const status = await new Promise<number>((resolve, reject) => {
          const req = httpRequest(
            { port, method: 'POST', path: `/pbx/callback?secret=${ENC}`, headers: { 'content-type': 'application/json' } },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          );
          req.on('error', reject);
          const chunk = 'x'.repeat(16 * 1024);
          for (let i = 0; i < 8; i++) req.write(chunk);
          req.end();
        });
        expect(status).toBe(413);
      } finally {
        await new Promise((r) => server.close(r));
      }
    });

    it.each(['text/plain', 'application/xml'])('answers 415 to %s', async (type) => {
      const res = await supertest(h.app).post(`/pbx/callback?secret=${ENC}`).set('Content-Type', type).send('extension=122&caller=5');
      expect(res.status).toBe(415);
      expect(res.body.status).toBe('FAILED');
      expect(res.body.message).toMatch(/Content-Type/);
    });

    it('answers 400 to malformed JSON, naming it', async () => {
      const res = await supertest(h.app).post(`/pbx/callback?secret=${ENC}`).set('Content-Type', 'application/json').send('{"extension":');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ status: 'FAILED', message: expect.stringMatching(/Malformed JSON/) });
    });

    it.each(['[1,2]', '"122"', '42', 'null'])('answers 400 to the JSON %s, which is not an object', async (body) => {
      const res = await supertest(h.app).post(`/pbx/callback?secret=${ENC}`).set('Content-Type', 'application/json').send(body);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/Malformed JSON body: it must be an object/);
    });

    it('answers 400 naming the extension when it is missing', async () => {
      const res = await supertest(h.app).post(`/pbx/callback?secret=${ENC}`).send({ caller: '555' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ status: 'FAILED', message: expect.stringMatching(/^extension is missing/) });
    });

    it('answers 400 naming the caller when it is missing', async () => {
      const res = await supertest(h.app).get(`/pbx/callback?secret=${ENC}&ext=122`);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/^caller \(from\) is missing/);
    });

    it('answers 400 naming a bad state', async () => {
      const res = await supertest(h.app).post(`/pbx/callback?secret=${ENC}`).send({ ...call, event: 'CHANNEL_PARK' });
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/^state "event"/);
    });

    it('logs a warning for each rejected callback', async () => {
      await supertest(h.app).post(`/pbx/callback?secret=${ENC}`).send({ caller: '555' });
      const line = h.logs.parsed().find((l) => l['msg'] === 'callback rejected');
      expect(line).toMatchObject({ level: 40, status: 400, code: 'CALLBACK_ERR_NO_EXTENSION' });
    });
  });

  describe('when the same callback comes again', () => {
    it('answers with the first event id and duplicate:true, and no second event', async () => {
      const first = await supertest(h.app).post(`/pbx/callback?secret=${ENC}`).send(call);
      const second = await supertest(h.app).get(`/pbx/callback/${ENC}?ext=122&cid=09824740472&callid=call-1`);
      expect(second.status).toBe(200);
      expect(second.body).toEqual({ status: 'SUCCESS', message: 'Callback accepted.', eventId: first.body.eventId, duplicate: true });
      expect(h.acceptor.accepted).toHaveLength(1);
    });

    it('is a new event in another state', async () => {
      await supertest(h.app).post(`/pbx/callback?secret=${ENC}`).send(call);
      const res = await supertest(h.app).post(`/pbx/callback?secret=${ENC}`).send({ ...call, state: 'answered' });
      expect(res.body.duplicate).toBeUndefined();
      expect(h.acceptor.accepted).toHaveLength(2);
    });
  });

  describe('when accepting fails', () => {
    it('answers 503 so the PBX retries, logs the error, and keeps serving', async () => {
      h.acceptor.failWith = new Error('event log down');
      const res = await supertest(h.app).post(`/pbx/callback?secret=${ENC}`).send(call);
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ status: 'FAILED', message: 'Temporarily unable to accept callbacks.' });
      expect(h.logs.parsed().some((l) => l['level'] === 50 && l['msg'] === 'callback could not be accepted')).toBe(true);

      h.acceptor.failWith = null;
      const again = await supertest(h.app).post(`/pbx/callback?secret=${ENC}`).send(call);
      expect(again.status).toBe(200);
      expect(again.body.duplicate).toBeUndefined();
    });

    it('still answers when the recent-callbacks store fails', async () => {
      const kv = new MemoryKeyValueStore();
      kv.pushCapped = () => Promise.reject(new Error('redis down'));
      const logger = createLogger('silent');
      const acceptor = new FakeAcceptor();
      const app = express();
      app.use(createCallbackRouter({ secret: SECRET, fieldNames: {}, accept: acceptor.accept, recent: new RecentCallbacks(kv), logger }));
      const res = await supertest(app).post(`/pbx/callback?secret=${ENC}`).send(call);
      expect(res.status).toBe(200);
    });
  });

  describe('the record of recent callbacks and the logs', () => {
    afterEach(() => {
      expect(h.logs.text()).not.toContain(SECRET);
      expect(h.logs.text()).not.toContain(ENC);
    });

    it('keeps every callback, newest first, with secrets removed everywhere', async () => {
      const agent = supertest(h.app);
      await agent.post(`/pbx/callback?secret=${ENC}&note=x`).set('User-Agent', 'HoduPBX/1.0').send({ ...call, password: 'hunter2', token: 't0k' });
      await agent.get(`/pbx/callback/${ENC}?ext=122&from=555&remark=${ENC}`);
      await agent.post('/pbx/callback').set('X-Callback-Secret', SECRET).type('form').send(`ext=122&from=555&secret=${ENC}`);
      await agent.post(`/pbx/callback?secret=${ENC}`).set('Content-Type', 'application/json').send(`{"ext":"122","secret":"${SECRET}",`);
      await agent.post(`/pbx/callback?secret=${ENC}`).set('Content-Type', 'text/plain').send(`hello ${SECRET}`);
      await agent.post('/pbx/callback?secret=wrong-wrong').send(call);
      await agent.post(`/pbx/callback?secret=${ENC}`).send({ ...call, caller_name: `Name ${SECRET}` });

      const list = await h.recent.list();
      expect(list).toHaveLength(7);
      const text = JSON.stringify(list);
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(ENC);
      expect(text).not.toContain('hunter2');
      expect(text).not.toContain('t0k');

      const [named, unauthorized, plain, malformed, form, byPath, json] = list;
      expect(json).toMatchObject({
        method: 'POST',
        path: '/pbx/callback',
        query: { secret: '[redacted]', note: 'x' },
        headers: { 'content-type': expect.stringContaining('application/json'), 'user-agent': 'HoduPBX/1.0' },
        secretFrom: ['query'],
        fields: { extension: '122', caller: '09824740472', password: '[redacted]', token: '[redacted]' },
        rawBody: null,
        normalized: { extension: '122', from: '09824740472', callId: 'call-1', state: 'ringing' },
        result: { status: 200, eventId: '0000000000001-0', duplicate: false, error: null },
      });
      expect(byPath).toMatchObject({ method: 'GET', path: '/pbx/callback/[redacted]', secretFrom: ['path'], result: { status: 200 } });
      expect(form).toMatchObject({ secretFrom: ['header'], fields: { ext: '122', secret: '[redacted]' }, result: { status: 200 } });
      expect(malformed).toMatchObject({ fields: null, rawBody: expect.stringContaining('"ext":"122"'), result: { status: 400 } });
      expect(plain).toMatchObject({ rawBody: 'hello [redacted]', result: { status: 415 } });
      expect(unauthorized).toMatchObject({ result: { status: 401, error: 'Invalid or missing callback secret.' }, fields: null });
      expect(named).toMatchObject({ normalized: { fromName: 'Name [redacted]' }, result: { duplicate: true } });
      expect(new Date(json?.time ?? '').getTime()).toBeGreaterThan(Date.now() - 60_000);
    });

    it('keeps at most 50', async () => {
      for (let i = 0; i < 55; i++) await supertest(h.app).get(`/pbx/callback?secret=${ENC}&ext=${100 + i}&from=5`);
      const list = await h.recent.list();
      expect(list).toHaveLength(50);
      expect(list[0]?.normalized?.extension).toBe('154');
    });

    it('never logs the secret, even on errors', async () => {
      h.acceptor.failWith = new Error('boom');
      await supertest(h.app).post(`/pbx/callback?secret=${ENC}`).send(call);
      await supertest(h.app).post(`/pbx/callback/${ENC}`).send({ ext: SECRET.replace(/\D/g, ''), cid: SECRET });
      await supertest(h.app).post('/pbx/callback').set('X-Callback-Secret', SECRET).send({ caller: '1' });
      expect(h.logs.parsed().length).toBeGreaterThan(0);
    });
  });
});
