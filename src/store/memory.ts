/** In-memory KeyValueStore and Lock: one instance, nothing survives a restart. */
import { randomUUID } from 'node:crypto';
import type { KeyValueStore, Lock } from '../core/ports.js';
import { ExpiringMap } from './expiring-map.js';

/** Keys written without a time to live are the bridge's own state; keys with one may be chosen by callers. */
const DEFAULT_MAX_EXPIRING_KEYS = 100_000;

export interface MemoryKeyValueStoreOptions {
  now?: () => number;
  /**
   * Upper bound on keys with a time to live, per namespace (the key's text before its first ':', e.g.
   * `ratelimit`, `revoked`). Past it the namespace's oldest such key is forgotten first, so rate-limit
   * counters keyed by extensions and addresses anyone can send never push out a revocation. Default 100,000.
   */
  maxExpiringKeys?: number;
}

export class MemoryKeyValueStore implements KeyValueStore {
  /** Keys without a time to live: snapshots, cursors. Written by the bridge itself, so not capped. */
  private readonly lasting = new Map<string, string>();
  /** Keys with one, per namespace: swept once a second and bounded (src/store/expiring-map.ts). */
  private readonly expiring = new Map<string, ExpiringMap<string>>();
  private readonly lists = new Map<string, string[]>();
  private readonly now: () => number;
  private readonly maxExpiringKeys: number;

  constructor(opts: MemoryKeyValueStoreOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.maxExpiringKeys = opts.maxExpiringKeys ?? DEFAULT_MAX_EXPIRING_KEYS;
  }

  /** How many keys (of both kinds) are held, for tests and metrics. */
  get size(): number {
    let n = this.lasting.size;
    for (const pool of this.expiring.values()) n += pool.size;
    return n;
  }

  private pool(key: string, create: true): ExpiringMap<string>;
  private pool(key: string, create: false): ExpiringMap<string> | undefined;
  private pool(key: string, create: boolean): ExpiringMap<string> | undefined {
    const colon = key.indexOf(':');
    const namespace = colon < 0 ? '' : key.slice(0, colon);
    let pool = this.expiring.get(namespace);
    if (!pool && create) this.expiring.set(namespace, (pool = new ExpiringMap<string>({ maxKeys: this.maxExpiringKeys, now: this.now })));
    // A write sweeps every namespace (each at most once a second), so an idle one does not keep its expired keys.
    if (create) for (const other of this.expiring.values()) other.sweepIfDue();
    return pool;
  }

  async get(key: string): Promise<string | null> {
    return this.lasting.get(key) ?? this.pool(key, false)?.get(key) ?? null;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs) {
      this.lasting.delete(key);
      this.pool(key, true).set(key, value, ttlMs);
    } else {
      this.pool(key, false)?.delete(key);
      this.lasting.set(key, value);
    }
  }

  async del(key: string): Promise<void> {
    this.lasting.delete(key);
    this.pool(key, false)?.delete(key);
    this.lists.delete(key);
  }

  async incrWithTtl(key: string, ttlMs: number): Promise<number> {
    const pool = this.pool(key, true);
    const current = pool.get(key);
    if (current === undefined) {
      pool.set(key, '1', ttlMs);
      return 1;
    }
    const n = Number(current) + 1;
    pool.replace(key, String(n));
    return n;
  }

  async pushCapped(key: string, value: string | readonly string[], maxLength: number): Promise<void> {
    const added = typeof value === 'string' ? [value] : value;
    // Newest first, and only the newest maxLength of what is added: a large batch costs its own length once.
    const fresh = added.slice(Math.max(0, added.length - maxLength)).reverse();
    const kept = this.lists.get(key) ?? [];
    this.lists.set(key, fresh.concat(kept.slice(0, Math.max(0, maxLength - fresh.length))));
  }

  async list(key: string): Promise<string[]> {
    return [...(this.lists.get(key) ?? [])];
  }

  async close(): Promise<void> {
    this.lasting.clear();
    for (const pool of this.expiring.values()) pool.clear();
    this.expiring.clear();
    this.lists.clear();
  }
}

export class MemoryLock implements Lock {
  private readonly held = new Map<string, { token: string; expiresAt: number }>();

  async acquire(name: string, ttlMs: number): Promise<string | null> {
    const h = this.held.get(name);
    if (h && h.expiresAt > Date.now()) return null;
    const token = randomUUID();
    this.held.set(name, { token, expiresAt: Date.now() + ttlMs });
    return token;
  }

  async extend(name: string, token: string, ttlMs: number): Promise<boolean> {
    const h = this.held.get(name);
    if (!h || h.token !== token || h.expiresAt <= Date.now()) return false;
    h.expiresAt = Date.now() + ttlMs;
    return true;
  }

  async release(name: string, token: string): Promise<void> {
    if (this.held.get(name)?.token === token) this.held.delete(name);
  }
}
