/**
 * A long loop on the event loop's thread gives way every few milliseconds, so a callback arriving meanwhile
 * waits for one slice at most, not for the whole loop (docs/performance.md, "Work beside the callbacks").
 *
 *   const slice = new TimeSlice();
 *   for (const item of items) { work(item); if (slice.due()) await slice.yield(); }
 *
 * `due()` is a clock read; the await happens only when a slice is over, so a hot loop pays no promise per item.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

const DEFAULT_SLICE_MS = 5;

export class TimeSlice {
  private startedAt = performance.now();

  constructor(private readonly sliceMs: number = DEFAULT_SLICE_MS) {}

  /** Whether this slice has run its time. */
  due(): boolean {
    return performance.now() - this.startedAt >= this.sliceMs;
  }

  /** Lets the event loop run (timers, sockets), then starts a new slice. */
  async yield(): Promise<void> {
    await yieldToEventLoop();
    this.restart();
  }

  /** Starts a new slice now (after an await that was a turn of the event loop anyway). */
  restart(): void {
    this.startedAt = performance.now();
  }
}
