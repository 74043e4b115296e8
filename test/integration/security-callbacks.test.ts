/**
 * Unauthenticated requests on the callback route are cheap: recorded values are cut before they are
 * redacted, the redaction pattern is linear, rejected requests get a bounded share of the recent record,
 * and the warning they cause is one line per interval with a count. Memory and Redis mode.
 */
import express from 'express';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { SECRET_PAIR_PATTERN } from '../../src/http/callback-redaction.js';
import { createCallbackRouter } from '../../src/http/callback-route.js';
import { RecentCallbacks, type RecentCallbackEntry } from '../../src/http/recent-callbacks.js';
import { createLogger } from '../../src/logger.js';
import { MemoryKeyValueStore } from '../../src/store/memory.js';
import { admin, createHarness, LogCapture, postJson, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';

const modes = [
  ['memory', () => ({})],
  ['redis', () => ({ REDIS_URL: inject('redisUrl') })],
] as const;

const rejectedLines = (logs: LogCapture) => logs.parsed().filter((l) => typeof l.msg === 'string' && l.msg.startsWith('callback rejected'));

describe.each(modes)('callback route under a flood of wrong secrets, %s mode', (mode, env) => {
  let h: Harness;
  let bridge: Bridge;
  const recent = async (): Promise<RecentCallbackEntry[]> => {
    const r = await fetch(`${bridge.url}/api/callbacks/recent`, { headers: admin });
    return ((await r.json()) as { callbacks: RecentCallbackEntry[] }).callbacks;
  };
  const wrong = (query = '', headers: Record<string, string> = {}) =>
    fetch(`${bridge.url}/pbx/callback?secret=wrong-secret-0000${query}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });

  beforeAll(async () => {
    h = await createHarness();
    bridge = await h.startBridge({ ...env(), LOG_LEVEL: 'warn' }, { redisPrefix: uniquePrefix(`sec-cb-${mode}`) });
  });
  afterAll(async () => {
    await h.close();
  });

  it('when a recorded value is a 16 KB auth… word, then the record holds it cut to 512 characters and redacted', async () => {
    const auth = 'auth'.repeat(4096);
    const ok = await postJson(`${bridge.url}/pbx/callback?secret=${SECRETS.callbackSecret}`, {
      extension: '101',
      caller: '+14155550132',
      note: `${auth}=hunter2`,
      memo: `password=${'a'.repeat(16 * 1024)}`,
    });
    expect(ok.status).toBe(200);
    // Unauthenticated: the URL and headers are all there is (Node caps them at 16 KB together).
    const refused = await wrong(`&note=${'auth'.repeat(1536)}%3Dhunter2`, { 'user-agent': `${'auth'.repeat(1536)}=hunter2` });
    expect(refused.status).toBe(401);

    const list = await recent();
    const accepted = list.find((e) => e.result.status === 200 && e.fields?.note !== undefined);
    const note = String(accepted?.fields?.note);
    expect(note).toHaveLength(513);
    expect(note.endsWith('…')).toBe(true);
    expect(note.startsWith('authauth')).toBe(true);
    expect(String(accepted?.fields?.memo)).toMatch(/^password=\[redacted\]…?$/);
    const rejected = list.find((e) => e.result.status === 401 && e.query.note !== undefined);
    expect(String(rejected?.query.note)).toHaveLength(513);
    expect(rejected?.headers['user-agent']).toHaveLength(257);
    expect(JSON.stringify(list)).not.toContain('hunter2');
    // Linear: no unbounded quantifier before the `:`/`=` the pattern looks for.
    expect(SECRET_PAIR_PATTERN.source.split('[:=]')[0]).not.toMatch(/\\[ws][*+]|\.[*+]/);
  });

  it('when 200 wrong secrets follow real callbacks, then the real ones stay in the record and at most 10 rejected ones are kept', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await postJson(`${bridge.url}/pbx/callback?secret=${SECRETS.callbackSecret}`, { extension: '102', caller: `+1415555${String(1000 + i)}`, call_id: `flood-${mode}-${i}` });
      ids.push(String(r.body.eventId));
    }
    const linesBefore = rejectedLines(h.logs).length;
    for (let batch = 0; batch < 10; batch++) await Promise.all(Array.from({ length: 20 }, () => wrong()));
    const list = await recent();
    const kept = new Set(list.map((e) => e.result.eventId));
    for (const id of ids) expect(kept.has(id)).toBe(true);
    expect(list.filter((e) => e.result.status === 401).length).toBeLessThanOrEqual(10);
    expect(list.length).toBeLessThanOrEqual(50);
    // 200 rejections within the interval: at most one line as it happened (plus a summary if the interval ended).
    expect(rejectedLines(h.logs).length - linesBefore).toBeLessThanOrEqual(2);
  });
});

describe('the rejection warning', () => {
  let server: Server;
  let url: string;
  const logs = new LogCapture();
  beforeAll(async () => {
    const app = express();
    app.use(
      createCallbackRouter({
        secret: SECRETS.callbackSecret,
        fieldNames: {},
        accept: async () => ({ id: '1-0', duplicate: false }),
        recent: new RecentCallbacks(new MemoryKeyValueStore(), 50, { flushMs: null }),
        logger: createLogger('warn', logs.stream),
        rejectedLogIntervalMs: 200,
      }),
    );
    server = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('when 30 requests are rejected in a burst, then one line comes at once and one line per interval counts the other 29', async () => {
    const suppressed = (): number => rejectedLines(logs).slice(1).reduce((n, l) => n + (typeof l.suppressed === 'number' ? l.suppressed : 0), 0);
    const started = Date.now();
    await Promise.all(Array.from({ length: 30 }, () => fetch(`${url}/pbx/callback?secret=nope-nope-nope`, { method: 'POST' })));
    const burstMs = Date.now() - started;
    await eventually(() => suppressed() >= 29, 5000, 'the summary lines');
    const [first, ...summaries] = rejectedLines(logs);
    expect(first).toMatchObject({ status: 401, msg: 'callback rejected', secretFrom: ['query'] });
    for (const summary of summaries) expect(summary).toMatchObject({ status: 401 });
    expect(suppressed()).toBe(29);
    // One summary per 200 ms interval the burst lasted (a busy machine may stretch the burst over several).
    expect(summaries.length).toBeLessThanOrEqual(Math.ceil(burstMs / 200) + 1);
    expect(logs.text()).not.toContain('nope-nope-nope');
    expect(logs.text()).not.toContain(SECRETS.callbackSecret);
  });
});
