/**
 * The resilient event log's outage buffer: events accepted locally while Redis could not be reached, in
 * order, until they are appended to the shared stream (RedisEventLog.appendBuffered, each under a new stream
 * id, or not at all when its dedupe key shows it is there already). Also tracks appends that timed out but
 * were sent: if Redis takes one after all, its buffered copy is dropped, so it is not added a second time.
 */
import type { AppendResult } from '../core/ports.js';
import type { Logger } from '../logger.js';
import type { BufferedAppend, BufferedOutcome, RedisEventLog } from './redis-event-log.js';
import { withTimeout } from '../timeouts.js';

export interface BufferedEvent extends BufferedAppend {
  /** When its duplicate window ends (ms); 0: none. */
  dedupeUntil: number;
}

export interface OutageBufferOptions {
  inner: Pick<RedisEventLog, 'appendBuffered'>;
  logger: Logger;
  /** Buffered events appended per round trip. */
  flushBatch: number;
  /** How long one batch waits for its answer. */
  batchTimeoutMs: number;
  /** Whether the command connection is ready; flushing stops when it is not. */
  isReady: () => boolean;
  now: () => number;
  /** Every stream id a buffered event ended up under (shared or found already there). */
  onStreamId: (id: string) => void;
}

/** At most this long a flush waits for appends that timed out to settle (they were sent; Redis may still answer). */
const LATE_APPEND_WAIT_MS = 5000;

export class OutageBuffer {
  private readonly entries: BufferedEvent[] = [];
  private readonly lateAppends = new Set<Promise<unknown>>();
  /** The last buffered-append command sent; a flush never sends another while it is unanswered. */
  private lastCommand: Promise<unknown> | null = null;
  /** Buffered events written to the shared log, by outcome (counters). */
  readonly flushed: Record<BufferedOutcome, number> = { shared: 0, duplicate: 0 };

  constructor(private readonly o: OutageBufferOptions) {}

  get size(): number {
    return this.entries.length;
  }

  get firstId(): string | undefined {
    return this.entries[0]?.id;
  }

  push(entry: BufferedEvent): void {
    this.entries.push(entry);
  }

  /**
   * An append that timed out but was sent: when Redis answers it after all, its buffered copy (same origin
   * tag) is dropped and `onReached` is told.
   */
  trackLate(sent: Promise<AppendResult>, origin: string, onReached: (result: AppendResult) => void): void {
    const settled = sent.then(
      (result) => {
        const i = this.entries.findIndex((b) => b.origin === origin);
        if (i < 0) return;
        this.entries.splice(i, 1);
        onReached(result);
      },
      () => undefined,
    );
    this.lateAppends.add(settled);
    void settled.finally(() => this.lateAppends.delete(settled));
  }

  /** Appends the buffer to the stream, in order, batch by batch, while Redis is ready. Throws what Redis throws. */
  async flush(): Promise<void> {
    if (this.lateAppends.size > 0) {
      await withTimeout(Promise.allSettled([...this.lateAppends]), LATE_APPEND_WAIT_MS, 'Redis').catch(() => undefined);
    }
    if (this.lastCommand) await withTimeout(this.lastCommand, LATE_APPEND_WAIT_MS, 'Redis');
    while (this.entries.length > 0 && this.o.isReady()) {
      const batch = this.entries.slice(0, this.o.flushBatch);
      const now = this.o.now();
      const command = this.o.inner.appendBuffered(batch.map((b) => ({ ...b, dedupeTtlMs: b.dedupeUntil > 0 ? b.dedupeUntil - now : 0 })));
      const tracked = command.then(
        () => undefined,
        () => undefined,
      );
      this.lastCommand = tracked;
      void tracked.then(() => {
        if (this.lastCommand === tracked) this.lastCommand = null;
      });
      // A timed-out batch may still be applied later: sending it again is harmless, its dedupe keys make it a no-op.
      const results = await withTimeout(command, this.o.batchTimeoutMs, 'Redis');
      results.forEach((r, i) => {
        const entry = batch[i];
        this.flushed[r.outcome]++;
        this.o.onStreamId(r.id);
        if (entry) this.o.logger.debug({ provisionalId: entry.id, sharedId: r.id, outcome: r.outcome }, 'event from the outage shared');
      });
      // Appends made while the batch was in flight were pushed behind it: the batch is still the head.
      this.entries.splice(0, batch.length);
    }
  }
}
