/**
 * One leader lease: at most one instance at a time holds it, for pollers that must not run twice (docs/calls.md).
 * Built on the Lock port, so the memory form (MemoryLock, one process) and the Redis form (RedisLock, every
 * instance on one Redis) behave alike. `hold()` is called before each round of work: it acquires the lease or
 * extends the one held, and answers whether this instance may work now. A holder that dies simply stops
 * extending; another instance takes over once the ttl has run out.
 */
import type { Lock } from '../core/ports.js';

export interface LeaderLeaseOptions {
  lock: Lock;
  name: string;
  /** How long the lease lasts without being extended. */
  ttlMs: number;
  now?: () => number;
}

export class LeaderLease {
  private token: string | null = null;
  /** Local deadline, kept a little short of the lock's so this instance never works on a lease already gone. */
  private validUntil = 0;
  private readonly now: () => number;

  constructor(private readonly opts: LeaderLeaseOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Acquires or extends the lease; true while this instance holds it. A Lock error counts as not holding. */
  async hold(): Promise<boolean> {
    const { lock, name, ttlMs } = this.opts;
    const started = this.now();
    try {
      if (this.token && (await lock.extend(name, this.token, ttlMs))) {
        this.validUntil = started + ttlMs * 0.8;
        return true;
      }
      this.token = await lock.acquire(name, ttlMs);
      this.validUntil = this.token ? started + ttlMs * 0.8 : 0;
      return this.token !== null;
    } catch {
      this.token = null;
      this.validUntil = 0;
      return false;
    }
  }

  /** Whether the lease held at the last hold() is still valid by the local clock (no round trip). */
  isLeader(): boolean {
    return this.token !== null && this.now() < this.validUntil;
  }

  /** Gives the lease up so another instance can take it at once (on close). */
  async release(): Promise<void> {
    const token = this.token;
    this.token = null;
    this.validUntil = 0;
    if (token) await this.opts.lock.release(this.opts.name, token).catch(() => undefined);
  }
}
