import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ShardedMap } from '../../src/store/sharded-map.js';

describe('ShardedMap', () => {
  it('when keys are set, replaced and deleted at random, then it answers as one Map does', () => {
    const sharded = new ShardedMap<number>();
    const plain = new Map<string, number>();
    let seed = 7;
    // A fixed sequence (an LCG), so a failure replays.
    const r = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 20_000; i++) {
      const key = `k${Math.floor(r() * 3000)}`;
      const op = r();
      if (op < 0.6) {
        sharded.set(key, i);
        plain.set(key, i);
      } else {
        expect(sharded.delete(key)).toBe(plain.delete(key));
      }
      expect(sharded.size).toBe(plain.size);
    }
    for (let i = 0; i < 3000; i++) {
      expect(sharded.get(`k${i}`)).toBe(plain.get(`k${i}`));
      expect(sharded.has(`k${i}`)).toBe(plain.has(`k${i}`));
    }
    expect(new Map(sharded.entries())).toEqual(plain);
    sharded.clear();
    expect(sharded.size).toBe(0);
    expect([...sharded.entries()]).toEqual([]);
  });

  it('when entries are deleted while they are iterated, then a deleted one never comes and every other one comes once', () => {
    const map = new ShardedMap<number>();
    for (let i = 0; i < 1000; i++) map.set(`id-${i}`, i);
    const deleted = new Set<string>();
    const seen: string[] = [];
    for (const [key, value] of map.entries()) {
      expect(deleted.has(key)).toBe(false);
      seen.push(key);
      // Every visit deletes another entry, one that has come already or is still to come.
      const other = `id-${(value * 7 + 3) % 1000}`;
      if (other !== key && map.delete(other)) deleted.add(other);
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (let i = 0; i < 1000; i++) if (!deleted.has(`id-${i}`)) expect(seen).toContain(`id-${i}`);
    expect(seen.some((k) => deleted.has(k))).toBe(true);
  });

  it('when asked for the oldest by a rank, then it answers the lowest-ranked of the shards’ first entries', () => {
    const map = new ShardedMap<{ seq: number }>();
    expect(map.oldest((v) => v.seq)).toBeUndefined();
    for (let i = 0; i < 500; i++) map.set(randomUUID(), { seq: 100 + i });
    const [firstKey] = [...map.entries()].find(([, v]) => v.seq === 100) ?? [];
    expect(map.oldest((v) => v.seq)?.[1].seq).toBe(100);
    map.delete(firstKey ?? '');
    expect(map.oldest((v) => v.seq)?.[1].seq).toBe(101);
  });

  it.each([
    ['session ids (UUIDs)', (i: number) => (i >= 0 ? randomUUID() : '')],
    ['dedupe keys', (i: number) => `c:${1_700_000_000 + i}.${i % 7}:${100 + (i % 50)}:ringing`],
    ['grouping keys', (i: number) => `cid:bench-${i}`],
  ])('when filled with %s, then every shard holds between a half and twice its share', (_name, keyOf) => {
    const map = new ShardedMap<number>();
    const n = 32_000;
    for (let i = 0; i < n; i++) map.set(keyOf(i), i);
    const sizes = map.shardSizes();
    const share = n / sizes.length;
    for (const size of sizes) {
      expect(size).toBeGreaterThan(share / 2);
      expect(size).toBeLessThan(share * 2);
    }
  });
});
