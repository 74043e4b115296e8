/**
 * Rate-limited warnings for rejected callbacks: anyone can send wrong secrets, and one log line each would
 * let them fill the disk and drown real warnings. Per status, the first rejection of a quiet spell is logged
 * as it comes; the ones after it are counted, and one line per interval says how many there were.
 */
import type { Logger } from '../logger.js';

interface Window {
  suppressed: number;
  timer: NodeJS.Timeout;
}

export class RejectionLog {
  private readonly windows = new Map<number, Window>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
  ) {}

  warn(status: number, fields: Record<string, unknown>): void {
    const open = this.windows.get(status);
    if (open) {
      open.suppressed++;
      return;
    }
    this.logger.warn({ ...fields, status }, 'callback rejected');
    this.openWindow(status);
  }

  private openWindow(status: number): void {
    const timer = setTimeout(() => {
      const w = this.windows.get(status);
      this.windows.delete(status);
      if (!w || w.suppressed === 0) return;
      this.logger.warn(
        { status, suppressed: w.suppressed, intervalMs: this.intervalMs },
        `callback rejected ${w.suppressed} more times in the last ${Math.round(this.intervalMs / 1000)} s (status ${status})`,
      );
      // Still flooding: the next summary comes one interval later, not a line per request.
      this.openWindow(status);
    }, this.intervalMs);
    timer.unref();
    this.windows.set(status, { suppressed: 0, timer });
  }

  /** Stops the timers; counts not yet logged are dropped. */
  close(): void {
    for (const w of this.windows.values()) clearTimeout(w.timer);
    this.windows.clear();
  }
}
