/** One contract suite for the tracker's call state over memory and real Redis: compare-and-set, grouping, due index. */
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { CallSession } from '../../src/calls/model.js';
import { RedisCallStateStore } from '../../src/calls/redis-store.js';
import { MemoryCallStateStore, updateSession, type CallStateStore } from '../../src/calls/store.js';
import { createRedisClient } from '../../src/store/redis.js';
import { uniquePrefix } from '../helpers/redis-server.js';

const clients: Redis[] = [];
afterAll(() => clients.forEach((c) => c.disconnect()));

const implementations: Array<[string, () => CallStateStore]> = [
  ['memory', () => new MemoryCallStateStore()],
  [
    'redis',
    () => {
      const c = createRedisClient(inject('redisUrl'), 'test-call-state');
      clients.push(c);
      return new RedisCallStateStore(c, uniquePrefix('call-state'));
    },
  ],
];

function session(id: string): CallSession {
  return {
    sessionId: id, callId: null, fromRaw: '5550100', from: '5550100', fromName: null, direction: 'inbound', contact: null,
    otherContacts: [], links: {}, startedAt: 1000, answeredAt: null, answeredBy: null, endedAt: null, answerUnknown: false,
    legs: [{ extension: '101', state: 'ringing', ringingAt: 1000 }], phase: 'open',
    observed: { seen: false, absentBeforeSeen: false, maxLegsListed: 0, groupCallee: null, goneAt: null },
    callLog: { nextAt: 5000, attempts: 0, deadline: null }, recording: null, cdr: null, outbox: [], events: [],
  };
}

describe.each(implementations)('%s call state', (_name, make) => {
  it('when two writers race on one version, then exactly one wins', async () => {
    const store = make();
    expect(await store.compareAndSet(session('a'), 0)).toBe(true);
    expect(await store.compareAndSet(session('a'), 0)).toBe(false);
    const read = await store.read('a');
    expect(read?.version).toBe(1);
    const next = { ...session('a'), answeredBy: '101' };
    const results = await Promise.all([store.compareAndSet(next, 1), store.compareAndSet(next, 1)]);
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('when many sessions are read at once, then each is what read() gives, null for one that is not there', async () => {
    const store = make();
    await store.compareAndSet(session('m1'), 0);
    await store.compareAndSet(session('m2'), 0);
    await store.compareAndSet({ ...session('m2'), answeredBy: '101' }, 1);
    const many = await store.readMany(['m2', 'missing', 'm1']);
    expect(many).toEqual([await store.read('m2'), null, await store.read('m1')]);
    expect(many[0]?.version).toBe(2);
    expect(await store.readMany([])).toEqual([]);
  });

  it('when many updates run at once, then none is lost', async () => {
    const store = make();
    await store.compareAndSet(session('b'), 0);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        updateSession(store, 'b', (s) => {
          s.legs.push({ extension: String(200 + i), state: 'ringing', ringingAt: 1000 });
          return true;
        }),
      ),
    );
    expect((await store.read('b'))?.session.legs).toHaveLength(11);
  });

  it('when two instances claim one grouping key, then both get the same session; a stale one is replaced', async () => {
    const store = make();
    const [x, y] = await Promise.all([store.claimGroup('caller:1', session('one'), 10_000, null), store.claimGroup('caller:1', session('two'), 10_000, null)]);
    expect(x).toBe(y);
    // The winner's session is written with the claim; the loser's is not.
    expect((await store.read(x))?.version).toBe(1);
    expect(await store.read(x === 'one' ? 'two' : 'one')).toBeNull();
    expect(await store.claimGroup('caller:1', session('three'), 10_000, null)).toBe(x);
    expect(await store.claimGroup('caller:1', session('three'), 10_000, x)).toBe('three');
    expect(await store.group('caller:1')).toBe('three');
    expect(await store.due(0)).toEqual(expect.arrayContaining([x, 'three']));
  });

  it('when a session moves on, then the due index follows it, and a done one leaves it', async () => {
    const store = make();
    await store.compareAndSet(session('c'), 0);
    expect(await store.due(0)).toContain('c');
    await updateSession(store, 'c', (s) => {
      s.phase = 'over';
      s.callLog.nextAt = 5000;
      return true;
    });
    expect(await store.due(4999)).not.toContain('c');
    expect(await store.due(5000)).toContain('c');
    await updateSession(store, 'c', (s) => {
      s.phase = 'completed';
      s.recording = { nextAt: 9000, delayMs: 2000, deadline: 20_000, callId: 'x' };
      return true;
    });
    expect(await store.counts()).toEqual({ active: 1, recordingsPending: 1 });
    await updateSession(store, 'c', (s) => {
      s.phase = 'done';
      return true;
    });
    expect(await store.due(Number.MAX_SAFE_INTEGER)).not.toContain('c');
    expect(await store.counts()).toEqual({ active: 0, recordingsPending: 0 });
    expect((await store.read('c'))?.session.phase).toBe('done');
  });

  it('when more sessions are due than a call asks for, then successive calls take turns through all of them', async () => {
    const store = make();
    const ids = Array.from({ length: 25 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    for (const id of ids) await store.compareAndSet(session(id), 0);
    // One not due yet: never answered by a limited call either.
    await store.compareAndSet({ ...session('later'), phase: 'over', callLog: { nextAt: 9000, attempts: 0, deadline: null } }, 0);
    const seen = new Map<string, number>();
    for (let call = 0; call < 5; call++) {
      const batch = await store.due(5000, 10);
      expect(batch).toHaveLength(10);
      expect(new Set(batch).size).toBe(10);
      expect(batch).not.toContain('later');
      for (const id of batch) seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    // 50 answers over 25 due sessions: every one came up, none more than its share and one.
    expect([...seen.keys()].sort()).toEqual(ids);
    expect(Math.max(...seen.values())).toBeLessThanOrEqual(3);
    // Fewer due than asked for: all of them, once.
    expect((await store.due(5000, 100)).sort()).toEqual(ids);
    expect((await store.due(5000)).sort()).toEqual(ids);
    expect((await store.due(9000)).sort()).toEqual([...ids, 'later'].sort());
  });

  it('when an event is noted beside a session, then reads list it in log order, once, and it survives compare-and-sets', async () => {
    const store = make();
    await store.compareAndSet(session('n'), 0);
    const ringing = { type: 'call.ringing' as const, extension: '101', timestamp: '2026-01-01T00:00:00.000Z' };
    await updateSession(store, 'n', (s) => {
      s.events.push({ id: '1000-5', type: 'call.answered', extension: '101', timestamp: '2026-01-01T00:00:02.000Z' });
      return true;
    });
    await store.noteEvent('n', { id: '1000-1', ...ringing });
    await store.noteEvent('n', { id: '1000-1', ...ringing });
    const read = await store.read('n');
    // A note is no transition: the version stays, so a writer that read before it still wins its compare-and-set.
    expect(read?.version).toBe(2);
    expect(read?.session.events.map((e) => e.id)).toEqual(['1000-1', '1000-5']);
    await updateSession(store, 'n', (s) => {
      s.answeredBy = '101';
      return true;
    });
    await store.noteEvent('n', { id: '1000-9', type: 'call.ringing', extension: '102', timestamp: '2026-01-01T00:00:03.000Z' });
    const after = await store.read('n');
    expect(after?.session.answeredBy).toBe('101');
    expect(after?.session.events.map((e) => e.id)).toEqual(['1000-1', '1000-5', '1000-9']);
    expect(after?.session.events[0]).toEqual({ id: '1000-1', ...ringing });
  });

  it('when an event is noted on a session that is gone, then nothing is created', async () => {
    const store = make();
    await store.noteEvent('never', { id: '1-1', type: 'call.ringing', extension: '101', timestamp: '2026-01-01T00:00:00.000Z' });
    expect(await store.read('never')).toBeNull();
    await store.compareAndSet(session('gone'), 0);
    await store.remove('gone');
    await store.noteEvent('gone', { id: '1-2', type: 'call.ringing', extension: '101', timestamp: '2026-01-01T00:00:00.000Z' });
    expect(await store.read('gone')).toBeNull();
    expect(await store.compareAndSet(session('gone'), 0)).toBe(true);
  });

  it('when sessions are noted unlisted, then every read shows it, with no new version, and a later compare-and-set keeps it', async () => {
    const store = make();
    await store.compareAndSet(session('u1'), 0);
    await store.compareAndSet(session('u2'), 0);
    await store.noteUnlisted(['u1', 'missing']);
    await store.noteUnlisted([]);
    const [u1, u2, missing] = await store.readMany(['u1', 'u2', 'missing']);
    expect(u1?.session.observed.absentBeforeSeen).toBe(true);
    expect(u1?.version).toBe(1);
    expect(u2?.session.observed.absentBeforeSeen).toBe(false);
    expect(missing).toBeNull();
    expect(await store.read('missing')).toBeNull();
    expect((await store.read('u1'))?.session.observed.absentBeforeSeen).toBe(true);
    // A writer that read before the note writes a document without it: the note still stands.
    expect(await store.compareAndSet({ ...session('u1'), answeredBy: '101' }, 1)).toBe(true);
    const after = await store.read('u1');
    expect(after?.session.answeredBy).toBe('101');
    expect(after?.session.observed.absentBeforeSeen).toBe(true);
  });

  it('when a session carries any text, then a read gives it back exactly, as a copy of its own', async () => {
    const store = make();
    const odd = {
      ...session('text'),
      fromName: 'Zoë 東京 \u{1F4DE} "quoted" \\ back\nline \uD800 lone',
      links: { crm: 'https://crm.example/c?q=a&b=ü' },
    };
    await store.compareAndSet(odd, 0);
    const first = await store.read('text');
    expect(first?.session).toEqual(odd);
    // A read is the caller's to change: the stored document is not.
    first?.session.legs.push({ extension: '102', state: 'ringing', ringingAt: 2000 });
    odd.legs.push({ extension: '103', state: 'ringing', ringingAt: 3000 });
    expect((await store.read('text'))?.session.legs).toHaveLength(1);
  });
});

describe('memory call state, past maxSessions', () => {
  it('when more sessions are kept than maxSessions, then the oldest finished ones go, and none still due', async () => {
    const store = new MemoryCallStateStore({ maxSessions: 3 });
    const done = (id: string): CallSession => ({ ...session(id), phase: 'done' });
    await store.compareAndSet(session('open-1'), 0);
    for (const id of ['done-1', 'done-2', 'done-3']) await store.compareAndSet(done(id), 0);
    // Four kept, cap 3: the oldest session is still due, so it stays and nothing older can go; a later write
    // finds the oldest finished one behind it only once the open call is done and rewritten (moved last).
    expect(await store.read('open-1')).not.toBeNull();
    await store.compareAndSet(done('open-1'), 1);
    expect(await store.read('done-1')).toBeNull();
    expect((await store.readMany(['done-2', 'done-3', 'open-1'])).every((v) => v !== null)).toBe(true);
    expect(await store.counts()).toEqual({ active: 0, recordingsPending: 0 });
  });

  it('when a session is evicted or removed, then its grouping key goes with it, unless another session holds it now', async () => {
    const store = new MemoryCallStateStore({ maxSessions: 1 });
    await store.claimGroup('cid:old', session('old'), 12 * 3600_000, null);
    await store.compareAndSet({ ...session('old'), phase: 'done' }, 1);
    await store.claimGroup('cid:new', session('new'), 12 * 3600_000, null);
    // Two kept, cap 1: the finished one goes, and the key that named it with it.
    expect(await store.read('old')).toBeNull();
    expect(await store.group('cid:old')).toBeNull();
    expect(await store.group('cid:new')).toBe('new');
    // A stale owner replaced by a new claim: removing the stale one leaves the key to the new one.
    await store.claimGroup('cid:new', session('newer'), 12 * 3600_000, 'new');
    await store.remove('new');
    expect(await store.group('cid:new')).toBe('newer');
    await store.remove('newer');
    expect(await store.group('cid:new')).toBeNull();
  });
});
