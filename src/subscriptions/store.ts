/**
 * Where the subscription manager keeps what it knows about each extension, and which instances have agent
 * sockets open for it. One Redis implementation (redis-store.ts) shared by every instance, one in memory.
 *
 * Two kinds of writes, so that instances never overwrite each other's intent:
 * - `update`: an intent change (operator registers or removes, agent signs in or out, last socket closes).
 *   Creates the record when asked, raises deadlines monotonically, and bumps `rev`.
 * - `commit`: the leader's outcome of a PBX call (state, lastError, nextRetryAt, purging the password). It is
 *   written only when `rev` is still the one the leader read before the call; otherwise the intent changed
 *   meanwhile (e.g. an agent signed in while the extension was being unsubscribed) and the leader looks again.
 */

export const SUBSCRIPTION_STATES = ['subscribed', 'pending', 'failed', 'unsubscribed'] as const;
export type SubscriptionState = (typeof SUBSCRIPTION_STATES)[number];

export interface ExtensionRecord {
  extension: string;
  /** Registered by an operator (PUT /api/extensions/:number): desired at all times. */
  admin: boolean;
  /** Latest expiry (ms) of an agent token issued by sign-in on this extension; 0 when none. */
  agentTokenExp: number;
  /** Agent desire lasts at least until here (ms): sign-in, sign-out or last socket closed + grace; 0 when none. */
  agentUntil: number;
  /** The web password, sealed with CredentialCipher; null when none is kept. */
  secret: string | null;
  state: SubscriptionState;
  /** Why the last PBX call failed (the PBX's message or the transport failure); never a secret. */
  lastError: string | null;
  /** When the leader will try again after a transient failure (ms), or null. */
  nextRetryAt: number | null;
  /** Last change to this record (ms). */
  updatedAt: number;
  /** Bumped by every intent change. */
  rev: number;
}

/** Fields an intent change or an outcome may set. `secret: null` deletes the stored password. */
export type RecordPatch = Partial<Pick<ExtensionRecord, 'admin' | 'secret' | 'state' | 'lastError' | 'nextRetryAt' | 'updatedAt'>>;
/** Deadlines an intent change may only move later. */
export type RecordRaise = Partial<Pick<ExtensionRecord, 'agentTokenExp' | 'agentUntil'>>;

export interface PresenceReading {
  /** Some instance has a live agent socket on the extension. */
  present: boolean;
  /**
   * The latest expiry (ms) among heartbeats that lapsed without a goodbye (their instance died); null when none.
   * Only `takeStale` removes them and reports this.
   */
  staleUntil: number | null;
}

export interface SubscriptionStore {
  get(extension: string): Promise<ExtensionRecord | null>;
  /** Every known extension number. */
  list(): Promise<string[]>;
  /** Applies an intent change and bumps `rev`. Returns false (and writes nothing) when the record is missing and `create` is false. */
  update(extension: string, patch: RecordPatch, raise?: RecordRaise, create?: boolean): Promise<boolean>;
  /** Writes an outcome only if `rev` is unchanged; false when it changed (or the record is gone). */
  commit(extension: string, rev: number, patch: RecordPatch): Promise<boolean>;

  /** This instance has agent sockets on these extensions until `expiresAt` (ms) unless refreshed. */
  touchPresence(instanceId: string, extensions: readonly string[], expiresAt: number): Promise<void>;
  /** This instance's last agent socket on the extension closed. */
  dropPresence(instanceId: string, extension: string): Promise<void>;
  /** Whether any instance has a live socket on the extension (read-only). */
  readPresence(extension: string, now: number): Promise<PresenceReading>;
  /** Like readPresence, but also removes lapsed heartbeats and reports the latest one's expiry. */
  takeStalePresence(extension: string, now: number): Promise<PresenceReading>;
}

export function emptyRecord(extension: string, now: number): ExtensionRecord {
  return {
    extension,
    admin: false,
    agentTokenExp: 0,
    agentUntil: 0,
    secret: null,
    state: 'unsubscribed',
    lastError: null,
    nextRetryAt: null,
    updatedAt: now,
    rev: 0,
  };
}

function applyPatch(record: ExtensionRecord, patch: RecordPatch): void {
  if (patch.admin !== undefined) record.admin = patch.admin;
  if (patch.secret !== undefined) record.secret = patch.secret;
  if (patch.state !== undefined) record.state = patch.state;
  if (patch.lastError !== undefined) record.lastError = patch.lastError;
  if (patch.nextRetryAt !== undefined) record.nextRetryAt = patch.nextRetryAt;
  if (patch.updatedAt !== undefined) record.updatedAt = patch.updatedAt;
}

/** One instance, nothing survives a restart. */
export class MemorySubscriptionStore implements SubscriptionStore {
  private readonly records = new Map<string, ExtensionRecord>();
  /** extension -> instanceId -> heartbeat expiry (ms) */
  private readonly presence = new Map<string, Map<string, number>>();

  constructor(private readonly now: () => number = Date.now) {}

  async get(extension: string): Promise<ExtensionRecord | null> {
    const r = this.records.get(extension);
    return r ? { ...r } : null;
  }

  async list(): Promise<string[]> {
    return [...this.records.keys()];
  }

  async update(extension: string, patch: RecordPatch, raise: RecordRaise = {}, create = true): Promise<boolean> {
    let record = this.records.get(extension);
    if (!record) {
      if (!create) return false;
      record = emptyRecord(extension, this.now());
      this.records.set(extension, record);
    }
    applyPatch(record, patch);
    if (raise.agentTokenExp !== undefined) record.agentTokenExp = Math.max(record.agentTokenExp, raise.agentTokenExp);
    if (raise.agentUntil !== undefined) record.agentUntil = Math.max(record.agentUntil, raise.agentUntil);
    record.rev += 1;
    return true;
  }

  async commit(extension: string, rev: number, patch: RecordPatch): Promise<boolean> {
    const record = this.records.get(extension);
    if (!record || record.rev !== rev) return false;
    applyPatch(record, patch);
    return true;
  }

  async touchPresence(instanceId: string, extensions: readonly string[], expiresAt: number): Promise<void> {
    for (const ext of extensions) {
      let byInstance = this.presence.get(ext);
      if (!byInstance) this.presence.set(ext, (byInstance = new Map()));
      byInstance.set(instanceId, expiresAt);
    }
  }

  async dropPresence(instanceId: string, extension: string): Promise<void> {
    const byInstance = this.presence.get(extension);
    byInstance?.delete(instanceId);
    if (byInstance?.size === 0) this.presence.delete(extension);
  }

  async readPresence(extension: string, now: number): Promise<PresenceReading> {
    const byInstance = this.presence.get(extension);
    const present = byInstance ? [...byInstance.values()].some((exp) => exp > now) : false;
    return { present, staleUntil: null };
  }

  async takeStalePresence(extension: string, now: number): Promise<PresenceReading> {
    const byInstance = this.presence.get(extension);
    if (!byInstance) return { present: false, staleUntil: null };
    let staleUntil: number | null = null;
    let present = false;
    for (const [instance, exp] of byInstance) {
      if (exp > now) present = true;
      else {
        staleUntil = Math.max(staleUntil ?? 0, exp);
        byInstance.delete(instance);
      }
    }
    if (byInstance.size === 0) this.presence.delete(extension);
    return { present, staleUntil };
  }
}
