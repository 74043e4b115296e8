/**
 * The in-process duplicate check of the memory event log and of the Redis log's outage mode: key -> first
 * event id until it expires, bounded in size (expired keys are swept at most once a second, and past the
 * cap the oldest go first).
 */

const SWEEP_INTERVAL_MS = 1000;

interface Entry {
  id: string;
  expiresAt: number;
}

export class LocalDedupe {
  // Insertion order is oldest-first: re-remembering a key deletes it first.
  private readonly entries = new Map<string, Entry>();
  private nextSweepAt = 0;

  constructor(
    private readonly maxKeys: number,
    private readonly now: () => number,
  ) {}

  /** The first event's id while the key is live, else null. */
  seen(key: string): string | null {
    const e = this.entries.get(key);
    return e && e.expiresAt > this.now() ? e.id : null;
  }

  remember(key: string, id: string, expiresAt: number): void {
    this.entries.delete(key);
    this.entries.set(key, { id, expiresAt });
    const now = this.now();
    if (now >= this.nextSweepAt || this.entries.size > this.maxKeys) this.sweep(now);
  }

  clear(): void {
    this.entries.clear();
  }

  private sweep(now: number): void {
    this.nextSweepAt = now + SWEEP_INTERVAL_MS;
    for (const [key, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(key);
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.maxKeys) break;
      this.entries.delete(key);
    }
  }
}
