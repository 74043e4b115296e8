/** In-memory KeyValueStore and Lock: one instance, nothing survives a restart. */
import { randomUUID } from 'node:crypto';
import type { KeyValueStore, Lock } from '../core/ports.js';

interface Entry {
  value: string;
  expiresAt: number | null;
}

export class MemoryKeyValueStore implements KeyValueStore {
  private readonly values = new Map<string, Entry>();
  private readonly lists = new Map<string, string[]>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  private live(key: string): Entry | undefined {
    const e = this.values.get(key);
    if (e && e.expiresAt !== null && e.expiresAt <= this.now()) {
      this.values.delete(key);
      return undefined;
    }
    return e;
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.values.set(key, { value, expiresAt: ttlMs ? this.now() + ttlMs : null });
  }

  async del(key: string): Promise<void> {
    this.values.delete(key);
    this.lists.delete(key);
  }

  async incrWithTtl(key: string, ttlMs: number): Promise<number> {
    const e = this.live(key);
    if (!e) {
      this.values.set(key, { value: '1', expiresAt: this.now() + ttlMs });
      return 1;
    }
    const n = Number(e.value) + 1;
    e.value = String(n);
    return n;
  }

  async pushCapped(key: string, value: string | readonly string[], maxLength: number): Promise<void> {
    const list = this.lists.get(key) ?? [];
    if (typeof value === 'string') list.unshift(value);
    else for (const v of value) list.unshift(v);
    if (list.length > maxLength) list.length = maxLength;
    this.lists.set(key, list);
  }

  async list(key: string): Promise<string[]> {
    return [...(this.lists.get(key) ?? [])];
  }

  async close(): Promise<void> {
    this.values.clear();
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
