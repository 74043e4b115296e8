import { describe, expect, it } from 'vitest';
import { ChunkedMap } from '../../src/store/chunked-map.js';

/** A ChunkedMap and a Map given the same operations must answer the same, in the same order. */
function same(c: ChunkedMap<string, number>, m: Map<string, number>): void {
  expect(c.size).toBe(m.size);
  expect([...c.entries()]).toEqual([...m.entries()]);
  for (const [k, v] of m) {
    expect(c.get(k)).toBe(v);
    expect(c.has(k)).toBe(true);
  }
}

describe('ChunkedMap', () => {
  it('starts a new chunk when the newest is full, and keeps insertion order across chunks', () => {
    const c = new ChunkedMap<string, number>(4);
    const m = new Map<string, number>();
    for (let i = 0; i < 10; i++) {
      c.set(`k${i}`, i);
      m.set(`k${i}`, i);
    }
    expect(c.chunkCount).toBe(3);
    same(c, m);
    expect(c.get('missing')).toBeUndefined();
    expect(c.has('missing')).toBe(false);
  });

  it('sets a key held by an older chunk in place, as a Map keeps its position', () => {
    const c = new ChunkedMap<string, number>(2);
    const m = new Map<string, number>();
    for (const k of ['a', 'b', 'c', 'd', 'e']) {
      c.set(k, 1);
      m.set(k, 1);
    }
    c.set('a', 9);
    m.set('a', 9);
    same(c, m);
    expect(c.chunkCount).toBe(3);
  });

  it('keeps an undefined value as a value', () => {
    const c = new ChunkedMap<string, number | undefined>(1);
    c.set('a', undefined);
    c.set('b', 2);
    expect(c.has('a')).toBe(true);
    expect(c.get('a')).toBeUndefined();
    expect(c.size).toBe(2);
  });

  it('drops emptied chunks and merges neighbours that fit in one, never the newest', () => {
    const c = new ChunkedMap<string, number>(4);
    for (let i = 0; i < 16; i++) c.set(`k${i}`, i); // chunks k0-3, k4-7, k8-11, k12-15
    expect(c.chunkCount).toBe(4);
    c.delete('k0');
    c.delete('k1'); // 2 + 4 do not fit
    expect(c.chunkCount).toBe(4);
    c.delete('k4');
    c.delete('k5'); // 2 + 2 fit: one chunk
    expect(c.chunkCount).toBe(3);
    expect([...c.keys()]).toEqual(['k2', 'k3', 'k6', 'k7', 'k8', 'k9', 'k10', 'k11', 'k12', 'k13', 'k14', 'k15']);
    for (const k of ['k12', 'k13', 'k14', 'k15']) c.delete(k); // the newest, emptied, stays the newest
    expect(c.chunkCount).toBe(3);
    c.set('n', 1);
    expect([...c.keys()].at(-1)).toBe('n');
    expect(c.size).toBe(9);
    expect(c.delete('k0')).toBe(false);
  });

  it('answers as a Map does over many random operations, with the chunk count bounded by the keys', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const c = new ChunkedMap<string, number>(8);
    const m = new Map<string, number>();
    for (let op = 0; op < 20_000; op++) {
      const k = `k${rand(300)}`;
      if (rand(3) === 0) expect(c.delete(k)).toBe(m.delete(k));
      else {
        c.set(k, op);
        m.set(k, op);
      }
      expect(c.chunkCount).toBeLessThanOrEqual((2 * c.size) / 8 + 2);
      if (op % 997 === 0) same(c, m);
    }
    same(c, m);
    c.clear();
    expect(c.size).toBe(0);
    expect([...c.keys()]).toEqual([]);
  });

  it('lets the oldest key be deleted while iterating from the oldest, as eviction does', () => {
    const c = new ChunkedMap<string, number>(3);
    for (let i = 0; i < 10; i++) c.set(`k${i}`, i);
    const seen: string[] = [];
    for (const k of c.keys()) {
      seen.push(k);
      c.delete(k);
      if (c.size <= 2) break;
    }
    expect(seen).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']);
    expect([...c.keys()]).toEqual(['k8', 'k9']);
  });
});
