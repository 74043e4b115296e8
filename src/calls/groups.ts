/**
 * The PBX's ring groups and queues (getRingGroup / getQueue), cached so a call can say which one it came
 * through ("via Sales (5000)", docs/calls.md). Refreshed every REFRESH_MS and on a miss (at most once per
 * MISS_REFRESH_MS); looking up never waits for the PBX and a failed refresh is never fatal: the old lists
 * stay, and what is not known is null.
 */
import type { CallVia } from '../core/event.js';
import type { PbxCallApi, PbxCallGroup } from '../core/ports.js';
import type { Logger } from '../logger.js';

const REFRESH_MS = 10 * 60_000;
const MISS_REFRESH_MS = 30_000;

export class CallGroupDirectory {
  private byNumber = new Map<string, CallVia>();
  private byName = new Map<string, CallVia>();
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private lastMissRefresh = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | null = null;
  private failing = false;

  constructor(
    private readonly pbx: Pick<PbxCallApi, 'getRingGroups' | 'getQueues'>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Ring groups and queues known (for /readyz). */
  get size(): number {
    return this.byNumber.size;
  }

  /** The first hint that is a known group's number (or name); null when none is. Never waits. */
  resolve(hints: ReadonlyArray<string | null | undefined>): CallVia | null {
    if (this.now() - this.fetchedAt >= REFRESH_MS) void this.refresh();
    let asked = false;
    for (const hint of hints) {
      const h = hint?.trim();
      if (!h) continue;
      asked = true;
      const found = this.byNumber.get(h) ?? this.byName.get(h.toLowerCase());
      if (found) return found;
    }
    // A group created since the last refresh: ask again, but not for every call of a number that is no group.
    if (asked && this.now() - this.lastMissRefresh >= MISS_REFRESH_MS) {
      this.lastMissRefresh = this.now();
      void this.refresh();
    }
    return null;
  }

  /** Fetches both lists (one refresh at a time); a list that fails keeps its old entries. */
  refresh(): Promise<void> {
    this.refreshing ??= this.load().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async load(): Promise<void> {
    this.fetchedAt = this.now();
    const [groups, queues] = await Promise.allSettled([this.pbx.getRingGroups(), this.pbx.getQueues()]);
    const lists: PbxCallGroup[][] = [];
    const failed: string[] = [];
    const old = [...this.byNumber.values()];
    for (const [kind, r] of [['ring_group', groups], ['queue', queues]] as const) {
      if (r.status === 'fulfilled') lists.push(r.value);
      else {
        failed.push(r.reason instanceof Error ? r.reason.message : String(r.reason));
        lists.push(old.filter((v) => v.kind === kind).map((v) => ({ ...v, id: '' })));
      }
    }
    const byNumber = new Map<string, CallVia>();
    const byName = new Map<string, CallVia>();
    for (const g of lists.flat()) {
      const via: CallVia = { kind: g.kind, name: g.name, number: g.number };
      if (g.number !== '' && !byNumber.has(g.number)) byNumber.set(g.number, via);
      if (g.name !== '' && !byName.has(g.name.toLowerCase())) byName.set(g.name.toLowerCase(), via);
    }
    this.byNumber = byNumber;
    this.byName = byName;
    // Logged once per outage, not once per refresh.
    if (failed.length > 0 && !this.failing) this.log.warn({ err: failed.join('; ') }, 'ring groups / queues could not be read; calls show no "via" for groups not known yet');
    if (failed.length === 0 && this.failing) this.log.info('ring groups / queues read again');
    this.failing = failed.length > 0;
  }
}
