/**
 * Which instance leads subscriptions: holds the `subscriptions-leader` lease (src/lease/leader-lease.ts),
 * extending it every third of its ttl and, without it, asking for it every fifth (at once when the leader says
 * it let go). Tells its owner when this instance starts and stops leading.
 */
import type { Lock } from '../core/ports.js';
import { LeaderLease } from '../lease/leader-lease.js';
import type { Logger } from '../logger.js';

export const LEASE_NAME = 'subscriptions-leader';

export interface LeadershipOptions {
  lock: Lock;
  instanceId: string;
  logger: Logger;
  /** A dead leader is replaced within about this long. */
  ttlMs: number;
  now: () => number;
  /** This instance took the lease. */
  lead: () => void;
  /** This instance lost the lease. */
  stepDown: () => void;
}

export class Leadership {
  private readonly lease: LeaderLease;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly o: LeadershipOptions) {
    const log = o.logger;
    this.lease = new LeaderLease({
      lock: o.lock,
      name: LEASE_NAME,
      ttlMs: o.ttlMs,
      now: o.now,
      onAcquired: () => {
        if (this.closed) return; // close() gives it back
        log.info({ instanceId: o.instanceId }, 'this instance now leads subscriptions: full reconcile');
        o.lead();
      },
      onLost: (reason) => {
        o.stepDown();
        log.warn({ instanceId: o.instanceId, reason }, 'this instance no longer leads subscriptions');
      },
      onError: (err) => log.debug({ err: err instanceof Error ? err.message : String(err) }, 'subscription lease tick failed'),
    });
  }

  isLeader(): boolean {
    return this.lease.isLeader();
  }

  /** Another instance let the lease go: ask for it now, unless this one holds it. */
  leaseReleased(): void {
    if (!this.lease.held) this.schedule(0);
  }

  /** One attempt to take or extend the lease, then the next one scheduled. */
  tick(): Promise<void> {
    this.ticking ??= (this.closed ? Promise.resolve() : this.lease.hold().then(() => undefined)).finally(() => {
      this.ticking = null;
      const renewEvery = Math.floor(this.o.ttlMs / 3);
      const pollEvery = Math.max(100, Math.floor(this.o.ttlMs / 5));
      this.schedule(this.lease.held ? renewEvery : pollEvery);
    });
    return this.ticking;
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.tick();
    }, delayMs);
  }

  /** No more attempts; waits for one under way. */
  async stop(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.ticking?.catch(() => undefined);
  }

  /** Gives the lease up; true when this instance held it (the others may take it at once). */
  release(): Promise<boolean> {
    return this.lease.release();
  }
}
