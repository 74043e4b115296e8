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
 * - `workDone` counts the entries that sweeps and evictions visited, so tests can assert on the work an
 *   insert costs instead of on wall time.
 */

interface Slot<V> {
  key: string;
  value: V;
  /** Infinity for a key without a time to live. */
  expiresAt: number;
  lane: number;
}

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

/** A FIFO of slots with a moving head; stale slots (no longer in the map) are skipped by the owner. */
class SlotQueue<V> {
  private items: Array<Slot<V>> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(slot: Slot<V>): void {
    this.items.push(slot);
  }

  peek(): Slot<V> | undefined {
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

  /** Keeps only the slots `live` accepts, in order. */
  compact(live: (slot: Slot<V>) => boolean): void {
    this.items = this.items.slice(this.head).filter(live);
    this.head = 0;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

export class ExpiringMap<V> {
  private readonly slots = new Map<string, Slot<V>>();
  /** Every slot in insertion order, for the cap. */
  private readonly order = new SlotQueue<V>();
  /** One queue per time-to-live lane, for expiry. */
  private readonly lanes = new Map<number, SlotQueue<V>>();
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
    return this.slots.size;
  }

  /** The value while the key is live, else undefined. */
  get(key: string): V | undefined {
    const slot = this.slots.get(key);
    if (!slot) return undefined;
    // A key without a time to live needs no clock read.
    if (slot.expiresAt === FOREVER || slot.expiresAt > this.now()) return slot.value;
    this.slots.delete(key);
    return undefined;
  }

  /** Milliseconds the key has left (Infinity without a time to live), or null when it is not live. */
  ttlLeft(key: string): number | null {
    const slot = this.slots.get(key);
    const now = this.now();
    return slot && slot.expiresAt > now ? slot.expiresAt - now : null;
  }

  /** Sets the key as the newest, expiring `ttlMs` from now (null: never). */
  set(key: string, value: V, ttlMs: number | null): void {
    const now = this.now();
    const lane = laneOf(ttlMs);
    const slot: Slot<V> = { key, value, expiresAt: ttlMs === null ? FOREVER : now + ttlMs, lane };
    this.slots.delete(key);
    this.slots.set(key, slot);
    this.order.push(slot);
    if (lane !== FOREVER) {
      let queue = this.lanes.get(lane);
      if (!queue) this.lanes.set(lane, (queue = new SlotQueue()));
      queue.push(slot);
    }
    if (now >= this.nextSweepAt) this.sweep(now);
    this.evictPastCap();
    // Keys set again or deleted leave stale entries behind; past twice the live keys, drop them.
    if (this.order.length > 2 * this.slots.size + 1024) this.compact();
  }

  /** Changes a live key's value, keeping its expiry and its place; false when it is not live. */
  replace(key: string, value: V): boolean {
    const slot = this.slots.get(key);
    if (!slot || slot.expiresAt <= this.now()) return false;
    slot.value = value;
    return true;
  }

  delete(key: string): boolean {
    return this.slots.delete(key);
  }

  /** Forgets expired keys now, unless a sweep ran within the last sweep interval. */
  sweepIfDue(): void {
    const now = this.now();
    if (now >= this.nextSweepAt) this.sweep(now);
  }

  clear(): void {
    this.slots.clear();
    this.order.clear();
    this.lanes.clear();
  }

  private isCurrent = (slot: Slot<V>): boolean => this.slots.get(slot.key) === slot;

  private sweep(now: number): void {
    this.nextSweepAt = now + this.sweepIntervalMs;
    for (const [lane, queue] of this.lanes) {
      for (let slot = queue.peek(); slot; slot = queue.peek()) {
        this.workDone++;
        const current = this.isCurrent(slot);
        if (current && slot.expiresAt > now) break;
        if (current) this.slots.delete(slot.key);
        queue.shift();
      }
      if (queue.length === 0) this.lanes.delete(lane);
    }
  }

  private evictPastCap(): void {
    while (this.slots.size > this.maxKeys) {
      const slot = this.order.peek();
      if (!slot) return;
      this.workDone++;
      if (this.isCurrent(slot)) this.slots.delete(slot.key);
      this.order.shift();
    }
  }

  private compact(): void {
    this.workDone += this.order.length;
    this.order.compact(this.isCurrent);
    for (const [lane, queue] of this.lanes) {
      this.workDone += queue.length;
      queue.compact(this.isCurrent);
      if (queue.length === 0) this.lanes.delete(lane);
    }
  }
}
