/**
 * One leader lease: at most one instance at a time holds it, for pollers that must not run twice (docs/operations.md).
 * Built on the Lock port, so the memory form (MemoryLock, one process) and the Redis form (RedisLock, every
 * instance on one Redis) behave alike. `hold()` is called before each round of work: it acquires the lease or
 * extends the one held, and answers whether this instance may work now. A holder that dies simply stops
 * extending; another instance takes over once the ttl has run out.
 *
 * When the Lock cannot be reached, a lease held stays valid until its local deadline (a little short of the
 * ttl) and is extended on the next hold(); past that deadline it counts as lost.
 */
import type { Lock } from '../core/ports.js';

export interface LeaderLeaseOptions {
  lock: Lock;
  name: string;
  /** How long the lease lasts without being extended. */
  ttlMs: number;
  now?: () => number;
  /** This instance took the lease (not called when it merely extends the one it holds). */
  onAcquired?: () => void;
  /** A lease held was lost: another instance has it, or it could not be extended in time. Not called by release(). */
  onLost?: (reason: string) => void;
  /** The Lock failed during hold() (the lease itself is judged by the rules above). */
  onError?: (err: unknown) => void;
}

export class LeaderLease {
  private token: string | null = null;
  /** Local deadline, kept a little short of the lock's so this instance never works on a lease already gone. */
  private validUntil = 0;
  /** Counts release() calls, so a hold() under way when the lease is released does not keep what it acquires. */
  private releases = 0;
  private readonly now: () => number;

  constructor(private readonly opts: LeaderLeaseOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Acquires or extends the lease; true while this instance holds it. */
  async hold(): Promise<boolean> {
    const { lock, name, ttlMs } = this.opts;
    const started = this.now();
    const releases = this.releases;
    try {
      if (this.token) {
        if (await lock.extend(name, this.token, ttlMs)) {
          this.validUntil = started + ttlMs * 0.8;
          return true;
        }
        this.lose('lease lost');
      }
      const token = await lock.acquire(name, ttlMs);
      if (!token) return false;
      if (releases !== this.releases) {
        await lock.release(name, token);
        return false;
      }
      this.token = token;
      this.validUntil = started + ttlMs * 0.8;
      this.opts.onAcquired?.();
      return true;
    } catch (err) {
      this.opts.onError?.(err);
      if (this.token && this.now() >= this.validUntil) this.lose('lease could not be extended');
      return this.isLeader();
    }
  }

  /** Whether the lease held at the last hold() is still valid by the local clock (no round trip). */
  isLeader(): boolean {
    return this.token !== null && this.now() < this.validUntil;
  }

  /** Whether this instance has the lease's token, valid or not (it tries to extend it rather than acquire). */
  get held(): boolean {
    return this.token !== null;
  }

  /** Gives the lease up so another instance can take it at once (on close). True when a lease held was given back. */
  async release(): Promise<boolean> {
    const token = this.token;
    this.releases += 1;
    this.token = null;
    this.validUntil = 0;
    if (!token) return false;
    try {
      await this.opts.lock.release(this.opts.name, token);
      return true;
    } catch {
      return false; // it expires by itself
    }
  }

  private lose(reason: string): void {
    this.token = null;
    this.validUntil = 0;
    this.opts.onLost?.(reason);
  }
}
