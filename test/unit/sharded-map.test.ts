import { describe, expect, it } from 'vitest';
import { ShardedMap } from '../../src/store/sharded-map.js';

describe('ShardedMap', () => {
  it('answers as a Map does over many random operations, keys of any length included', () => {
    let seed = 11;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const keys = ['', 'a', 'ab', 'c:1:100:ringing', ...Array.from({ length: 400 }, (_, i) => `k${i}-${'x'.repeat(i % 7)}`)];
    const s = new ShardedMap<number>();
    const m = new Map<string, number>();
    for (let op = 0; op < 20_000; op++) {
      const k = keys[rand(keys.length)] as string;
      const what = rand(4);
      if (what === 0) expect(s.delete(k)).toBe(m.delete(k));
      else if (what === 1) {
        expect(s.get(k)).toBe(m.get(k));
        expect(s.has(k)).toBe(m.has(k));
      } else {
        s.set(k, op);
        m.set(k, op);
      }
      expect(s.size).toBe(m.size);
    }
    expect(new Map(s.entries())).toEqual(m);
    expect(new Map([...s])).toEqual(m);
    s.clear();
    expect(s.size).toBe(0);
    expect([...s]).toEqual([]);
  });

  it('spreads ids and dedupe-shaped keys over its parts', () => {
    const s = new ShardedMap<number>();
    for (let i = 0; i < 16_000; i++) s.set(`c:${1796148375656 + i * 7}:${100 + (i % 50)}:ringing`, i);
    // No part far over a sixteenth of the keys.
    const sizes = (s as unknown as { shards: Array<Map<string, number>> }).shards.map((p) => p.size);
    expect(Math.max(...sizes)).toBeLessThan(16_000 / 4);
  });
});
