/**
 * A Map split by insertion time into chunks of at most `chunkSize` keys, so no single insert ever rehashes a
 * table of more than `chunkSize` entries (docs/performance.md, "Memory mode: what a call keeps").
 *
 * Why: a V8 Map doubles its table when it fills, copying every entry in one step. With 131,072 or 262,144
 * open calls in memory mode that one insert stalls the callback path for 10-70 ms per Map, and the store's
 * Maps grow in lockstep (one key per call in each), so their rehashes land on the same callback.
 *
 * New keys go into the newest chunk; a new chunk is started when it holds `chunkSize` keys. Setting a key
 * that is already in an older chunk changes it in place, so iteration is in insertion order over the whole
 * map, as a Map's is. A lookup tries the chunks newest first (a few Map lookups at 200,000 keys). Deletes
 * merge neighbouring chunks that fit in one (`mergeAround`). Deleting the key being visited while iterating
 * from the oldest (the store's eviction) is safe as with a Map; deleting keys of older chunks while iterating
 * a newer one may end that iteration early.
 */
export class ChunkedMap<K, V> {
  /** Oldest first; never empty, the last is the one new keys go into. */
  private chunks: Array<Map<K, V>> = [new Map()];
  private count = 0;
  private readonly chunkSize: number;

  constructor(chunkSize = 16_384) {
    this.chunkSize = Math.max(1, Math.floor(chunkSize));
  }

  get size(): number {
    return this.count;
  }

  /** How many chunks hold the keys (for tests). */
  get chunkCount(): number {
    return this.chunks.length;
  }

  private chunkOf(key: K): Map<K, V> | undefined {
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const chunk = this.chunks[i] as Map<K, V>;
      if (chunk.has(key)) return chunk;
    }
    return undefined;
  }

  has(key: K): boolean {
    return this.chunkOf(key) !== undefined;
  }

  get(key: K): V | undefined {
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const chunk = this.chunks[i] as Map<K, V>;
      const v = chunk.get(key);
      if (v !== undefined || chunk.has(key)) return v;
    }
    return undefined;
  }

  set(key: K, value: V): this {
    const held = this.chunkOf(key);
    if (held !== undefined) {
      held.set(key, value);
      return this;
    }
    let newest = this.chunks[this.chunks.length - 1] as Map<K, V>;
    if (newest.size >= this.chunkSize) this.chunks.push((newest = new Map()));
    newest.set(key, value);
    this.count++;
    return this;
  }

  delete(key: K): boolean {
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const chunk = this.chunks[i] as Map<K, V>;
      if (!chunk.delete(key)) continue;
      this.count--;
      this.mergeAround(i);
      return true;
    }
    return false;
  }

  /**
   * After a delete in chunk i: two neighbours that fit in one chunk become one, the newer appended to the older
   * (which keeps the order), so there are never more than about 2 * size / chunkSize + 2 chunks however the
   * deletes fall. The newest chunk is never merged. A merge moves at most chunkSize keys.
   */
  private mergeAround(i: number): void {
    const last = this.chunks.length - 1;
    if (i >= last) return;
    if (i > 0 && this.absorb(i - 1)) return;
    if (i + 1 < last) this.absorb(i);
  }

  /** Moves chunk j + 1 into chunk j when both fit in one chunk (j + 1 not the newest); true when it did. */
  private absorb(j: number): boolean {
    const older = this.chunks[j] as Map<K, V>;
    const newer = this.chunks[j + 1] as Map<K, V>;
    if (older.size + newer.size > this.chunkSize) return false;
    for (const [k, v] of newer) older.set(k, v);
    // Emptied, so an iterator still on it ends; the keys are in `older`, where an iterator on it sees them.
    newer.clear();
    this.chunks.splice(j + 1, 1);
    return true;
  }

  clear(): void {
    this.chunks = [new Map()];
    this.count = 0;
  }

  *keys(): IterableIterator<K> {
    for (const chunk of [...this.chunks]) yield* chunk.keys();
  }

  *values(): IterableIterator<V> {
    for (const chunk of [...this.chunks]) yield* chunk.values();
  }

  *entries(): IterableIterator<[K, V]> {
    for (const chunk of [...this.chunks]) yield* chunk.entries();
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }
}
