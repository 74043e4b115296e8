/**
 * PhonebookService: keeps an in-memory number index of the PBX phonebook, shared across instances through a
 * snapshot in the KeyValueStore.
 *
 * - One instance at a time reads the PBX (in-process single flight plus the cross-instance lock
 *   'phonebook-refresh'), writes the snapshot and its version; the others see the new version by polling the
 *   small manifest and reload from the store. The PBX thus sees one getPhoneNumber per refresh.
 * - Scheduled refreshes skip when the shared snapshot is younger than the interval (another instance did it),
 *   so N instances still refresh about once per interval.
 * - When the PBX fails, the last good index keeps serving and `lastError` says why.
 * - Lookups never touch the network.
 * - A contact created from the pop (addContact) is added to this index at once, kept in a shared list, and
 *   published to the other instances, which add it to theirs (created-contacts.ts: every newly built index
 *   gets the ones it does not hold yet).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CountryCode } from '../core/phone-number.js';
import type { PhonebookContact } from '../core/event.js';
import type { KeyValueStore, Lock, PbxApi, PbxCustomField, PbxExtension } from '../core/ports.js';
import { PbxError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AddedContactsBus } from './added-bus.js';
import { ADDED_KEY, ADDED_MAX, CreatedContacts, type Addition } from './created-contacts.js';
import { PhonebookIndex, type PhonebookMatch } from './index.js';
import { loosenOldGenerationSoon, tightenOldGeneration } from './release-memory.js';
import { SnapshotStore, type SnapshotManifest, type SnapshotMeta } from './snapshot-store.js';

export interface PhonebookServiceOptions {
  /** null: serve whatever snapshot the store holds, never read the PBX. */
  pbx: PbxApi | null;
  kv: KeyValueStore;
  lock: Lock;
  country: CountryCode;
  refreshIntervalMs: number;
  logger: Logger;
  now?: () => number;
  /** How often the shared version is checked. Default 2000. */
  versionPollMs?: number;
  /** How long the refresh lock is held at most. Default 60000. */
  lockTtlMs?: number;
  /**
   * Write the snapshot to the store for other instances. Default true; one process alone (memory mode) has
   * nobody to share it with, and would hold every contact twice.
   */
  shareSnapshot?: boolean;
  /** Tells the other instances about created contacts; none: this process only. */
  bus?: AddedContactsBus;
}

export interface RefreshResult {
  /** True when this call read the PBX and the index now holds what it returned. */
  refreshed: boolean;
  contacts: number;
  reason?: string;
}

export interface PhonebookStatus {
  contacts: number;
  /** When the PBX was read for the snapshot in use (by whichever instance). */
  loadedAt: string | null;
  ageSeconds: number | null;
  version: string | null;
  /** The last failed refresh or load, cleared by the next success. Never contains secrets. */
  lastError: string | null;
  /** The last refresh this instance attempted, successful or not. */
  lastRefreshAt: string | null;
}

type RefreshMode = 'forced' | 'scheduled';

export const REFRESH_LOCK = 'phonebook-refresh';
/** A scheduled refresh skips when the snapshot is younger than this share of the interval. */
const FRESH_SHARE = 0.8;

export class PhonebookService {
  private readonly store: SnapshotStore;
  private readonly now: () => number;
  private readonly versionPollMs: number;
  private readonly lockTtlMs: number;
  private readonly log: Logger;

  private index: PhonebookIndex;
  private readonly additions: CreatedContacts;
  private version: string | null = null;
  private fetchedAtMs: number | null = null;
  private lastError: string | null = null;
  private lastRefreshAtMs: number | null = null;

  private refreshing: Promise<RefreshResult> | null = null;
  private reloading: Promise<boolean> | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private starting: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly opts: PhonebookServiceOptions) {
    this.store = new SnapshotStore(opts.kv);
    this.now = opts.now ?? Date.now;
    this.versionPollMs = opts.versionPollMs ?? 2000;
    this.lockTtlMs = opts.lockTtlMs ?? 60_000;
    this.log = opts.logger.child({ component: 'phonebook' });
    this.index = PhonebookIndex.empty(opts.country);
    this.additions = new CreatedContacts(this.now);
    opts.bus?.onMessage((message) => this.applyAddition(CreatedContacts.parse(message)));
    // Pub/sub keeps nothing: what was published while the bus's connection was down is in the shared list.
    opts.bus?.onReconnect(() => void this.catchUpAdditions());
  }

  /** Loads the shared snapshot (or reads the PBX when there is none or it is stale), then keeps it current. Never throws. */
  start(): Promise<void> {
    this.starting ??= this.startOnce();
    return this.starting;
  }

  private async startOnce(): Promise<void> {
    let manifest: SnapshotManifest | null = null;
    try {
      for (const raw of (await this.opts.kv.list(ADDED_KEY)).reverse()) this.additions.remember(CreatedContacts.parse(raw));
    } catch (err) {
      this.recordError('loading the created contacts failed', err);
    }
    try {
      manifest = await this.store.readManifest();
      if (manifest) await this.reload();
    } catch (err) {
      this.recordError('loading the shared snapshot failed', err);
    }
    const stale = manifest === null || this.now() - manifest.fetchedAtMs >= this.opts.refreshIntervalMs;
    if (this.opts.pbx && !this.closed && (stale || this.version === null)) {
      // With nothing loaded, wait for a refresh running elsewhere rather than serve an empty index.
      await this.refreshWith(this.version === null ? 'forced' : 'scheduled');
    }
    this.scheduleRefresh();
    this.schedulePoll();
  }

  /** Reads the PBX now (unless another instance is doing it: then waits for and loads its result). */
  refresh(): Promise<RefreshResult> {
    return this.refreshWith('forced');
  }

  /**
   * A contact the PBX has just created (createNumber): in this index at once, and in every instance's by the
   * bus. Never throws: when the store or the bus fails, the contact is still in this instance's index.
   */
  async addContact(contact: PhonebookContact): Promise<void> {
    const addition = this.additions.of(contact);
    this.applyAddition(addition);
    const message = CreatedContacts.message(addition);
    try {
      await this.opts.kv.pushCapped(ADDED_KEY, message, ADDED_MAX);
    } catch (err) {
      this.recordError('the created contact could not be stored for other instances', err);
    }
    try {
      await this.opts.bus?.publish(message);
    } catch (err) {
      this.recordError('the created contact could not be published to other instances', err);
    }
  }

  /** The tenant's custom field definitions as of the index in use. */
  customFields(): readonly PbxCustomField[] {
    return this.index.customFields;
  }

  lookup(raw: string): PhonebookMatch {
    return this.index.lookup(raw);
  }

  isExtension(number: string): boolean {
    return this.index.isExtension(number);
  }

  status(): PhonebookStatus {
    const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
    return {
      contacts: this.index.size,
      loadedAt: iso(this.fetchedAtMs),
      ageSeconds: this.fetchedAtMs === null ? null : Math.max(0, Math.floor((this.now() - this.fetchedAtMs) / 1000)),
      version: this.version,
      lastError: this.lastError,
      lastRefreshAt: iso(this.lastRefreshAtMs),
    };
  }

  /** Stops the timers and waits for a running refresh or reload to settle; nothing runs after it resolves. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.refreshTimer = null;
    this.pollTimer = null;
    await Promise.allSettled([this.starting, this.refreshing, this.reloading]);
  }

  // --- refresh -------------------------------------------------------------------------------------------

  private refreshWith(mode: RefreshMode): Promise<RefreshResult> {
    if (!this.refreshing) {
      this.refreshing = this.refreshOnce(mode).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async refreshOnce(mode: RefreshMode): Promise<RefreshResult> {
    const pbx = this.opts.pbx;
    if (!pbx) return this.notRefreshed('no PBX configured');
    if (this.closed) return this.notRefreshed('closed');

    let token: string | null;
    let seenVersion: string | null;
    try {
      seenVersion = (await this.store.readManifest())?.version ?? null;
      token = await this.opts.lock.acquire(REFRESH_LOCK, this.lockTtlMs);
    } catch (err) {
      this.recordError('the snapshot store is unavailable', err);
      return this.notRefreshed(this.lastError ?? 'store unavailable');
    }
    if (!token) {
      if (mode === 'scheduled') return this.notRefreshed('another instance is refreshing');
      await this.waitForOtherRefresh(seenVersion);
      return this.notRefreshed('another instance refreshed; its snapshot is loaded');
    }

    try {
      // Someone may have finished a refresh between our first look and our lock: use theirs.
      const current = await this.store.readManifest();
      if (current && current.version !== seenVersion) {
        await this.reload();
        return this.notRefreshed('another instance refreshed; its snapshot is loaded');
      }
      if (mode === 'scheduled' && current && this.now() - current.fetchedAtMs < this.opts.refreshIntervalMs * FRESH_SHARE) {
        if (current.version !== this.version) await this.reload();
        return this.notRefreshed('the shared snapshot is fresh');
      }
      return await this.fetchAndPublish(pbx, token);
    } catch (err) {
      this.recordError('refreshing the phonebook failed', err);
      return this.notRefreshed(this.lastError ?? 'refresh failed');
    } finally {
      await this.opts.lock.release(REFRESH_LOCK, token).catch(() => undefined);
    }
  }

  private async fetchAndPublish(pbx: PbxApi, token: string): Promise<RefreshResult> {
    this.lastRefreshAtMs = this.now();
    const started = performance.now();
    let index: PhonebookIndex;
    let extensions: PbxExtension[];
    let customFields: PbxCustomField[];
    try {
      // The definitions first (the index needs them to read custom fields), then the contacts straight into
      // the index as they are read: never all 100,000 of them as objects at once.
      [extensions, customFields] = await Promise.all([
        pbx.getExtensions(),
        pbx.getPhonebookCustomFields(),
      ]);
      tightenOldGeneration();
      // Sized like the index in use: phonebooks change little between two refreshes.
      index = PhonebookIndex.builder(extensions, customFields, this.opts.country, this.index.size);
      const builder = index;
      const rest = await pbx.getPhoneNumber((batch) => builder.addMany(batch));
      await index.addMany(rest);
      index.finishBuild();
    } catch (err) {
      this.recordError('reading the phonebook from the PBX failed; serving the last good copy', err);
      return this.notRefreshed(this.lastError ?? 'PBX failed');
    } finally {
      loosenOldGenerationSoon();
    }
    const fetchedAtMs = this.now();
    const snapshot: SnapshotMeta = { version: newVersion(fetchedAtMs), fetchedAtMs, extensions, customFields };
    const fetchMs = performance.now() - started;
    const contactCount = index.size;
    this.install(index, snapshot.version, fetchedAtMs);
    this.lastError = null;

    let reason: string | undefined;
    try {
      // Publishing under a lock we no longer hold could interleave with another writer's slot.
      if (!(await this.opts.lock.extend(REFRESH_LOCK, token, this.lockTtlMs))) throw new Error('refresh lock expired');
      if (this.opts.shareSnapshot !== false) await this.store.write(snapshot, index);
    } catch (err) {
      this.recordError('the refreshed phonebook could not be shared with other instances', err);
      reason = this.lastError ?? undefined;
    }
    this.log.info(
      { contacts: contactCount, extensions: extensions.length, keys: index.keyCount, readAndIndexMs: Math.round(fetchMs), version: snapshot.version },
      'phonebook refreshed from the PBX',
    );
    return reason === undefined ? { refreshed: true, contacts: index.size } : { refreshed: true, contacts: index.size, reason };
  }

  /** Waits (at most the lock's lifetime) until another instance's refresh publishes or gives up, then loads it. */
  private async waitForOtherRefresh(seenVersion: string | null): Promise<void> {
    const deadline = this.now() + this.lockTtlMs;
    const step = Math.min(100, this.versionPollMs);
    while (!this.closed && this.now() < deadline) {
      await sleep(step);
      try {
        const m = await this.store.readManifest();
        if (m && m.version !== seenVersion) break;
        // The lock is free again without a new version: the other refresh failed. Do not read the PBX again.
        const probe = await this.opts.lock.acquire(REFRESH_LOCK, 1000);
        if (probe) {
          await this.opts.lock.release(REFRESH_LOCK, probe);
          break;
        }
      } catch (err) {
        this.recordError('the snapshot store is unavailable', err);
        return;
      }
    }
    await this.reload().catch((err: unknown) => this.recordError('loading the shared snapshot failed', err));
  }

  private notRefreshed(reason: string): RefreshResult {
    return { refreshed: false, contacts: this.index.size, reason };
  }

  // --- reload from the shared snapshot ---------------------------------------------------------------------

  /** Loads the shared snapshot when its version differs from ours. True when a new index was installed. */
  private reload(): Promise<boolean> {
    if (!this.reloading) {
      this.reloading = this.reloadOnce().finally(() => {
        this.reloading = null;
      });
    }
    return this.reloading;
  }

  private async reloadOnce(): Promise<boolean> {
    // A writer may reuse the slot while we read; then the manifest has moved on and we read again.
    for (let attempt = 0; attempt < 3 && !this.closed; attempt++) {
      const manifest = await this.store.readManifest();
      if (!manifest || manifest.version === this.version) return false;
      tightenOldGeneration();
      const read = await this.store.read(manifest, this.opts.country).finally(loosenOldGenerationSoon);
      if (!read) continue;
      const { meta: snapshot, index } = read;
      // A local refresh may have installed something newer while we built.
      if (this.fetchedAtMs !== null && snapshot.fetchedAtMs < this.fetchedAtMs) return false;
      this.install(index, snapshot.version, snapshot.fetchedAtMs);
      this.lastError = null;
      this.log.info({ contacts: index.size, version: snapshot.version }, 'phonebook loaded from the shared snapshot');
      return true;
    }
    return false;
  }

  private install(index: PhonebookIndex, version: string, fetchedAtMs: number): void {
    this.additions.applyTo(index);
    const old = this.index;
    this.index = index;
    // Lookups are synchronous, so nothing holds the old index past this point.
    old.release();
    this.version = version;
    this.fetchedAtMs = fetchedAtMs;
  }

  // --- contacts created from the pop ----------------------------------------------------------------------

  /**
   * After the bus's connection came back: the contacts created meanwhile on other instances, from the shared
   * list (the ones already known are skipped), so they pop here without waiting for the next index build.
   */
  private async catchUpAdditions(): Promise<void> {
    if (this.closed) return;
    try {
      for (const raw of (await this.opts.kv.list(ADDED_KEY)).reverse()) this.applyAddition(CreatedContacts.parse(raw));
    } catch (err) {
      this.recordError('catching up on the created contacts failed', err);
    }
  }

  /** Remembers an addition (so the next index gets it too) and adds it to the index in use. */
  private applyAddition(a: Addition | null): void {
    if (this.additions.remember(a) && !this.index.holds(a.contact)) this.index.add(a.contact);
  }

  // --- timers --------------------------------------------------------------------------------------------

  private scheduleRefresh(): void {
    if (this.closed || !this.opts.pbx) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refreshWith('scheduled').finally(() => this.scheduleRefresh());
    }, this.opts.refreshIntervalMs);
    this.refreshTimer.unref();
  }

  private schedulePoll(): void {
    if (this.closed) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      void this.reload()
        .catch((err: unknown) => this.log.debug({ err: describe(err) }, 'phonebook version check failed'))
        .finally(() => this.schedulePoll());
    }, this.versionPollMs);
    this.pollTimer.unref();
  }

  private recordError(what: string, err: unknown): void {
    this.lastError = `${what}: ${describe(err)}`;
    this.log.warn({ err: describe(err) }, what);
  }
}

/** A short, secret-free description: PbxError messages are built without secrets; other messages lose any URL credentials. */
function describe(err: unknown): string {
  if (err instanceof PbxError) return `${err.code}: ${err.message}`;
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\/\/[^/@\s]*@/g, '//[redacted]@').slice(0, 300);
}

function newVersion(fetchedAtMs: number): string {
  return `${fetchedAtMs}-${randomBytes(4).toString('hex')}`;
}

