/** The recent-callbacks record (src/http/recent-callbacks.ts): entries built lazily, written in one go. */
import { describe, expect, it } from 'vitest';
import { MemoryKeyValueStore } from '../../src/store/memory.js';
import { RecentCallbacks, type RecentCallbackEntry } from '../../src/http/recent-callbacks.js';
import { eventually } from '../helpers/wait.js';

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
    await eventually(async () => (await kv.list('callbacks:recent')).length > 0, 5000, 'the timed flush');
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
