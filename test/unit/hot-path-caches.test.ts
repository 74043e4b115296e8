/**
 * The cheap paths of the callback pipeline: log redaction without wildcard paths, the lazily written
 * recent-callbacks record, and the webhook dispatcher doing nothing while no endpoint exists.
 */
import { describe, expect, it } from 'vitest';
import type { NewCallEvent, PhonebookContact } from '../../src/core/event.js';
import { PhonebookIndex } from '../../src/phonebook/index.js';
import { createLogger, scrubSecrets } from '../../src/logger.js';
import { MemoryKeyValueStore, MemoryLock } from '../../src/store/memory.js';
import { RecentCallbacks, type RecentCallbackEntry } from '../../src/http/recent-callbacks.js';
import { MemoryEventLog } from '../../src/events/memory-event-log.js';
import { MemoryDeliveryStore, MemoryEndpointStore } from '../../src/crm-webhooks/stores.js';
import { CURSOR_KEY, WebhookDispatcher } from '../../src/crm-webhooks/dispatcher.js';
import type { DeliveryJob, WebhookEndpoint } from '../../src/crm-webhooks/types.js';

describe('log redaction', () => {
  it('censors secret keys at any depth, in errors and arrays, case-insensitively, without touching the logged objects', () => {
    const lines: string[] = [];
    const log = createLogger('debug', { write: (s: string) => void lines.push(s) });
    const err = Object.assign(new Error('boom'), { config: { headers: { Authorization: 'Bearer S1' } }, token: 'S2' });
    const nested = { a: { b: { c: { d: { password: 'S3' } } } }, list: [{ token_id: 'S4' }], TokenId: 'S5', x: 'kept' };
    log.info({ err, ...nested }, 'one');
    log.child({ component: 'c', secret: 'S6' }).warn({ deep: { apiKey: 'S7', cookie: 'S8' } }, 'two');
    log.error({ err: new AggregateError([Object.assign(new Error('inner'), { secret: 'S9' })], 'agg') }, 'three');
    const text = lines.join('');
    expect(text).not.toMatch(/S\d/);
    expect(text).toContain('[redacted]');
    expect(text).toContain('"x":"kept"');
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ err: { type: 'Error', message: 'boom', token: '[redacted]' } });
    expect(err.token).toBe('S2');
    expect(nested.a.b.c.d.password).toBe('S3');
  });

  it('returns the object itself when there is nothing to censor', () => {
    const obj = { eventId: '1-0', extension: '122', duplicate: false, latencyMs: 1.5, nested: { ok: [1, 2] } };
    expect(scrubSecrets(obj)).toBe(obj);
  });
});

describe('RecentCallbacks', () => {
  const entry = (n: number): RecentCallbackEntry => ({
    time: new Date(0).toISOString(),
    method: 'POST',
    path: '/pbx/callback',
    query: { n },
    headers: {},
    secretFrom: [],
    fields: null,
    rawBody: null,
    normalized: null,
    result: { status: 200, eventId: `${n}-0`, duplicate: false, error: null },
  });

  it('builds only the newest entries, in one write, when listed', async () => {
    const kv = new MemoryKeyValueStore();
    let writes = 0;
    const push = kv.pushCapped.bind(kv);
    kv.pushCapped = (k, v, m) => {
      writes++;
      return push(k, v, m);
    };
    const recent = new RecentCallbacks(kv, 3, { flushMs: null });
    const built: number[] = [];
    for (let i = 0; i < 10; i++) {
      recent.record(() => {
        built.push(i);
        return entry(i);
      });
    }
    expect(built).toEqual([]);
    const list = await recent.list();
    expect(list.map((e) => e.query['n'])).toEqual([9, 8, 7]);
    expect(built).toEqual([7, 8, 9]);
    expect(writes).toBe(1);
    recent.record(entry(10));
    expect((await recent.list()).map((e) => e.query['n'])).toEqual([10, 9, 8]);
  });

  it('writes on its own within flushMs, and on close', async () => {
    const kv = new MemoryKeyValueStore();
    const recent = new RecentCallbacks(kv, 50, { flushMs: 20 });
    recent.record(entry(1));
    expect(await kv.list('callbacks:recent')).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 100));
    expect(await kv.list('callbacks:recent')).toHaveLength(1);
    recent.record(entry(2));
    await recent.close();
    expect(await kv.list('callbacks:recent')).toHaveLength(2);
  });

  it('never throws when building or writing fails', async () => {
    const kv = new MemoryKeyValueStore();
    kv.pushCapped = () => Promise.reject(new Error('down'));
    const errors: unknown[] = [];
    const recent = new RecentCallbacks(kv, 50, { flushMs: null, onError: (e) => errors.push(e) });
    recent.record(() => {
      throw new Error('bad');
    });
    recent.record(entry(1));
    await expect(recent.list()).resolves.toEqual([]);
    expect(errors).toHaveLength(2);
  });
});

describe('WebhookDispatcher without endpoints', () => {
  let seq = 0;
  const newEvent = (): NewCallEvent => {
    seq++;
    return {
      type: 'call.ringing',
      timestamp: new Date().toISOString(),
      data: {
        extension: '122',
        call: { id: `c-${seq}`, from: '+919824740472', fromRaw: '+919824740472', fromName: null, to: '122', direction: 'inbound', sessionId: 'session-1' },
        contact: null,
        otherContacts: [],
        links: {},
      },
    };
  };
  const endpoint = (id: string): WebhookEndpoint => ({
    id,
    url: 'https://crm.example/hook',
    events: null,
    description: null,
    secret: 'whsec_x',
    status: 'active',
    disabledReason: null,
    disabledAt: null,
    createdAt: new Date().toISOString(),
  });

  it('does not read the log per event, and an endpoint created later gets every event accepted after it was created', async () => {
    const eventLog = new MemoryEventLog();
    const kv = new MemoryKeyValueStore();
    const deliveries = new MemoryDeliveryStore();
    const endpoints = new MemoryEndpointStore(deliveries);
    const jobs: DeliveryJob[] = [];
    let reads = 0;
    const readAfter = eventLog.readAfter.bind(eventLog);
    eventLog.readAfter = (after, limit) => {
      reads++;
      return readAfter(after, limit);
    };
    const dispatcher = new WebhookDispatcher({
      eventLog,
      kv,
      lock: new MemoryLock(),
      endpoints,
      deliveries,
      queue: { enqueue: async (j) => void jobs.push(...j), close: async () => {} },
      logger: createLogger('silent'),
    });
    await dispatcher.start();
    try {
      const first = await eventLog.append(newEvent(), null);
      await new Promise((r) => setTimeout(r, 20));
      await dispatcher.idle();
      const readsAfterFirst = reads;
      for (let i = 0; i < 20; i++) await eventLog.append(newEvent(), null);
      await new Promise((r) => setTimeout(r, 20));
      await dispatcher.idle();
      expect(reads).toBe(readsAfterFirst);

      // Created elsewhere (not through this dispatcher's service): seen at the next recheck, within about a second.
      await endpoints.create(endpoint('ep_1'));
      const after = await eventLog.append(newEvent(), null);
      const deadline = Date.now() + 3000;
      while (!jobs.some((j) => j.eventId === after.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(jobs.map((j) => j.eventId)).toContain(after.id);
      // It may also get events from up to one recheck interval before it existed (here: the 20 above), never older.
      expect(jobs.length).toBeLessThanOrEqual(21);
      expect(jobs.map((j) => j.eventId)).not.toContain(first.id);
      expect(await kv.get(CURSOR_KEY)).toBe(after.id);

      // Removed and created again through the service: taken into account at once.
      await endpoints.delete('ep_1');
      dispatcher.endpointsChanged();
      await dispatcher.idle();
      await eventLog.append(newEvent(), null);
      await new Promise((r) => setTimeout(r, 20));
      await dispatcher.idle();
      const count = jobs.length;
      await endpoints.create(endpoint('ep_2'));
      dispatcher.endpointsChanged();
      await dispatcher.idle();
      const next = await eventLog.append(newEvent(), null);
      await new Promise((r) => setTimeout(r, 20));
      await dispatcher.idle();
      expect(jobs.slice(count).map((j) => j.eventId)).toEqual([next.id]);
    } finally {
      await dispatcher.stop();
      await eventLog.close();
    }
  });
});

describe('PhonebookIndex lookup cache', () => {
  it('answers a repeated caller with an equal, separate result', async () => {
    const contact: PhonebookContact = {
      phonebookId: '1',
      displayName: 'Nisha',
      firstName: 'Nisha',
      lastName: '',
      email: '',
      extension: '',
      phoneNumber: '+91 98247 40472',
      cellNumber: '',
      phoneGroup: '1',
      customFields: {},
    };
    const index = await PhonebookIndex.build([contact], [], [], 'IN');
    const a = index.lookup('09824740472');
    const b = index.lookup('09824740472');
    expect(a.contact?.phonebookId).toBe('1');
    expect(b).toEqual(a);
    expect(b).not.toBe(a);
    expect(b.otherContacts).not.toBe(a.otherContacts);
    expect(index.lookup('+919824740472').contact?.phonebookId).toBe('1');
  });
});
