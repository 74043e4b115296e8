/**
 * The subscription manager: keeps the PBX's CRM subscriptions equal to the desired set. This file wires the
 * parts and is the interface the rest of the bridge uses; each part owns one job:
 *
 * - intent.ts: operator registration and agent sign-in/out, recorded by whichever instance serves the request;
 * - presence.ts: the agent sockets open on this instance, as heartbeats in the store;
 * - desire.ts: the rules that make an extension desired (registered, or an agent signed in whose token is valid
 *   AND some instance has a socket of it open or the grace period since sign-in, sign-out or the last socket
 *   closing still runs);
 * - leadership.ts: the `subscriptions-leader` lease; only its holder talks to the PBX about subscriptions;
 * - reconciler.ts: the leader's work, extension by extension, with backoff;
 * - views.ts and counts.ts: what operators, metrics and readiness see.
 *
 * Every instance records intent (store) and nudges the leader (bus); the leader also sweeps every extension
 * periodically, so a lost nudge only costs latency.
 */
import type { AgentClaims } from '../core/agent.js';
import type { Lock, PbxApi } from '../core/ports.js';
import type { Logger } from '../logger.js';
import { DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import type { Nudge, NudgeBus } from './bus.js';
import { CountKeeper, type SubscriptionCounts } from './counts.js';
import type { CredentialCipher } from './credential-cipher.js';
import { Intent, type RegisterResult } from './intent.js';
import { Leadership } from './leadership.js';
import { Presence } from './presence.js';
import { Reconciler } from './reconciler.js';
import type { SubscriptionStore } from './store.js';
import { ExtensionViews, type ExtensionView } from './views.js';

export { LEASE_NAME } from './leadership.js';
export type { DesireSource, ExtensionView } from './views.js';
export type { RegisterResult } from './intent.js';

export interface SubscriptionStatus extends SubscriptionCounts {
  instanceId: string;
  /** This instance holds the lease and talks to the PBX about subscriptions. */
  leader: boolean;
  /** PBX calls made by this instance's reconciler (not counting sign-in and registration checks). */
  reconcileCalls: { subscribe: number; unsubscribe: number };
}

export interface SubscriptionManagerOptions {
  pbx: PbxApi;
  store: SubscriptionStore;
  lock: Lock;
  bus: NudgeBus;
  cipher: CredentialCipher;
  logger: Logger;
  /** UNSUBSCRIBE_GRACE_S in ms. */
  graceMs: number;
  /** RESUBSCRIBE_INTERVAL_S in ms: how often the leader renews every desired subscription. */
  resubscribeIntervalMs: number;
  /** The leader lease's time to live; a dead leader is replaced within about this long. Default 10000. */
  leaseTtlMs?: number;
  /** How long an instance's agent-socket heartbeat counts after its last refresh. Default 20000. */
  presenceTtlMs?: number;
  /** How often the leader re-examines every extension. Default: a quarter of the grace, within 250 ms..5 s. */
  sweepIntervalMs?: number;
  backoff?: Partial<BackoffPolicy>;
  /** PBX calls in flight at once. Default 4. */
  concurrency?: number;
  /** This process's id (presence and nudges), made once per process by whoever starts it. */
  instanceId: string;
  now?: () => number;
  random?: () => number;
  /** Closed after the manager (e.g. the Redis connection its bus owns). */
  onClose?: () => Promise<void>;
}

export class SubscriptionManager {
  readonly instanceId: string;
  private readonly bus: NudgeBus;
  private readonly log: Logger;
  private readonly onClose: (() => Promise<void>) | undefined;
  private readonly views: ExtensionViews;
  private readonly counts: CountKeeper;
  private readonly intent: Intent;
  private readonly presence: Presence;
  private readonly leadership: Leadership;
  private readonly reconciler: Reconciler;
  private started = false;
  private closed = false;

  constructor(opts: SubscriptionManagerOptions) {
    const instanceId = opts.instanceId;
    const now = opts.now ?? Date.now;
    const graceMs = Math.max(0, opts.graceMs);
    const logger = opts.logger.child({ component: 'subscriptions' });
    const { pbx, store, cipher } = opts;
    this.instanceId = instanceId;
    this.bus = opts.bus;
    this.log = logger;
    this.onClose = opts.onClose;
    this.views = new ExtensionViews(store, now);
    this.counts = new CountKeeper(this.views, now);
    const changed = async (extension: string, reset: boolean): Promise<void> => {
      await this.nudge(extension, reset);
      this.counts.kick();
    };
    this.intent = new Intent({ pbx, store, cipher, views: this.views, logger, graceMs, now, changed });
    this.presence = new Presence({
      instanceId,
      store,
      logger,
      graceMs,
      now,
      presenceTtlMs: Math.max(300, opts.presenceTtlMs ?? 20_000),
      changed: (extension) => this.nudge(extension, false),
    });
    this.reconciler = new Reconciler({
      pbx,
      store,
      cipher,
      logger,
      graceMs,
      now,
      resubscribeIntervalMs: Math.max(1000, opts.resubscribeIntervalMs),
      sweepIntervalMs: opts.sweepIntervalMs ?? Math.min(5000, Math.max(250, Math.floor(graceMs / 4))),
      backoff: { ...DEFAULT_BACKOFF, ...opts.backoff },
      concurrency: Math.max(1, opts.concurrency ?? 4),
      random: opts.random ?? Math.random,
      isLeader: () => this.isLeader(),
      committed: () => this.counts.kick(),
    });
    this.leadership = new Leadership({
      lock: opts.lock,
      instanceId,
      logger,
      ttlMs: Math.max(300, opts.leaseTtlMs ?? 10_000),
      now,
      lead: () => this.reconciler.startLeading(),
      stepDown: () => this.reconciler.stopLeading(),
    });
    this.bus.onMessage((n) => this.onNudge(n));
  }

  /** Starts the presence heartbeat and the lease loop; resolves after the first attempt to take the lease. */
  async start(): Promise<void> {
    if (this.started || this.closed) return;
    this.started = true;
    this.presence.start();
    this.counts.start();
    await this.leadership.tick();
    this.counts.kick();
  }

  // ---- operator API and agent sessions (intent.ts, presence.ts) --------------------------------------------

  /** PUT /api/extensions/:number: verifies the password with crmSubscribe, then keeps it subscribed for good. */
  register(extension: string, password: string): Promise<RegisterResult> {
    return this.intent.register(extension, password);
  }

  /** DELETE /api/extensions/:number: stops the operator's desire. Null when it was not registered. */
  unregister(extension: string): Promise<ExtensionView | null> {
    return this.intent.unregister(extension);
  }

  view(extension: string): Promise<ExtensionView | null> {
    return this.views.view(extension);
  }

  /** Every known extension, in numeric order. */
  list(): Promise<ExtensionView[]> {
    return this.views.list();
  }

  /** After the PBX accepted an agent's sign-in (which subscribed the extension): record it and keep the password. */
  agentSignedIn(claims: AgentClaims, password: string): Promise<void> {
    return this.intent.agentSignedIn(claims, password);
  }

  /** Sign-out: the grace period starts now (sockets still open keep the extension desired). */
  agentSignedOut(claims: AgentClaims): Promise<void> {
    return this.intent.agentSignedOut(claims);
  }

  /** An agent socket opened on this instance (hub hook; never throws). */
  socketOpened(claims: AgentClaims): void {
    this.presence.socketOpened(claims);
  }

  /** An agent socket closed on this instance (hub hook; never throws). The last one starts the grace period. */
  socketClosed(claims: AgentClaims): void {
    this.presence.socketClosed(claims);
  }

  // ---- status ----------------------------------------------------------------------------------------------

  isLeader(): boolean {
    return this.leadership.isLeader();
  }

  /** For metrics and readiness: cheap and synchronous; the counts are refreshed in the background every 5 s. */
  status(): SubscriptionStatus {
    return { instanceId: this.instanceId, leader: this.isLeader(), ...this.counts.current(), reconcileCalls: this.reconciler.callCounts() };
  }

  /** Like status(), with counts read now. */
  async statusNow(): Promise<SubscriptionStatus> {
    await this.counts.refresh();
    return this.status();
  }

  /** Reconciles everything now, renewing every desired subscription (also runs every RESUBSCRIBE_INTERVAL_S). */
  renewAll(): Promise<void> {
    return this.reconciler.renewAll();
  }

  // ---- nudges ----------------------------------------------------------------------------------------------

  private async nudge(extension: string, reset: boolean): Promise<void> {
    const nudge: Nudge = { kind: 'extension', extension, reset, from: this.instanceId };
    this.reconciler.extensionChanged(extension, reset);
    try {
      await this.bus.publish(nudge);
    } catch (err) {
      // The leader's sweep picks the change up anyway.
      this.log.debug({ err: err instanceof Error ? err.message : String(err) }, 'subscription nudge not published');
    }
  }

  private onNudge(n: Nudge): void {
    if (this.closed || n.from === this.instanceId) return;
    if (n.kind === 'released') this.leadership.leaseReleased();
    else this.reconciler.extensionChanged(n.extension, n.reset);
  }

  // ---- shutdown --------------------------------------------------------------------------------------------

  /**
   * Stops every timer and hands the lease over; subscriptions at the PBX stay as they are. Waits up to 3 s for
   * PBX calls in flight.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.presence.stop();
    this.counts.stop();
    this.reconciler.stop();
    await this.leadership.stop();
    await this.presence.settle();
    await this.reconciler.settle();
    // A lease that cannot be given back expires by itself.
    if (await this.leadership.release()) await this.bus.publish({ kind: 'released', from: this.instanceId }).catch(() => undefined);
    await this.counts.settle();
    await this.bus.close();
    await this.onClose?.();
  }
}
