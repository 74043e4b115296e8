import { describe, expect, it } from 'vitest';
import { ExpiringMap } from '../../src/store/expiring-map.js';
import { MemoryKeyValueStore } from '../../src/store/memory.js';
import { MemoryEventLog } from '../../src/events/memory-event-log.js';

const DAY_MS = 86_400_000;

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('ExpiringMap', () => {
  it('when filled well past its cap, keeps the newest keys and forgets the oldest', () => {
    const map = new ExpiringMap<number>({ maxKeys: 1000 });
    for (let i = 0; i < 5000; i++) map.set(`k${i}`, i, DAY_MS);
    expect(map.size).toBe(1000);
    expect(map.get('k0')).toBeUndefined();
    expect(map.get('k3999')).toBeUndefined();
    expect(map.get('k4000')).toBe(4000);
    expect(map.get('k4999')).toBe(4999);
  });

  it('when a key is set again, it becomes the newest and outlives older keys at the cap', () => {
    const map = new ExpiringMap<number>({ maxKeys: 3 });
    map.set('a', 1, DAY_MS);
    map.set('b', 2, DAY_MS);
    map.set('c', 3, DAY_MS);
    map.set('a', 10, DAY_MS);
    map.set('d', 4, DAY_MS);
    expect(map.get('b')).toBeUndefined();
    expect(map.get('a')).toBe(10);
    expect(map.size).toBe(3);
  });

  it('when keys expire, reads miss them at once and the sweep removes them', () => {
    const c = clock();
    const map = new ExpiringMap<string>({ maxKeys: 100, now: c.now });
    map.set('short', 'x', 10_000);
    map.set('long', 'y', DAY_MS);
    map.set('forever', 'z', null);
    c.advance(10_000);
    expect(map.get('short')).toBeUndefined();
    expect(map.get('long')).toBe('y');
    map.set('other', 'w', 10_000);
    c.advance(10_001);
    map.set('trigger', 'v', 10_000);
    // 'other' expired and was swept by the insert that came after its expiry, without being read.
    expect(map.size).toBe(3);
    c.advance(DAY_MS);
    map.set('last', 'u', 10_000);
    expect(map.get('forever')).toBe('z');
    expect(map.get('long')).toBeUndefined();
    expect(map.size).toBe(2);
  });

  it('when times to live are mixed, every expired key is gone from reads and from the map within a lane width', () => {
    const c = clock();
    const map = new ExpiringMap<number>({ maxKeys: 10_000, now: c.now });
    for (let i = 0; i < 1000; i++) map.set(`k${i}`, i, 1000 + ((i * 7919) % 1000));
    c.advance(1000);
    for (let i = 0; i < 1000; i++) {
      const ttl = 1000 + ((i * 7919) % 1000);
      expect(map.get(`k${i}`)).toBe(ttl > 1000 ? i : undefined);
    }
    c.advance(2048);
    map.set('trigger', 0, 1000);
    expect(map.size).toBe(1);
  });

  it('when at its cap, an insert costs about as much work as below it (no walk over every key)', () => {
    const c = clock();
    const cap = 100_000;
    const map = new ExpiringMap<number>({ maxKeys: cap, now: c.now });
    const insert = (from: number, count: number): number => {
      const before = map.workDone;
      for (let i = from; i < from + count; i++) {
        map.set(`call-${i}`, i, DAY_MS);
        // A steady rate: one key a millisecond, so a sweep is due every 1,000 inserts.
        c.advance(1);
      }
      return (map.workDone - before) / count;
    };
    const below = insert(0, 50_000);
    insert(50_000, 50_000);
    const atCap = insert(100_000, 100_000);
    expect(map.size).toBe(cap);
    // One eviction per insert, and the evicted key's stale entry skipped once by a later sweep of its lane,
    // plus one live entry looked at per sweep: about 2. A walk over the table would be ~100,000 per insert.
    expect(atCap).toBeLessThanOrEqual(below + 2.05);
  });
});

describe('ExpiringMap entries kept as arrays', () => {
  it('when keys are set again and deleted past its compaction, every live key keeps its value, expiry and place', () => {
    const c = clock();
    const map = new ExpiringMap<number>({ maxKeys: 50_000, now: c.now });
    // Mixed lanes, every key set three times and a third of them deleted: stale entries force compactions.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 6000; i++) map.set(`k${i}`, round * 10_000 + i, i % 2 === 0 ? 10_000 : DAY_MS);
      c.advance(1);
    }
    for (let i = 0; i < 6000; i += 3) map.delete(`k${i}`);
    for (let i = 0; i < 2000; i++) map.set(`n${i}`, i, null);
    expect(map.size).toBe(6000);
    expect(map.get('k1')).toBe(20_001);
    expect(map.get('k3')).toBeUndefined();
    expect(map.ttlLeft('k2')).toBe(10_000 - 1);
    expect(map.replace('k4', 7)).toBe(true);
    expect(map.get('k4')).toBe(7);
    // The short lane expires and is swept away; the day lane and the keys without a time to live stay.
    c.advance(10_000);
    map.set('trigger', 0, DAY_MS);
    expect(map.get('k2')).toBeUndefined();
    expect(map.get('k5')).toBe(20_005);
    expect(map.get('n1999')).toBe(1999);
    expect(map.size).toBe(2000 + 2000 + 1);
  });

  it('when at its cap after a compaction, the oldest live key still goes first', () => {
    const map = new ExpiringMap<string>({ maxKeys: 3000 });
    for (let i = 0; i < 3000; i++) map.set(`a${i}`, `v${i}`, DAY_MS);
    // Setting the older half again makes the younger half the oldest.
    for (let round = 0; round < 3; round++) for (let i = 0; i < 1500; i++) map.set(`a${i}`, `w${i}`, DAY_MS);
    for (let i = 0; i < 1500; i++) map.set(`b${i}`, `x${i}`, DAY_MS);
    expect(map.size).toBe(3000);
    expect(map.get('a1500')).toBeUndefined();
    expect(map.get('a2999')).toBeUndefined();
    expect(map.get('a0')).toBe('w0');
    expect(map.get('b1499')).toBe('x1499');
  });

  it('when a key or value is a joined string or text beyond Latin-1, it reads back the same', () => {
    const map = new ExpiringMap<string>({ maxKeys: 10 });
    const id = ['bcid', String(Date.now())].join('-');
    map.set(`c:${id}:1000:ringing`, `${'0'.repeat(13)}-${id}`, DAY_MS);
    // U+0041 U+030A normalizes (NFC) to U+00C5: such a key stays as it came.
    map.set('caller:A\u030A', 'Ame\u0301lie', DAY_MS);
    expect(map.get(`c:${id}:1000:ringing`)).toBe(`0000000000000-${id}`);
    expect(map.get('caller:A\u030A')).toBe('Ame\u0301lie');
    expect(map.get('caller:\u00C5')).toBeUndefined();
  });
});

describe('MemoryKeyValueStore', () => {
  it('when counters keyed by caller-chosen names pile up, it holds at most its cap and forgets expired ones', async () => {
    const c = clock();
    const kv = new MemoryKeyValueStore({ now: c.now, maxExpiringKeys: 500 });
    await kv.set('snapshot', 'kept');
    for (let i = 0; i < 2000; i++) await kv.incrWithTtl(`ratelimit:login:ext:${i}`, 60_000);
    expect(kv.size).toBe(501);
    expect(await kv.get('ratelimit:login:ext:1999')).toBe('1');
    expect(await kv.get('ratelimit:login:ext:0')).toBeNull();
    c.advance(60_001);
    await kv.set('revoked:x', '1', 60_000);
    expect(kv.size).toBe(2);
    expect(await kv.get('snapshot')).toBe('kept');
  });

  it('when an attacker fills the rate-limit namespace, a revocation in another namespace is kept', async () => {
    const kv = new MemoryKeyValueStore({ maxExpiringKeys: 100 });
    await kv.set('revoked:jti-1', '1', 3_600_000);
    for (let i = 0; i < 1000; i++) await kv.incrWithTtl(`ratelimit:login:ip:10.0.${i}`, 60_000);
    expect(await kv.get('revoked:jti-1')).toBe('1');
    expect(kv.size).toBe(101);
  });

  it('when a counter is incremented, it keeps its first expiry', async () => {
    const c = clock();
    const kv = new MemoryKeyValueStore({ now: c.now });
    expect(await kv.incrWithTtl('n', 1000)).toBe(1);
    c.advance(600);
    expect(await kv.incrWithTtl('n', 1000)).toBe(2);
    c.advance(400);
    expect(await kv.get('n')).toBeNull();
    expect(await kv.incrWithTtl('n', 1000)).toBe(1);
  });

  it('when a batch larger than the list is pushed, it keeps the newest, newest first', async () => {
    const kv = new MemoryKeyValueStore();
    await kv.pushCapped('l', ['a', 'b'], 3);
    await kv.pushCapped('l', ['c', 'd', 'e', 'f', 'g'], 3);
    expect(await kv.list('l')).toEqual(['g', 'f', 'e']);
    await kv.pushCapped('l', 'h', 3);
    expect(await kv.list('l')).toEqual(['h', 'g', 'f']);
  });
});

describe('MemoryEventLog dedupe', () => {
  it('when more distinct calls than its dedupe cap arrive, the newest are still recognised and the oldest forgotten', async () => {
    const log = new MemoryEventLog({ maxDedupeKeys: 1000, maxEvents: 10 });
    const event = (i: number) => ({
      type: 'call.ringing' as const,
      timestamp: new Date(0).toISOString(),
      data: { extension: '101', call: { id: `c${i}`, sessionId: `s${i}`, from: '+1', fromRaw: '1', fromName: null, to: '101', direction: 'inbound' as const }, contact: null, otherContacts: [], links: {} },
    });
    const first = new Map<number, string>();
    for (let i = 0; i < 3000; i++) first.set(i, (await log.append(event(i), { key: `c${i}`, ttlMs: DAY_MS })).id);
    const again = await log.append(event(2999), { key: 'c2999', ttlMs: DAY_MS });
    expect(again).toEqual({ id: first.get(2999), duplicate: true });
    expect((await log.append(event(0), { key: 'c0', ttlMs: DAY_MS })).duplicate).toBe(false);
    await log.close();
  });
});
