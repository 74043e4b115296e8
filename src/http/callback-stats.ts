/**
 * The callback route's info logging in aggregate (docs/performance.md, "Logging"): at 3,000 callbacks/s a line
 * each would be 3,000 JSON lines a second. One `callbacks` line per interval, only when something happened,
 * with the counts and the latency percentiles; the per-callback line is at debug.
 */
import type { Logger } from '../logger.js';

/** Latencies kept per interval for the percentiles; past this a uniform sample of them (reservoir). */
const MAX_SAMPLES = 20_000;

export class CallbackStats {
  private accepted = 0;
  private duplicates = 0;
  private rejected = new Map<number, number>();
  private latencies: number[] = [];
  private seen = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 1000,
  ) {}

  /** One answered callback: its status, whether it was a duplicate, ms from arrival to answer. */
  record(status: number, duplicate: boolean, latencyMs: number): void {
    if (status === 200) {
      if (duplicate) this.duplicates++;
      else this.accepted++;
    } else {
      this.rejected.set(status, (this.rejected.get(status) ?? 0) + 1);
    }
    this.seen++;
    if (this.latencies.length < MAX_SAMPLES) this.latencies.push(latencyMs);
    else {
      const slot = Math.floor(Math.random() * this.seen);
      if (slot < MAX_SAMPLES) this.latencies[slot] = latencyMs;
    }
    if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, this.intervalMs);
      this.timer.unref();
    }
  }

  /** Logs what was counted since the last line, if anything; the next record starts a new interval. */
  flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.seen === 0) return;
    const sorted = Float64Array.from(this.latencies).sort();
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
    const rejected: Record<string, number> = {};
    let rejectedTotal = 0;
    for (const [status, n] of this.rejected) {
      rejected[String(status)] = n;
      rejectedTotal += n;
    }
    this.logger.info(
      {
        intervalMs: this.intervalMs,
        accepted: this.accepted,
        duplicates: this.duplicates,
        rejected,
        latencyMs: { p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1] ?? 0) },
      },
      `callbacks: ${this.accepted} accepted, ${this.duplicates} duplicate, ${rejectedTotal} rejected`,
    );
    this.accepted = 0;
    this.duplicates = 0;
    this.rejected = new Map();
    this.latencies = [];
    this.seen = 0;
  }

  /** Logs what is left and stops the timer. */
  close(): void {
    this.flush();
  }
}

const round = (ms: number): number => Math.round(ms * 10) / 10;
