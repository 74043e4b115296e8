/**
 * The resilient event log's replay during a Redis outage: a bounded ring of the recent events this instance
 * saw (from the stream) or accepted (locally), and how far back it can vouch for them.
 */
import { compareEventIds, parseEventId, type StoredEvent } from '../core/event.js';
import type { ReplayResult } from '../core/ports.js';

export class RecentEvents {
  private events: StoredEvent[] = [];
  /** Events at or below this id may be missing from the ring. */
  private floor = '0-0';

  /** Keeps the newest `size` events (trimmed in steps of `size`, so a push is O(1) amortised). */
  constructor(private readonly size: number) {}

  /** Nothing at or below `id` is in the ring (the stream's end at start: what came before was never seen here). */
  startAfter(id: string): void {
    this.floor = id;
  }

  keep(event: StoredEvent): void {
    this.events.push(event);
    if (this.events.length >= this.size * 2) {
      const dropped = this.events.splice(0, this.events.length - this.size);
      for (const e of dropped) if (compareEventIds(e.id, this.floor) > 0) this.floor = e.id;
    }
  }

  /** An event delivered under a provisional id is known by its shared id from now on. */
  replace(provisionalId: string, shared: StoredEvent): void {
    const at = this.events.findLastIndex((e) => e.id === provisionalId);
    if (at >= 0) this.events[at] = shared;
    else this.keep(shared);
  }

  /** Only what this instance saw: complete when nothing after afterId can have fallen out of the ring. */
  readAfter(afterId: string, limit: number, newestId: string): ReplayResult {
    if (!parseEventId(afterId) || compareEventIds(afterId, newestId) > 0) return { events: [], complete: false };
    const complete = compareEventIds(afterId, this.floor) >= 0;
    const events = this.events.filter((e) => compareEventIds(e.id, afterId) > 0).sort((a, b) => compareEventIds(a.id, b.id));
    return { events: events.slice(0, Math.max(0, limit)), complete };
  }

  clear(): void {
    this.events = [];
  }
}
