/**
 * A string-keyed map spread over 16 Maps by a hash of the key, for the in-process tables that grow with open
 * calls. A V8 Map grows by rehashing every entry into a table twice the size, in one step, on the insert that
 * finds it full: a 262,144-entry Map takes ~15 ms to do it, a 524,288-entry one ~30 ms, and the call store's
 * tables grow together, so one callback used to wait for all of them (docs/performance.md, "Tables that grow
 * with open calls"). Spread over 16, each step rehashes a sixteenth, and the shards fill at slightly different
 * moments, so the same work comes as 16 short steps over many callbacks.
 *
 * Each shard keeps its own insertion order; there is no order across shards (`oldest` finds the oldest front
 * by a rank the caller keeps).
 */
const SHARD_BITS = 4;
const SHARD_MASK = (1 << SHARD_BITS) - 1;

/** How many code units from the key's end the shard is chosen by: where UUIDs and `<kind>:<call id>:…` keys differ. */
const HASHED_TAIL = 16;

/** A multiplicative hash of the key's last HASHED_TAIL code units (the whole key costs twice as much). */
function shardOf(key: string): number {
  const end = key.length;
  let h = end;
  for (let i = end > HASHED_TAIL ? end - HASHED_TAIL : 0; i < end; i++) h = Math.imul(h, 31) + key.charCodeAt(i);
  return (h ^ (h >>> 4) ^ (h >>> 8)) & SHARD_MASK;
}

export class ShardedMap<V> {
  private readonly shards: Array<Map<string, V>> = Array.from({ length: SHARD_MASK + 1 }, () => new Map<string, V>());
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: string): V | undefined {
    return this.shard(key).get(key);
  }

  has(key: string): boolean {
    return this.shard(key).has(key);
  }

  set(key: string, value: V): void {
    const shard = this.shard(key);
    const before = shard.size;
    shard.set(key, value);
    this.count += shard.size - before;
  }

  delete(key: string): boolean {
    const gone = this.shard(key).delete(key);
    if (gone) this.count--;
    return gone;
  }

  clear(): void {
    for (const shard of this.shards) shard.clear();
    this.count = 0;
  }

  /**
   * Every entry, shard after shard. Like a Map's, the iteration is live: an entry deleted before it is reached
   * is skipped, and one added later comes later if its shard has not been passed yet.
   */
  *entries(): Generator<[string, V], void, undefined> {
    for (const shard of this.shards) yield* shard.entries();
  }

  /** Of the shards' first entries (each shard's oldest), the one `rank` puts lowest; undefined when empty. */
  oldest(rank: (value: V) => number): [string, V] | undefined {
    let best: [string, V] | undefined;
    let bestRank = Infinity;
    for (const shard of this.shards) {
      const first = shard.entries().next();
      if (first.done === true) continue;
      const r = rank(first.value[1]);
      if (best === undefined || r < bestRank) {
        best = first.value;
        bestRank = r;
      }
    }
    return best;
  }

  /** How many entries each shard holds: the spread this map exists for. */
  shardSizes(): number[] {
    return this.shards.map((shard) => shard.size);
  }

  private shard(key: string): Map<string, V> {
    return this.shards[shardOf(key)] as Map<string, V>;
  }
}
