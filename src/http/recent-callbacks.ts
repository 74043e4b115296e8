/**
 * The last callbacks as received, for operators (`GET /api/callbacks/recent`). Kept in the shared
 * key-value store so every instance's callbacks show up; entries are redacted before they are stored.
 */
import type { NormalizedCallback } from '../core/callback.js';
import type { KeyValueStore } from '../core/ports.js';

export const RECENT_CALLBACKS_KEY = 'callbacks:recent';
/** Unauthenticated requests (wrong or missing secret) are kept apart, fewer of them (see RecentCallbacks). */
export const RECENT_REJECTED_KEY = 'callbacks:recent:rejected';

export type SecretSource = 'path' | 'query' | 'header';

export interface RecentCallbackEntry {
  /** ISO time the request arrived. */
  time: string;
  method: string;
  /** The path with a secret segment replaced by `[redacted]`. */
  path: string;
  /** The query string's fields; `secret` shows as `[redacted]`. */
  query: Record<string, unknown>;
  /** content-type, content-length, user-agent when sent; never a secret or authorization header. */
  headers: Record<string, string>;
  /** Where a secret was presented (none: empty), to diagnose 401s. */
  secretFrom: SecretSource[];
  /** The fields the callback was read from (query and body merged), redacted; null when there were none. */
  fields: Record<string, unknown> | null;
  /** The body text, redacted and cut to 2 KiB, when it could not be parsed; else null. */
  rawBody: string | null;
  /** How the fields were read, when they could be. */
  normalized: NormalizedCallback | null;
  result: {
    status: number;
    eventId: string | null;
    duplicate: boolean;
    /** The answer's message for anything but a 200. */
    error: string | null;
  };
}

/** Builds one entry, redacted, when it is about to be written (see RecentCallbacks.record). */
export type RecentCallbackThunk = () => RecentCallbackEntry;

export interface RecentCallbacksOptions {
  /**
   * How long a recorded callback may wait before it is written to the store. Default 250 ms. null: only
   * when listed or closed (for a store no other instance reads, where writing ahead buys nothing).
   */
  flushMs?: number | null;
  onError?: (err: unknown) => void;
  /**
   * At most this many entries recorded as `rejected` (unauthenticated) are kept and listed, apart from the
   * others, so a flood of wrong secrets cannot push real callbacks out of the record. Default 10.
   */
  maxRejected?: number;
}

/**
 * Recording is cheap on the callback's path: an entry is kept as a thunk in a small local ring (the newest
 * `max`), and only what is still among the newest `max` when the ring is flushed (at most every `flushMs`,
 * and before every `list()`) is redacted, serialized and written, in one pipelined write. Entries pushed out
 * of the ring before a flush never cost a redaction. Secrets live only in the thunks' closures in memory;
 * what is stored and returned is always the redacted entry.
 */
export class RecentCallbacks {
  private readonly kv: KeyValueStore;
  private readonly max: number;
  private readonly flushMs: number | null;
  private readonly onError: (err: unknown) => void;
  private readonly maxRejected: number;
  /** Oldest first, at most `max`. */
  private pending: RecentCallbackThunk[] = [];
  /** Oldest first, at most `maxRejected`. */
  private pendingRejected: RecentCallbackThunk[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** The last flush in the chain: flushes run one after the other, so the list keeps arrival order. */
  private flushing: Promise<void> | null = null;
  private closed = false;

  constructor(kv: KeyValueStore, max = 50, opts: RecentCallbacksOptions | ((err: unknown) => void) = {}) {
    this.kv = kv;
    this.max = max;
    const o = typeof opts === 'function' ? { onError: opts } : opts;
    this.flushMs = o.flushMs === undefined ? 250 : o.flushMs;
    this.onError = o.onError ?? (() => {});
    this.maxRejected = Math.max(1, Math.min(o.maxRejected ?? 10, max));
  }

  /**
   * Fire-and-forget: never throws and never makes the callback wait for the store. Pass a thunk to have the
   * (redacting) construction deferred to the flush, and skipped entirely if newer callbacks push it out first.
   */
  record(entry: RecentCallbackEntry | RecentCallbackThunk, opts: { rejected?: boolean } = {}): void {
    const ring = opts.rejected ? this.pendingRejected : this.pending;
    ring.push(typeof entry === 'function' ? entry : () => entry);
    if (ring.length > (opts.rejected ? this.maxRejected : this.max)) ring.shift();
    if (this.closed) {
      void this.flush();
      return;
    }
    if (this.timer === null && this.flushMs !== null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.flush();
      }, this.flushMs);
      this.timer.unref();
    }
  }

  /** Writes what is waiting; resolves when it (and any earlier flush) is in the store. Never rejects. */
  flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const previous = this.flushing ?? Promise.resolve();
    const current = previous.then(() => this.write());
    this.flushing = current;
    void current.then(() => {
      if (this.flushing === current) this.flushing = null;
    });
    return current;
  }

  private async write(): Promise<void> {
    const batch = this.pending;
    const rejected = this.pendingRejected;
    this.pending = [];
    this.pendingRejected = [];
    await Promise.all([this.writeList(RECENT_CALLBACKS_KEY, batch, this.max), this.writeList(RECENT_REJECTED_KEY, rejected, this.maxRejected)]);
  }

  private async writeList(key: string, batch: RecentCallbackThunk[], max: number): Promise<void> {
    if (batch.length === 0) return;
    const values: string[] = [];
    for (const make of batch) {
      try {
        values.push(JSON.stringify(make()));
      } catch (err) {
        this.report(err);
      }
    }
    try {
      await this.kv.pushCapped(key, values, max);
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    try {
      this.onError(err);
    } catch {
      // The reporter failing must not turn into an unhandled rejection either.
    }
  }

  /**
   * Newest first, at most `max`, of which at most `maxRejected` rejected ones; entries that no longer parse
   * are skipped. This instance's waiting entries are written first.
   */
  async list(): Promise<RecentCallbackEntry[]> {
    await this.flush();
    const [raw, rawRejected] = await Promise.all([this.kv.list(RECENT_CALLBACKS_KEY), this.kv.list(RECENT_REJECTED_KEY)]);
    const parse = (items: string[]): RecentCallbackEntry[] => {
      const out: RecentCallbackEntry[] = [];
      for (const item of items) {
        try {
          out.push(JSON.parse(item) as RecentCallbackEntry);
        } catch {
          // A foreign or truncated item: leave it out rather than fail the whole list.
        }
      }
      return out;
    };
    const accepted = parse(raw.slice(0, this.max));
    const rejected = parse(rawRejected.slice(0, this.maxRejected));
    if (rejected.length === 0) return accepted;
    // Both lists are newest first; a stable sort by time keeps each list's own order for equal times.
    return [...accepted, ...rejected].sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0)).slice(0, this.max);
  }

  /** Writes what is waiting and stops the timer; later records are written right away. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}
