/**
 * The last callbacks as received, for operators (`GET /api/callbacks/recent`). Kept in the shared
 * key-value store so every instance's callbacks show up; entries arrive here already redacted.
 */
import type { NormalizedCallback } from '../core/callback.js';
import type { KeyValueStore } from '../core/ports.js';

export const RECENT_CALLBACKS_KEY = 'callbacks:recent';

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

export class RecentCallbacks {
  private readonly kv: KeyValueStore;
  private readonly max: number;
  private readonly onError: (err: unknown) => void;

  constructor(kv: KeyValueStore, max = 50, onError: (err: unknown) => void = () => {}) {
    this.kv = kv;
    this.max = max;
    this.onError = onError;
  }

  /** Fire-and-forget: never throws and never makes the callback wait for the store. */
  record(entry: RecentCallbackEntry): void {
    try {
      this.kv.pushCapped(RECENT_CALLBACKS_KEY, JSON.stringify(entry), this.max).catch((err: unknown) => this.report(err));
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

  /** Newest first; entries that no longer parse are skipped. */
  async list(): Promise<RecentCallbackEntry[]> {
    const raw = await this.kv.list(RECENT_CALLBACKS_KEY);
    const out: RecentCallbackEntry[] = [];
    for (const item of raw.slice(0, this.max)) {
      try {
        out.push(JSON.parse(item) as RecentCallbackEntry);
      } catch {
        // A foreign or truncated item: leave it out rather than fail the whole list.
      }
    }
    return out;
  }
}
