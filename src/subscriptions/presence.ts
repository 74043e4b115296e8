/**
 * Agent-socket presence on this instance: counts the agent sockets open here per extension, writes a heartbeat
 * to the store while any is open (so the leader knows the extension is in use), and starts the grace period
 * when the last one closes. Every instance runs one.
 */
import type { AgentClaims } from '../core/agent.js';
import type { Logger } from '../logger.js';
import type { SubscriptionStore } from './store.js';

export interface PresenceOptions {
  instanceId: string;
  store: SubscriptionStore;
  logger: Logger;
  graceMs: number;
  /** How long a heartbeat counts after it was written. */
  presenceTtlMs: number;
  now: () => number;
  /** The extension's desire may have changed: tell the leader. */
  changed: (extension: string) => Promise<void>;
}

export class Presence {
  /** extension -> open agent sockets here */
  private readonly sockets = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly o: PresenceOptions) {}

  start(): void {
    this.timer = setInterval(() => this.heartbeat(), Math.max(100, Math.floor(this.o.presenceTtlMs / 3)));
  }

  /** An agent socket opened on this instance (never throws). */
  socketOpened(claims: AgentClaims): void {
    if (claims.role !== 'agent' || this.closed) return;
    const extension = claims.extension;
    const n = (this.sockets.get(extension) ?? 0) + 1;
    this.sockets.set(extension, n);
    if (n > 1) return;
    this.enqueue('socket opened', async () => {
      await this.o.store.touchPresence(this.o.instanceId, [extension], this.o.now() + this.o.presenceTtlMs);
      await this.o.changed(extension);
    });
  }

  /** An agent socket closed on this instance (never throws). The last one starts the grace period. */
  socketClosed(claims: AgentClaims): void {
    if (claims.role !== 'agent' || this.closed) return;
    const extension = claims.extension;
    const n = (this.sockets.get(extension) ?? 0) - 1;
    if (n > 0) {
      this.sockets.set(extension, n);
      return;
    }
    this.sockets.delete(extension);
    this.enqueue('socket closed', async () => {
      const now = this.o.now();
      // Grace first, then the presence goes: the leader never sees the extension with neither.
      await this.o.store.update(extension, { updatedAt: now }, { agentUntil: now + this.o.graceMs }, false);
      await this.o.store.dropPresence(this.o.instanceId, extension);
      await this.o.changed(extension);
    });
  }

  /** Presence writes run one after another, so a quick open/close pair lands in order. */
  private enqueue(what: string, op: () => Promise<void>): void {
    this.chain = this.chain.then(op).catch((err: unknown) => {
      this.o.logger.warn({ err: err instanceof Error ? err.message : String(err) }, `subscription presence update failed (${what})`);
    });
  }

  private heartbeat(): void {
    if (this.closed || this.sockets.size === 0) return;
    const extensions = [...this.sockets.keys()];
    this.enqueue('heartbeat', () => this.o.store.touchPresence(this.o.instanceId, extensions, this.o.now() + this.o.presenceTtlMs));
  }

  /** Stops the heartbeat and ignores sockets from now on (settle() waits for writes under way). */
  stop(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  settle(): Promise<void> {
    return this.chain;
  }
}
