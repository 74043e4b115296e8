/**
 * The reconciler, run by the leader only: makes the PBX's CRM subscriptions equal to the desired set,
 * extension by extension — `crmSubscribe` what is desired and not subscribed, `crmUnSubscribe` what is
 * subscribed and no longer desired — with at most `concurrency` PBX calls at once, exponential backoff on
 * transient failures, and `failed` (no automatic retry until new credentials or the next full renewal) when the
 * PBX refuses the credentials. While leading it sweeps every extension periodically and renews every desired
 * subscription every RESUBSCRIBE_INTERVAL_S.
 */
import type { PbxApi } from '../core/ports.js';
import { PbxError } from '../errors.js';
import type { Logger } from '../logger.js';
import { backoffDelayMs, type BackoffPolicy } from './backoff.js';
import { CredentialError, type CredentialCipher } from './credential-cipher.js';
import { agentActive, isDesired, keepsPassword } from './desire.js';
import { isCredentialRefusal } from '../pbx/refusals.js';
import type { ExtensionRecord, RecordPatch, SubscriptionStore } from './store.js';

/** setTimeout's ceiling. */
const MAX_TIMER_MS = 2_147_483_647;

export interface ReconcilerOptions {
  pbx: PbxApi;
  store: SubscriptionStore;
  cipher: CredentialCipher;
  logger: Logger;
  graceMs: number;
  resubscribeIntervalMs: number;
  sweepIntervalMs: number;
  backoff: BackoffPolicy;
  concurrency: number;
  now: () => number;
  random: () => number;
  /** Whether this instance leads now; checked before every PBX call. */
  isLeader: () => boolean;
  /** A store record changed (the counts may have). */
  committed: () => void;
}

interface Backoff {
  attempt: number;
  dueAt: number;
  timer: NodeJS.Timeout | null;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class Reconciler {
  private readonly dirty = new Set<string>();
  private readonly forced = new Set<string>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly backoffs = new Map<string, Backoff>();
  /** When an agent-only extension's desire ends next (sign-in grace or token expiry), it is looked at again. */
  private readonly deadlines = new Map<string, NodeJS.Timeout>();
  private readonly calls = { subscribe: 0, unsubscribe: 0 };
  private sweepTimer: NodeJS.Timeout | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly o: ReconcilerOptions) {}

  /** PBX calls made by this reconciler. */
  callCounts(): { subscribe: number; unsubscribe: number } {
    return { ...this.calls };
  }

  /** This instance took the lease: sweep and renew periodically, and reconcile everything now. */
  startLeading(): void {
    const log = this.o.logger;
    this.sweepTimer = setInterval(() => {
      this.sweep().catch((err: unknown) => log.warn({ err: errMessage(err) }, 'subscription sweep failed'));
    }, this.o.sweepIntervalMs);
    this.renewTimer = setInterval(() => {
      log.info('renewing every desired subscription');
      this.renewAll().catch((err: unknown) => log.warn({ err: errMessage(err) }, 'subscription renewal failed'));
    }, this.o.resubscribeIntervalMs);
    // After a start or a takeover nobody knows what the PBX holds: subscribe every desired extension again.
    this.renewAll().catch((err: unknown) => log.warn({ err: errMessage(err) }, 'full reconcile failed'));
  }

  /** This instance no longer leads: every timer and every pending look goes (calls under way finish). */
  stopLeading(): void {
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

  /** The extension's desire may have changed; `reset` drops its backoff (new credentials). */
  extensionChanged(extension: string, reset: boolean): void {
    if (!this.o.isLeader()) return;
    if (reset) this.clearBackoff(extension);
    this.dirty.add(extension);
    this.pump();
  }

  /** Reconciles everything now, renewing every desired subscription. */
  async renewAll(): Promise<void> {
    if (!this.o.isLeader()) return;
    const extensions = await this.o.store.list();
    for (const e of extensions) {
      this.forced.add(e);
      this.dirty.add(e);
    }
    this.pump();
  }

  private async sweep(): Promise<void> {
    if (!this.o.isLeader()) return;
    for (const e of await this.o.store.list()) this.dirty.add(e);
    this.pump();
  }

  private pump(): void {
    if (this.closed || !this.o.isLeader()) return;
    for (const extension of this.dirty) {
      if (this.running.size >= this.o.concurrency) break;
      if (this.running.has(extension)) continue; // looked at again when the current run ends
      this.dirty.delete(extension);
      const run = this.reconcile(extension)
        .catch((err: unknown) => {
          // Store trouble: the next sweep tries again.
          this.o.logger.warn({ extension, err: errMessage(err) }, 'reconciling an extension failed');
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
    const { store } = this.o;
    const now = this.o.now();
    const presence = await store.takeStalePresence(extension, now);
    if (presence.staleUntil !== null) {
      // An instance died with this extension's sockets open: the grace period runs from its last heartbeat.
      await store.update(extension, {}, { agentUntil: presence.staleUntil + this.o.graceMs }, false);
    }
    const rec = await store.get(extension);
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
    if (await this.o.store.commit(rec.extension, rec.rev, patch)) {
      this.o.committed();
      return;
    }
    this.forced.add(rec.extension);
    this.dirty.add(rec.extension);
  }

  private async call(kind: 'subscribe' | 'unsubscribe', rec: ExtensionRecord): Promise<void> {
    const extension = rec.extension;
    const endpoint = kind === 'subscribe' ? 'crmSubscribe' : 'crmUnSubscribe';
    const now = this.o.now;
    const log = this.o.logger;
    const retain = keepsPassword(rec, now());
    if (rec.secret === null) {
      this.clearBackoff(extension);
      await this.commit(
        rec,
        kind === 'subscribe'
          ? { state: 'failed', lastError: 'No password is stored for this extension; register it again or sign in.', nextRetryAt: null, updatedAt: now() }
          : { state: 'unsubscribed', lastError: null, nextRetryAt: null, updatedAt: now() },
      );
      return;
    }
    let password: string;
    try {
      password = this.o.cipher.open(rec.secret, extension);
    } catch (err) {
      if (!(err instanceof CredentialError)) throw err;
      this.clearBackoff(extension);
      log.error({ extension }, 'stored extension password cannot be decrypted (was CREDENTIALS_KEY changed?)');
      await this.commit(rec, {
        state: 'failed',
        lastError: 'The stored password cannot be decrypted (was CREDENTIALS_KEY changed?); register it again or sign in.',
        nextRetryAt: null,
        updatedAt: now(),
      });
      return;
    }
    if (!this.o.isLeader() || this.closed) return;

    this.calls[kind] += 1;
    try {
      if (kind === 'subscribe') await this.o.pbx.crmSubscribe(extension, password);
      else await this.o.pbx.crmUnSubscribe(extension, password);
    } catch (err) {
      const pbxErr = err instanceof PbxError ? err : null;
      if (pbxErr && isCredentialRefusal(pbxErr)) {
        this.clearBackoff(extension);
        const reason = pbxErr.pbxMessage ?? `status ${pbxErr.pbxStatus ?? 'unknown'}`;
        log.warn({ extension, endpoint, pbxStatus: pbxErr.pbxStatus, reason }, 'the PBX refused the stored credentials; marked failed');
        await this.commit(rec, {
          state: 'failed',
          lastError: `The PBX refused ${endpoint}: ${reason}`,
          nextRetryAt: null,
          updatedAt: now(),
          ...(kind === 'unsubscribe' && !retain ? { secret: null } : {}),
        });
        return;
      }
      const attempt = (this.backoffs.get(extension)?.attempt ?? 0) + 1;
      const delay = backoffDelayMs(attempt, this.o.backoff, this.o.random);
      const dueAt = now() + delay;
      const message = pbxErr ? pbxErr.message : 'unexpected error while calling the PBX';
      if (!pbxErr) log.error({ extension, endpoint, err }, 'unexpected error from the PBX client');
      log[attempt === 1 ? 'warn' : 'debug'](
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
        updatedAt: now(),
      });
      return;
    }

    this.clearBackoff(extension);
    log.info({ extension }, kind === 'subscribe' ? 'extension subscribed' : 'extension unsubscribed');
    await this.commit(
      rec,
      kind === 'subscribe'
        ? { state: 'subscribed', lastError: null, nextRetryAt: null, updatedAt: now() }
        : { state: 'unsubscribed', lastError: null, nextRetryAt: null, updatedAt: now(), ...(retain ? {} : { secret: null }) },
    );
  }

  /** Stops for good: nothing new starts (settle() waits for what runs). */
  stop(): void {
    this.closed = true;
    this.stopLeading();
  }

  /** Waits up to 3 s for PBX calls under way. */
  async settle(): Promise<void> {
    if (this.running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.running.values()]), new Promise((resolve) => (timer = setTimeout(resolve, 3000)))]);
    clearTimeout(timer);
  }
}
