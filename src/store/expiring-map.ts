/**
 * A bounded in-process map whose keys expire, with every insert O(1) amortised at any size.
 *
 * - Past `maxKeys` the oldest key goes first (a queue of all keys in insertion order).
 * - Expired keys are swept at most once per `sweepIntervalMs`. Keys are kept in one insertion-ordered lane per
 *   time to live (rounded up to a power of two milliseconds), so within a lane they expire in insertion order
 *   and a sweep stops at the lane's first live key. Keys of one fixed time to live (the usual case: a dedupe
 *   window, a rate-limit window) are therefore forgotten exactly when due; in a lane of mixed times to live a
 *   key may outlive its expiry by less than the lane's width, never beyond the cap. Reads check expiry
 *   themselves, so such a key is never returned.
 * - The queues are arrays with a moving head, not Maps: V8 leaves a hole at the front of a Map for every
 *   key deleted there, and finding the first key again walks the holes, so "delete the oldest" on a Map
 *   costs more the longer it runs. A key set again or deleted leaves a stale queue entry, skipped when it
 *   reaches the front and dropped when the queue is compacted.
 * - No object per key (docs/performance.md, "Memory mode: what a call keeps"): the entries are primitives in
 *   parallel arrays in insertion order (key, value, expiry), which are also the queue for the cap; the Map
 *   holds each key's entry number (a small integer) and the lanes hold entry numbers. The collector's
 *   concurrent marking visits every live object, and the memory bridge keeps one key per open call in two
 *   of these maps (the dedupe window, the grouping keys). Kept strings are flat (`flatString`).
 * - `workDone` counts the entries that sweeps and evictions visited, so tests can assert on the work an
 *   insert costs instead of on wall time.
 */

export interface ExpiringMapOptions {
  maxKeys: number;
  now?: () => number;
  /** Default 1000. */
  sweepIntervalMs?: number;
}

/** The lane of keys that never expire. */
const FOREVER = Infinity;

function laneOf(ttlMs: number | null): number {
  if (ttlMs === null || !Number.isFinite(ttlMs)) return FOREVER;
  return 2 ** Math.ceil(Math.log2(Math.max(1, ttlMs)));
}

/**
 * The string as one flat string. A string built with `+` or a template literal is a chain of V8 cons strings,
 * one heap object per join, for as long as it is kept (a dedupe key `c:<call id>:<extension>:<state>` is four
 * or five). `normalize()` answers it flattened into one string (NFC leaves Latin-1 text as it is); a string
 * that normalization would change (some text beyond Latin-1) is kept as it came.
 */
export function flatString(s: string): string {
  const flat = s.normalize();
  return flat === s ? flat : s;
}

/** A FIFO of entry numbers with a moving head; stale ones (no longer the key's entry) are skipped by the owner. */
class NumberQueue {
  items: number[] = [];
  head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  peek(): number | undefined {
    return this.items[this.head];
  }

  shift(): void {
    this.head++;
    // Drop the consumed front once it is at least half the array: amortised O(1).
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

export class ExpiringMap<V> {
  /** Key -> the number of its current entry. */
  private readonly index = new Map<string, number>();
  /**
   * Every entry in insertion order, entry n at n - base, the oldest not yet passed by the cap at `head`: the
   * queue for the cap. A key set again or deleted leaves its old entry behind (no longer in `index`).
   */
  private keys: string[] = [];
  private values: V[] = [];
  /** Infinity for a key without a time to live. */
  private expiries: number[] = [];
  private base = 0;
  private head = 0;
  /** One queue of entry numbers per time-to-live lane, for expiry. */
  private readonly lanes = new Map<number, NumberQueue>();
  private readonly maxKeys: number;
  private readonly now: () => number;
  private readonly sweepIntervalMs: number;
  private nextSweepAt = 0;
  /** Queue entries visited by sweeps, cap evictions and compactions since the map was made. */
  workDone = 0;

  constructor(opts: ExpiringMapOptions) {
    this.maxKeys = Math.max(1, Math.floor(opts.maxKeys));
    this.now = opts.now ?? Date.now;
    this.sweepIntervalMs = opts.sweepIntervalMs ?? 1000;
  }

  get size(): number {
    return this.index.size;
  }

  /** The value while the key is live, else undefined. */
  get(key: string): V | undefined {
    const n = this.index.get(key);
    if (n === undefined) return undefined;
    const at = this.expiries[n - this.base] as number;
    // A key without a time to live needs no clock read.
    if (at === FOREVER || at > this.now()) return this.values[n - this.base];
    this.index.delete(key);
    return undefined;
  }

  /** Milliseconds the key has left (Infinity without a time to live), or null when it is not live. */
  ttlLeft(key: string): number | null {
    const n = this.index.get(key);
    const now = this.now();
    const at = n === undefined ? -Infinity : (this.expiries[n - this.base] as number);
    return at > now ? at - now : null;
  }

  /** Sets the key as the newest, expiring `ttlMs` from now (null: never). */
  set(key: string, value: V, ttlMs: number | null): void {
    const now = this.now();
    const lane = laneOf(ttlMs);
    const n = this.base + this.keys.length;
    const flat = flatString(key);
    this.index.set(flat, n);
    this.keys.push(flat);
    this.values.push(flatValue(value));
    this.expiries.push(ttlMs === null ? FOREVER : now + ttlMs);
    if (lane !== FOREVER) {
      let queue = this.lanes.get(lane);
      if (!queue) this.lanes.set(lane, (queue = new NumberQueue()));
      queue.items.push(n);
    }
    if (now >= this.nextSweepAt) this.sweep(now);
    this.evictPastCap();
    // Keys set again or deleted leave stale entries behind; past twice the live keys, drop them.
    if (this.keys.length - this.head > 2 * this.index.size + 1024) this.compact();
  }

  /** Changes a live key's value, keeping its expiry and its place; false when it is not live. */
  replace(key: string, value: V): boolean {
    const n = this.index.get(key);
    if (n === undefined || (this.expiries[n - this.base] as number) <= this.now()) return false;
    this.values[n - this.base] = flatValue(value);
    return true;
  }

  delete(key: string): boolean {
    return this.index.delete(key);
  }

  /** Forgets expired keys now, unless a sweep ran within the last sweep interval. */
  sweepIfDue(): void {
    const now = this.now();
    if (now >= this.nextSweepAt) this.sweep(now);
  }

  clear(): void {
    this.index.clear();
    this.keys = [];
    this.values = [];
    this.expiries = [];
    this.base = 0;
    this.head = 0;
    this.lanes.clear();
  }

  /** Whether entry n is still its key's entry (not set again, deleted, expired and swept, or evicted). */
  private isCurrent(n: number): boolean {
    const i = n - this.base;
    return i >= this.head && this.index.get(this.keys[i] as string) === n;
  }

  private sweep(now: number): void {
    this.nextSweepAt = now + this.sweepIntervalMs;
    for (const [lane, queue] of this.lanes) {
      for (let n = queue.peek(); n !== undefined; n = queue.peek()) {
        this.workDone++;
        const current = this.isCurrent(n);
        if (current && (this.expiries[n - this.base] as number) > now) break;
        if (current) this.index.delete(this.keys[n - this.base] as string);
        queue.shift();
      }
      if (queue.length === 0) this.lanes.delete(lane);
    }
  }

  private evictPastCap(): void {
    while (this.index.size > this.maxKeys && this.head < this.keys.length) {
      this.workDone++;
      const n = this.base + this.head;
      if (this.isCurrent(n)) this.index.delete(this.keys[this.head] as string);
      this.head++;
      // Drop the passed front once it is at least half the arrays: amortised O(1).
      if (this.head >= 1024 && this.head * 2 >= this.keys.length) {
        this.keys = this.keys.slice(this.head);
        this.values = this.values.slice(this.head);
        this.expiries = this.expiries.slice(this.head);
        this.base += this.head;
        this.head = 0;
        // Entry numbers stay small integers (no boxed number per key): renumber long before they would not be.
        if (this.base > 2 ** 30) this.compact();
      }
    }
  }

  /** Keeps only the current entries, numbered again from 0, in the same order (the lanes' too). */
  private compact(): void {
    this.workDone += this.keys.length - this.head;
    const keys: string[] = [];
    const values: V[] = [];
    const expiries: number[] = [];
    // The lanes first, while their numbers are the old ones; they are renumbered below.
    for (const [lane, queue] of this.lanes) {
      this.workDone += queue.length;
      queue.items = queue.items.slice(queue.head).filter((n) => this.isCurrent(n));
      queue.head = 0;
      if (queue.length === 0) this.lanes.delete(lane);
    }
    const old = { keys: this.keys, base: this.base };
    for (let i = this.head; i < old.keys.length; i++) {
      const key = old.keys[i] as string;
      if (this.index.get(key) !== old.base + i) continue;
      this.index.set(key, keys.length);
      keys.push(key);
      values.push(this.values[i] as V);
      expiries.push(this.expiries[i] as number);
    }
    for (const queue of this.lanes.values()) {
      for (let j = 0; j < queue.items.length; j++) queue.items[j] = this.index.get(old.keys[(queue.items[j] as number) - old.base] as string) as number;
    }
    this.keys = keys;
    this.values = values;
    this.expiries = expiries;
    this.base = 0;
    this.head = 0;
  }
}

/** A string value kept flat (an event id is a join of two or three strings); any other value as it is. */
function flatValue<V>(value: V): V {
  return typeof value === 'string' ? (flatString(value) as V) : value;
}
