/**
 * A string-keyed Map split into 16 Maps by a few characters of the key, for indexes whose order does not matter
 * (docs/performance.md, "Memory mode: what a call keeps").
 *
 * Why: a V8 Map doubles its table when it fills, copying every entry in one step. The memory store keeps one
 * key per open call in several Maps that grow in lockstep, so at 65,536, 131,072 and 262,144 open calls their
 * rehashes landed on one callback (30-56 ms). Split, each part rehashes a sixteenth of the keys, at its own
 * moment. One Map lookup per operation, as before; iteration is in no particular order.
 */
const SHARDS = 16;

/** Which part holds the key: four characters spread over it (ids and `c:<call id>:<ext>:<state>` keys differ in the middle). */
function shardOf(key: string): number {
  const n = key.length;
  if (n === 0) return 0;
  const h = key.charCodeAt(n - 1) + 3 * key.charCodeAt(n >> 1) + 5 * key.charCodeAt(n >> 2) + 7 * key.charCodeAt((3 * n) >> 2);
  return h & (SHARDS - 1);
}

export class ShardedMap<V> {
  private readonly shards: Array<Map<string, V>> = Array.from({ length: SHARDS }, () => new Map<string, V>());
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: string): V | undefined {
    return (this.shards[shardOf(key)] as Map<string, V>).get(key);
  }

  has(key: string): boolean {
    return (this.shards[shardOf(key)] as Map<string, V>).has(key);
  }

  set(key: string, value: V): this {
    const shard = this.shards[shardOf(key)] as Map<string, V>;
    const before = shard.size;
    shard.set(key, value);
    this.count += shard.size - before;
    return this;
  }

  delete(key: string): boolean {
    const deleted = (this.shards[shardOf(key)] as Map<string, V>).delete(key);
    if (deleted) this.count--;
    return deleted;
  }

  clear(): void {
    for (const shard of this.shards) shard.clear();
    this.count = 0;
  }

  /** Every entry, shard by shard. */
  *entries(): IterableIterator<[string, V]> {
    for (const shard of this.shards) yield* shard.entries();
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }
}
