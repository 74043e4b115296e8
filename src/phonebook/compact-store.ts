/**
 * The two compact structures the phonebook index is made of (index.ts), so 100,000 contacts cost a few tens
 * of MB rather than hundreds:
 * - NumberKeyMap: integer keys (E.164 digits, last 8 digits) to number ids, in typed arrays (open addressing)
 *   instead of a Map of boxed numbers;
 * - EntryStore: the contacts' compact strings as UTF-8 in 1 MiB buffers, outside the JS heap (so the
 *   garbage collector neither scans them nor lets the heap grow to twice their size).
 * Arrays they outgrow are freed at once (release-memory.ts), not left for a full collection to find.
 */

import { freeBuffers } from './release-memory.js';

/** A number id, or several (contacts sharing a number) in a list. */
export type Refs = number | number[];

const EMPTY = Number.NaN;

export class NumberKeyMap {
  private keys: Float64Array;
  private vals: Int32Array;
  private count = 0;
  /** Shared keys: vals[slot] = -(1 + index in lists). */
  private readonly lists: number[][] = [];

  /** `expectedKeys`: room for that many keys without growing (growing rehashes everything at once). */
  constructor(expectedKeys = 512) {
    let capacity = 1024;
    while (capacity < expectedKeys * 2) capacity *= 2;
    this.keys = new Float64Array(capacity).fill(EMPTY);
    this.vals = new Int32Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  get(key: number): Refs | undefined {
    const slot = this.find(key);
    if (slot < 0) return undefined;
    const v = this.vals[slot] as number;
    return v >= 0 ? v : this.lists[-v - 1];
  }

  /** A list once set stays the same array: pushing to what get() returns adds to it. */
  set(key: number, refs: Refs): void {
    if ((this.count + 1) * 2 > this.keys.length) this.grow();
    let slot = this.find(key);
    if (slot < 0) {
      slot = ~slot;
      this.keys[slot] = key;
      this.count++;
    }
    if (typeof refs === 'number') {
      this.vals[slot] = refs;
      return;
    }
    const current = this.vals[slot] as number;
    if (current < 0 && this.lists[-current - 1] === refs) return;
    this.lists.push(refs);
    this.vals[slot] = -this.lists.length;
  }

  /** Empties the map and gives back its typed arrays' buffers (to be freed: release-memory.ts). */
  release(): ArrayBufferLike[] {
    const buffers = [this.keys.buffer, this.vals.buffer];
    this.keys = new Float64Array(16).fill(EMPTY);
    this.vals = new Int32Array(16);
    this.count = 0;
    this.lists.length = 0;
    return buffers;
  }

  /** The slot holding `key`, or ~(the empty slot where it would go). */
  private find(key: number): number {
    const mask = this.keys.length - 1;
    let slot = hash(key) & mask;
    for (;;) {
      const k = this.keys[slot] as number;
      if (k !== k) return ~slot;
      if (k === key) return slot;
      slot = (slot + 1) & mask;
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    this.keys = new Float64Array(oldKeys.length * 2).fill(EMPTY);
    this.vals = new Int32Array(oldKeys.length * 2);
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i] as number;
      if (k !== k) continue;
      const slot = ~this.find(k);
      this.keys[slot] = k;
      this.vals[slot] = oldVals[i] as number;
    }
    freeBuffers([oldKeys.buffer, oldVals.buffer]);
  }
}

/** Keys are whole numbers below 2^53: mix both 32-bit halves. */
function hash(key: number): number {
  const lo = key % 4294967296;
  const hi = Math.floor(key / 4294967296);
  return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> 0;
}

const BLOCK_BYTES = 1024 * 1024;

export class EntryStore {
  private readonly blocks: Buffer[] = [];
  private used = BLOCK_BYTES;
  /** Per entry: its block, its start in the block, its length in bytes. Grown by doubling. */
  private block = new Int32Array(1024);
  private start = new Int32Array(1024);
  private length = new Int32Array(1024);
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(entry: string): void {
    const bytes = Buffer.byteLength(entry);
    if (this.blocks.length === 0 || this.used + bytes > (this.blocks[this.blocks.length - 1] as Buffer).length) {
      this.blocks.push(Buffer.allocUnsafeSlow(Math.max(BLOCK_BYTES, bytes)));
      this.used = 0;
    }
    if (this.count === this.block.length) {
      const outgrown = [this.block.buffer, this.start.buffer, this.length.buffer];
      this.block = resized(this.block, this.count * 2);
      this.start = resized(this.start, this.count * 2);
      this.length = resized(this.length, this.count * 2);
      freeBuffers(outgrown);
    }
    const b = this.blocks.length - 1;
    (this.blocks[b] as Buffer).write(entry, this.used);
    this.block[this.count] = b;
    this.start[this.count] = this.used;
    this.length[this.count] = bytes;
    this.used += bytes;
    this.count++;
  }

  get(i: number): string {
    if (i < 0 || i >= this.count) return '';
    const start = this.start[i] as number;
    return (this.blocks[this.block[i] as number] as Buffer).toString('utf8', start, start + (this.length[i] as number));
  }

  /** Empties the store and gives back its blocks' and arrays' buffers (to be freed: release-memory.ts). */
  release(): ArrayBufferLike[] {
    const buffers = [...this.blocks.map((b) => b.buffer), this.block.buffer, this.start.buffer, this.length.buffer];
    this.blocks.length = 0;
    this.used = BLOCK_BYTES;
    this.block = new Int32Array(16);
    this.start = new Int32Array(16);
    this.length = new Int32Array(16);
    this.count = 0;
    return buffers;
  }

  /** Drops the unused room of the per-entry arrays once nothing more is added in bulk. */
  trim(): void {
    const untrimmed = [this.block.buffer, this.start.buffer, this.length.buffer];
    const size = Math.max(this.count, 16);
    this.block = resized(this.block, size);
    this.start = resized(this.start, size);
    this.length = resized(this.length, size);
    freeBuffers(untrimmed);
  }
}

/** A copy of `a` in a new array of `length` elements (grown: zeros after; trimmed: the first ones). */
export function resized<T extends Int32Array | Uint8Array | Uint16Array>(a: T, length: number): T {
  const b = new (a.constructor as new (n: number) => T)(length);
  b.set(length >= a.length ? a : a.subarray(0, length));
  return b;
}
