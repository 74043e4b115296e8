import { describe, expect, it } from 'vitest';
import { EntryStore, NumberKeyMap } from '../../src/phonebook/compact-store.js';

describe('NumberKeyMap', () => {
  it('keeps every key through growth, 15-digit keys included, and lists stay the same array', () => {
    const m = new NumberKeyMap();
    const keys = Array.from({ length: 50_000 }, (_, i) => (i % 2 === 0 ? 919_800_000_000 + i * 7919 : 999_999_999_999_999 - i));
    keys.forEach((k, i) => m.set(k, i));
    expect(m.size).toBe(keys.length);
    keys.forEach((k, i) => expect(m.get(k)).toBe(i));
    expect(m.get(12345)).toBeUndefined();
    const list = [1, 2];
    m.set(42, list);
    list.push(3);
    expect(m.get(42)).toEqual([1, 2, 3]);
    m.set(42, list);
    expect(m.get(42)).toBe(list);
  });
});

describe('EntryStore', () => {
  it('gives back every entry as stored, across 1 MiB blocks and with multi-byte characters', () => {
    const store = new EntryStore();
    const entries = Array.from({ length: 20_000 }, (_, i) => `["${i}","Zoë 😀 ${'x'.repeat(i % 97)}"]`);
    entries.push('y'.repeat(2 * 1024 * 1024));
    for (const e of entries) store.push(e);
    store.trim();
    store.push('after trim');
    expect(store.size).toBe(entries.length + 1);
    entries.forEach((e, i) => {
      if (store.get(i) !== e) throw new Error(`entry ${i} differs`);
    });
    expect(store.get(entries.length)).toBe('after trim');
    expect(store.get(-1)).toBe('');
  });
});
