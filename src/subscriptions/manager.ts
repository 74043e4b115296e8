/**
 * The subscription manager: keeps the PBX's CRM subscriptions equal to the desired set.
 *
 * Desired set = extensions registered by an operator (always) ∪ extensions with an agent signed in. An agent
 * sign-in keeps its extension desired while the sign-in's token is valid AND (some instance has a socket of
 * that agent's extension open, OR less than the grace period passed since sign-in, sign-out or the last
 * socket closing). So an agent who signs in and never opens a socket lapses after the grace period, and every
 * agent sign-in lapses at its token's expiry at the latest.
 *
 * One instance at a time (the holder of the `subscriptions-leader` lease) reconciles: `crmSubscribe` what is
 * desired and not subscribed, `crmUnSubscribe` what is subscribed and no longer desired; per extension, with
 * exponential backoff on transient failures and `failed` (no automatic retry until new credentials or the next
 * full renewal) when the PBX refuses the credentials. Every instance records intent (store) and nudges the
 * leader (bus); the leader also sweeps every extension periodically, so a lost nudge only costs latency.
 *
 * Verification calls are the exception: agent sign-in (agent-routes.ts) and operator registration (`register`)
 * call crmSubscribe from whichever instance serves the request, because the answer decides the HTTP response.
 */
import { randomUUID } from 'node:crypto';
import type { AgentClaims } from '../core/agent.js';
import type { Lock, PbxApi } from '../core/ports.js';
import { PbxError } from '../errors.js';
import { LeaderLease } from '../lease/leader-lease.js';
import type { Logger } from '../logger.js';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import type { Nudge, NudgeBus } from './bus.js';
import { CredentialCipher, CredentialError } from './credential-cipher.js';
import { SUBSCRIPTION_STATES, type ExtensionRecord, type RecordPatch, type SubscriptionState, type SubscriptionStore } from './store.js';

export const LEASE_NAME = 'subscriptions-leader';
/** How often status() counts are refreshed. */
const COUNT_INTERVAL_MS = 5000;
/** setTimeout's ceiling. */
const MAX_TIMER_MS = 2_147_483_647;

export type DesireSource = 'admin' | 'agent';

/** What GET /api/extensions shows for one extension. Never a password. */
export interface ExtensionView {
  extension: string;
  desired: boolean;
  sources: DesireSource[];
  state: SubscriptionState;
  lastError: string | null;
  /** When the leader retries after a transient failure, or null. */
  nextRetryAt: string | null;
  updatedAt: string;
}

export type RegisterResult =
  | { ok: true; extension: ExtensionView }
  /** refused: the PBX said no to these credentials (422); unavailable: no answer (503); pbx_error: odd answer (502). */
  | { ok: false; reason: 'refused' | 'unavailable' | 'pbx_error'; message: string };

export interface SubscriptionStatus {
  instanceId: string;
  /** This instance holds the lease and talks to the PBX about subscriptions. */
  leader: boolean;
  /** Counts as of `countedAt` (refreshed in the background every 5 s, and after operator changes). */
  extensions: number;
  desired: number;
  byState: Record<SubscriptionState, number>;
  countedAt: string | null;
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
  instanceId?: string;
  now?: () => number;
  random?: () => number;
  /** Closed after the manager (e.g. the Redis connection its bus owns). */
  onClose?: () => Promise<void>;
}

interface Backoff {
  attempt: number;
  dueAt: number;
  timer: NodeJS.Timeout | null;
}

/** Manual: crmSubscribe/crmUnSubscribe answer 406 "Not Acceptable" naming the bad parameter. */
function isCredentialRefusal(err: PbxError): boolean {
  return err.isRejection && (err.pbxStatus === 406 || err.pbxStatus === 401 || err.pbxStatus === 403);
}

function isUnreachable(err: PbxError): boolean {
  return err.code === 'PBX_ERR_UNREACHABLE' || err.code === 'PBX_ERR_TIMEOUT';
}

function agentActive(rec: ExtensionRecord, present: boolean, now: number): boolean {
  return now < rec.agentTokenExp && (present || now < rec.agentUntil);
}

function isDesired(rec: ExtensionRecord, present: boolean, now: number): boolean {
  return rec.admin || agentActive(rec, present, now);
}

/** The password is kept while it may still be needed: registered, or an agent token that may still connect. */
function keepsPassword(rec: ExtensionRecord, now: number): boolean {
  return rec.admin || now < rec.agentTokenExp;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function compareExtensions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

export class SubscriptionManager {
  readonly instanceId: string;
  private readonly pbx: PbxApi;
  private readonly store: SubscriptionStore;
  private readonly bus: NudgeBus;
  private readonly cipher: CredentialCipher;
  private readonly log: Logger;
  private readonly graceMs: number;
  private readonly resubscribeIntervalMs: number;
  private readonly leaseTtlMs: number;
  private readonly presenceTtlMs: number;
  private readonly sweepIntervalMs: number;
  private readonly backoffPolicy: BackoffPolicy;
  private readonly concurrency: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly onClose: (() => Promise<void>) | undefined;

  // leadership
  private readonly lease: LeaderLease;
  private leaseTimer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private renewTimer: NodeJS.Timeout | null = null;

  // reconciler (leader only)
  private readonly dirty = new Set<string>();
  private readonly forced = new Set<string>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly backoffs = new Map<string, Backoff>();
  /** When an agent-only extension's desire ends next (sign-in grace or token expiry), it is looked at again. */
  private readonly deadlines = new Map<string, NodeJS.Timeout>();
  private readonly calls = { subscribe: 0, unsubscribe: 0 };

  // presence (every instance): extension -> open agent sockets here
  private readonly sockets = new Map<string, number>();
  private presenceChain: Promise<void> = Promise.resolve();
  private heartbeatTimer: NodeJS.Timeout | null = null;

  private counts: Omit<SubscriptionStatus, 'instanceId' | 'leader' | 'reconcileCalls'> = {
    extensions: 0,
    desired: 0,
    byState: { subscribed: 0, pending: 0, failed: 0, unsubscribed: 0 },
    countedAt: null,
  };
  private counting: Promise<void> | null = null;
  private countTimer: NodeJS.Timeout | null = null;
  private started = false;
  private closed = false;

  constructor(opts: SubscriptionManagerOptions) {
    this.instanceId = opts.instanceId ?? randomUUID();
    this.pbx = opts.pbx;
    this.store = opts.store;
    this.bus = opts.bus;
    this.cipher = opts.cipher;
    this.log = opts.logger.child({ component: 'subscriptions' });
    this.graceMs = Math.max(0, opts.graceMs);
    this.resubscribeIntervalMs = Math.max(1000, opts.resubscribeIntervalMs);
    this.leaseTtlMs = Math.max(300, opts.leaseTtlMs ?? 10_000);
    this.presenceTtlMs = Math.max(300, opts.presenceTtlMs ?? 20_000);
    this.sweepIntervalMs = opts.sweepIntervalMs ?? Math.min(5000, Math.max(250, Math.floor(this.graceMs / 4)));
    this.backoffPolicy = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.onClose = opts.onClose;
    this.lease = new LeaderLease({
      lock: opts.lock,
      name: LEASE_NAME,
      ttlMs: this.leaseTtlMs,
      now: this.now,
      onAcquired: () => this.becomeLeader(),
      onLost: (reason) => this.stepDown(reason),
      onError: (err) => this.log.debug({ err: err instanceof Error ? err.message : String(err) }, 'subscription lease tick failed'),
    });
    this.bus.onNudge((n) => this.onNudge(n));
  }

  /** Starts the presence heartbeat and the lease loop; resolves after the first attempt to take the lease. */
  async start(): Promise<void> {
    if (this.started || this.closed) return;
    this.started = true;
    this.heartbeatTimer = setInterval(() => this.heartbeat(), Math.max(100, Math.floor(this.presenceTtlMs / 3)));
    this.countTimer = setInterval(() => this.kickCount(), COUNT_INTERVAL_MS);
    await this.leaseTick();
    this.kickCount();
  }

  // ---- operator API ---------------------------------------------------------------------------------------

  /** PUT /api/extensions/:number: verifies the password with crmSubscribe, then keeps it subscribed for good. */
  async register(extension: string, password: string): Promise<RegisterResult> {
    try {
      await this.pbx.crmSubscribe(extension, password);
    } catch (err) {
      if (!(err instanceof PbxError)) throw err;
      if (isCredentialRefusal(err)) {
        this.log.info({ extension, pbxStatus: err.pbxStatus }, 'extension registration refused by the PBX');
        return { ok: false, reason: 'refused', message: err.pbxMessage ?? `The PBX refused the credentials (status ${err.pbxStatus ?? 'unknown'}).` };
      }
      this.log.warn({ extension, code: err.code, pbxStatus: err.pbxStatus, err: err.message }, 'extension registration: PBX call failed');
      return isUnreachable(err)
        ? { ok: false, reason: 'unavailable', message: 'The PBX cannot be reached right now; nothing was stored. Try again shortly.' }
        : { ok: false, reason: 'pbx_error', message: `The PBX gave an unexpected answer; nothing was stored. (${err.message})` };
    }
    const now = this.now();
    await this.store.update(
      extension,
      { admin: true, secret: this.cipher.seal(password, extension), state: 'subscribed', lastError: null, nextRetryAt: null, updatedAt: now },
      {},
      true,
    );
    this.log.info({ extension }, 'extension registered by an operator');
    await this.nudge(extension, true);
    this.kickCount();
    const view = await this.view(extension);
    if (!view) throw new Error(`extension ${extension} vanished right after registration`);
    return { ok: true, extension: view };
  }

  /** DELETE /api/extensions/:number: stops the operator's desire. Null when it was not registered. */
  async unregister(extension: string): Promise<ExtensionView | null> {
    const rec = await this.store.get(extension);
    if (!rec?.admin) return null;
    await this.store.update(extension, { admin: false, updatedAt: this.now() }, {}, false);
    this.log.info({ extension }, 'extension unregistered by an operator');
    await this.nudge(extension, false);
    this.kickCount();
    return this.view(extension);
  }

  async view(extension: string): Promise<ExtensionView | null> {
    const rec = await this.store.get(extension);
    if (!rec) return null;
    const now = this.now();
    const { present } = await this.store.readPresence(extension, now);
    return this.toView(rec, present, now);
  }

  /** Every known extension, in numeric order. */
  async list(): Promise<ExtensionView[]> {
    const extensions = (await this.store.list()).sort(compareExtensions);
    const views = await Promise.all(extensions.map((e) => this.view(e)));
    return views.filter((v): v is ExtensionView => v !== null);
  }

  private toView(rec: ExtensionRecord, present: boolean, now: number): ExtensionView {
    const sources: DesireSource[] = [];
    if (rec.admin) sources.push('admin');
    if (agentActive(rec, present, now)) sources.push('agent');
    return {
      extension: rec.extension,
      desired: sources.length > 0,
      sources,
      state: rec.state,
      lastError: rec.lastError,
      nextRetryAt: rec.nextRetryAt === null ? null : iso(rec.nextRetryAt),
      updatedAt: iso(rec.updatedAt),
    };
  }

  // ---- agent sessions --------------------------------------------------------------------------------------

  /** After the PBX accepted an agent's sign-in (which subscribed the extension): record it and keep the password. */
  async agentSignedIn(claims: AgentClaims, password: string): Promise<void> {
    if (claims.role !== 'agent') return;
    const now = this.now();
    await this.store.update(
      claims.extension,
      { secret: this.cipher.seal(password, claims.extension), state: 'subscribed', lastError: null, nextRetryAt: null, updatedAt: now },
      { agentTokenExp: claims.exp * 1000, agentUntil: now + this.graceMs },
      true,
    );
    await this.nudge(claims.extension, true);
    this.kickCount();
  }

  /** Sign-out: the grace period starts now (sockets still open keep the extension desired). */
  async agentSignedOut(claims: AgentClaims): Promise<void> {
    if (claims.role !== 'agent') return;
    const now = this.now();
    await this.store.update(claims.extension, { updatedAt: now }, { agentUntil: now + this.graceMs }, false);
    await this.nudge(claims.extension, false);
  }

  /** An agent socket opened on this instance (hub hook; never throws). */
  socketOpened(claims: AgentClaims): void {
    if (claims.role !== 'agent' || this.closed) return;
    const extension = claims.extension;
    const n = (this.sockets.get(extension) ?? 0) + 1;
    this.sockets.set(extension, n);
    if (n > 1) return;
    this.chainPresence('socket opened', async () => {
      await this.store.touchPresence(this.instanceId, [extension], this.now() + this.presenceTtlMs);
      await this.nudge(extension, false);
    });
  }

  /** An agent socket closed on this instance (hub hook; never throws). The last one starts the grace period. */
  socketClosed(claims: AgentClaims): void {
    if (claims.role !== 'agent' || this.closed) return;
    const extension = claims.extension;
    const n = (this.sockets.get(extension) ?? 0) - 1;
    if (n > 0) {
      this.sockets.set(extension, n);
      return;
    }
    this.sockets.delete(extension);
    this.chainPresence('socket closed', async () => {
      const now = this.now();
      // Grace first, then the presence goes: the leader never sees the extension with neither.
      await this.store.update(extension, { updatedAt: now }, { agentUntil: now + this.graceMs }, false);
      await this.store.dropPresence(this.instanceId, extension);
      await this.nudge(extension, false);
    });
  }

  /** Presence writes run one after another, so a quick open/close pair lands in order. */
  private chainPresence(what: string, op: () => Promise<void>): void {
    this.presenceChain = this.presenceChain.then(op).catch((err: unknown) => {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, `subscription presence update failed (${what})`);
    });
  }

  private heartbeat(): void {
    if (this.closed || this.sockets.size === 0) return;
    const extensions = [...this.sockets.keys()];
    this.chainPresence('heartbeat', () => this.store.touchPresence(this.instanceId, extensions, this.now() + this.presenceTtlMs));
  }

  // ---- status ----------------------------------------------------------------------------------------------

  isLeader(): boolean {
    return this.lease.isLeader();
  }

  /** For metrics and readiness: cheap and synchronous; the counts are refreshed in the background every 5 s. */
  status(): SubscriptionStatus {
    return { instanceId: this.instanceId, leader: this.isLeader(), ...this.counts, reconcileCalls: { ...this.calls } };
  }

  /** Like status(), with counts read now. */
  async statusNow(): Promise<SubscriptionStatus> {
    await this.refreshCounts();
    return this.status();
  }

  private kickCount(): void {
    if (this.counting || this.closed) return;
    this.counting = this.refreshCounts()
      .catch(() => undefined)
      .finally(() => (this.counting = null));
  }

  private async refreshCounts(): Promise<void> {
    const views = await this.list();
    const byState = Object.fromEntries(SUBSCRIPTION_STATES.map((s) => [s, 0])) as Record<SubscriptionState, number>;
    for (const v of views) byState[v.state] += 1;
    this.counts = { extensions: views.length, desired: views.filter((v) => v.desired).length, byState, countedAt: iso(this.now()) };
  }

  // ---- nudges and leadership -------------------------------------------------------------------------------

  private async nudge(extension: string, reset: boolean): Promise<void> {
    const nudge: Nudge = { kind: 'extension', extension, reset, from: this.instanceId };
    this.handleExtensionNudge(extension, reset);
    try {
      await this.bus.publish(nudge);
    } catch (err) {
      // The leader's sweep picks the change up anyway.
      this.log.debug({ err: err instanceof Error ? err.message : String(err) }, 'subscription nudge not published');
    }
  }

  private onNudge(n: Nudge): void {
    if (this.closed || n.from === this.instanceId) return;
    if (n.kind === 'released') {
      if (!this.lease.held) this.scheduleLeaseTick(0);
      return;
    }
    this.handleExtensionNudge(n.extension, n.reset);
  }

  private handleExtensionNudge(extension: string, reset: boolean): void {
    if (!this.isLeader()) return;
    if (reset) this.clearBackoff(extension);
    this.dirty.add(extension);
    this.pump();
  }

  /** Reconciles everything now, renewing every desired subscription (also runs every RESUBSCRIBE_INTERVAL_S). */
  async renewAll(): Promise<void> {
    if (!this.isLeader()) return;
    const extensions = await this.store.list();
    for (const e of extensions) {
      this.forced.add(e);
      this.dirty.add(e);
    }
    this.pump();
  }

  private async sweep(): Promise<void> {
    if (!this.isLeader()) return;
    for (const e of await this.store.list()) this.dirty.add(e);
    this.pump();
  }

  private scheduleLeaseTick(delayMs: number): void {
    if (this.closed) return;
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    this.leaseTimer = setTimeout(() => {
      this.leaseTimer = null;
      void this.leaseTick();
    }, delayMs);
  }

  private leaseTick(): Promise<void> {
    this.ticking ??= this.tickOnce().finally(() => {
      this.ticking = null;
      const renewEvery = Math.floor(this.leaseTtlMs / 3);
      const pollEvery = Math.max(100, Math.floor(this.leaseTtlMs / 5));
      this.scheduleLeaseTick(this.lease.held ? renewEvery : pollEvery);
    });
    return this.ticking;
  }

  private async tickOnce(): Promise<void> {
    if (this.closed) return;
    await this.lease.hold();
  }

  private becomeLeader(): void {
    if (this.closed) return; // close() releases the lease
    this.log.info({ instanceId: this.instanceId }, 'this instance now leads subscriptions: full reconcile');
    this.sweepTimer = setInterval(() => {
      this.sweep().catch((err: unknown) => this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'subscription sweep failed'));
    }, this.sweepIntervalMs);
    this.renewTimer = setInterval(() => {
      this.log.info('renewing every desired subscription');
      this.renewAll().catch((err: unknown) => this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'subscription renewal failed'));
    }, this.resubscribeIntervalMs);
    // After a start or a takeover nobody knows what the PBX holds: subscribe every desired extension again.
    this.renewAll().catch((err: unknown) => this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'full reconcile failed'));
  }

  private stepDown(reason: string): void {
    this.stopLeaderWork();
    this.log.warn({ instanceId: this.instanceId, reason }, 'this instance no longer leads subscriptions');
  }

  private stopLeaderWork(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.sweepTimer = null;
    this.renewTimer = null;
    for (const b of this.backoffs.values()) if (b.timer) clearTimeout(b.timer);
    this.backoffs.clear();
    for (const t of this.deadlines.values()) clearTimeout(t);
    this.deadlines.clear();
    this.dirty.clear();
    this.forced.clear();
  }

  // ---- reconciler ------------------------------------------------------------------------------------------

  private pump(): void {
    if (this.closed || !this.isLeader()) return;
    for (const extension of this.dirty) {
      if (this.running.size >= this.concurrency) break;
      if (this.running.has(extension)) continue; // looked at again when the current run ends
      this.dirty.delete(extension);
      const run = this.reconcile(extension)
        .catch((err: unknown) => {
          // Store trouble: the next sweep tries again.
          this.log.warn({ extension, err: err instanceof Error ? err.message : String(err) }, 'reconciling an extension failed');
        })
        .finally(() => {
          this.running.delete(extension);
          this.pump();
        });
      this.running.set(extension, run);
    }
  }

  /** Looks at an agent-only extension again the moment its agent desire would end. */
  private scheduleDeadline(rec: ExtensionRecord, present: boolean, now: number): void {
    const extension = rec.extension;
    const previous = this.deadlines.get(extension);
    if (previous) clearTimeout(previous);
    this.deadlines.delete(extension);
    if (rec.admin || !agentActive(rec, present, now)) return;
    // With a socket open only the token's expiry ends it; the socket closing sends a nudge of its own.
    const at = present ? rec.agentTokenExp : Math.min(rec.agentUntil, rec.agentTokenExp);
    const timer = setTimeout(
      () => {
        this.deadlines.delete(extension);
        this.dirty.add(extension);
        this.pump();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, at - now) + 5),
    );
    this.deadlines.set(extension, timer);
  }

  private clearBackoff(extension: string): void {
    const b = this.backoffs.get(extension);
    if (b?.timer) clearTimeout(b.timer);
    this.backoffs.delete(extension);
  }

  private async reconcile(extension: string): Promise<void> {
    const now = this.now();
    const presence = await this.store.takeStalePresence(extension, now);
    if (presence.staleUntil !== null) {
      // An instance died with this extension's sockets open: the grace period runs from its last heartbeat.
      await this.store.update(extension, {}, { agentUntil: presence.staleUntil + this.graceMs }, false);
    }
    const rec = await this.store.get(extension);
    if (!rec) {
      this.forced.delete(extension);
      return;
    }
    const desired = isDesired(rec, presence.present, now);
    this.scheduleDeadline(rec, presence.present, now);
    const backoff = this.backoffs.get(extension);
    if (backoff && backoff.dueAt > now) return; // its timer brings it back (a forced renewal waits for it too)
    const forced = this.forced.delete(extension);

    if (desired) {
      // `failed` waits for new credentials (PUT or sign-in) or the next full renewal: no retry storm.
      if (rec.state === 'pending' || rec.state === 'unsubscribed' || forced) await this.call('subscribe', rec);
      return;
    }
    if (rec.state === 'subscribed' || rec.state === 'pending') {
      await this.call('unsubscribe', rec);
      return;
    }
    this.clearBackoff(extension);
    if (rec.secret !== null && !keepsPassword(rec, now)) await this.commit(rec, { secret: null });
  }

  /** Writes an outcome; when the intent changed during the call, looks at the extension again (forced). */
  private async commit(rec: ExtensionRecord, patch: RecordPatch): Promise<void> {
    if (await this.store.commit(rec.extension, rec.rev, patch)) {
      this.kickCount();
      return;
    }
    this.forced.add(rec.extension);
    this.dirty.add(rec.extension);
  }

  private async call(kind: 'subscribe' | 'unsubscribe', rec: ExtensionRecord): Promise<void> {
    const extension = rec.extension;
    const endpoint = kind === 'subscribe' ? 'crmSubscribe' : 'crmUnSubscribe';
    const retain = keepsPassword(rec, this.now());
    if (rec.secret === null) {
      this.clearBackoff(extension);
      await this.commit(
        rec,
        kind === 'subscribe'
          ? { state: 'failed', lastError: 'No password is stored for this extension; register it again or sign in.', nextRetryAt: null, updatedAt: this.now() }
          : { state: 'unsubscribed', lastError: null, nextRetryAt: null, updatedAt: this.now() },
      );
      return;
    }
    let password: string;
    try {
      password = this.cipher.open(rec.secret, extension);
    } catch (err) {
      if (!(err instanceof CredentialError)) throw err;
      this.clearBackoff(extension);
      this.log.error({ extension }, 'stored extension password cannot be decrypted (was CREDENTIALS_KEY changed?)');
      await this.commit(rec, {
        state: 'failed',
        lastError: 'The stored password cannot be decrypted (was CREDENTIALS_KEY changed?); register it again or sign in.',
        nextRetryAt: null,
        updatedAt: this.now(),
      });
      return;
    }
    if (!this.isLeader() || this.closed) return;

    this.calls[kind] += 1;
    try {
      if (kind === 'subscribe') await this.pbx.crmSubscribe(extension, password);
      else await this.pbx.crmUnSubscribe(extension, password);
    } catch (err) {
      const pbxErr = err instanceof PbxError ? err : null;
      if (pbxErr && isCredentialRefusal(pbxErr)) {
        this.clearBackoff(extension);
        const reason = pbxErr.pbxMessage ?? `status ${pbxErr.pbxStatus ?? 'unknown'}`;
        this.log.warn({ extension, endpoint, pbxStatus: pbxErr.pbxStatus, reason }, 'the PBX refused the stored credentials; marked failed');
        await this.commit(rec, {
          state: 'failed',
          lastError: `The PBX refused ${endpoint}: ${reason}`,
          nextRetryAt: null,
          updatedAt: this.now(),
          ...(kind === 'unsubscribe' && !retain ? { secret: null } : {}),
        });
        return;
      }
      const attempt = (this.backoffs.get(extension)?.attempt ?? 0) + 1;
      const delay = backoffDelayMs(attempt, this.backoffPolicy, this.random);
      const dueAt = this.now() + delay;
      const message = pbxErr ? pbxErr.message : 'unexpected error while calling the PBX';
      if (!pbxErr) this.log.error({ extension, endpoint, err }, 'unexpected error from the PBX client');
      this.log[attempt === 1 ? 'warn' : 'debug'](
        { extension, endpoint, code: pbxErr?.code, pbxStatus: pbxErr?.pbxStatus, err: message, attempt, retryInMs: delay },
        'subscription call failed; will retry',
      );
      this.clearBackoff(extension);
      const timer = setTimeout(() => {
        const b = this.backoffs.get(extension);
        // Due now, whatever the wall clock says (timers may fire a millisecond before Date.now() reaches dueAt).
        if (b) {
          b.timer = null;
          b.dueAt = 0;
        }
        this.dirty.add(extension);
        this.pump();
      }, delay);
      this.backoffs.set(extension, { attempt, dueAt, timer });
      await this.commit(rec, {
        // A failed renewal leaves the PBX's state unknown: `pending` until a call succeeds.
        state: kind === 'subscribe' ? 'pending' : rec.state,
        lastError: `${endpoint} failed: ${message}`,
        nextRetryAt: dueAt,
        updatedAt: this.now(),
      });
      return;
    }

    this.clearBackoff(extension);
    this.log.info({ extension }, kind === 'subscribe' ? 'extension subscribed' : 'extension unsubscribed');
    await this.commit(
      rec,
      kind === 'subscribe'
        ? { state: 'subscribed', lastError: null, nextRetryAt: null, updatedAt: this.now() }
        : { state: 'unsubscribed', lastError: null, nextRetryAt: null, updatedAt: this.now(), ...(retain ? {} : { secret: null }) },
    );
  }

  // ---- shutdown --------------------------------------------------------------------------------------------

  /**
   * Stops every timer and hands the lease over; subscriptions at the PBX stay as they are. Waits up to 3 s for
   * PBX calls in flight.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    this.leaseTimer = null;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    if (this.countTimer) clearInterval(this.countTimer);
    this.countTimer = null;
    this.stopLeaderWork();
    await this.ticking?.catch(() => undefined);
    await this.presenceChain;
    if (this.running.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.running.values()]),
        new Promise((resolve) => (timer = setTimeout(resolve, 3000))),
      ]);
      clearTimeout(timer);
    }
    // A lease that cannot be given back expires by itself.
    if (await this.lease.release()) await this.bus.publish({ kind: 'released', from: this.instanceId }).catch(() => undefined);
    await this.counting?.catch(() => undefined);
    await this.bus.close();
    await this.onClose?.();
  }
}
