/**
 * One kind of PBX lookup (the call log, recordings) run beside the activeCalls rounds (docs/calls.md, "How
 * rounds and lookups are scheduled"). A round hands the lane a batch only while it is idle; the batch's
 * lookups run one after another, and the round goes on without waiting for them, so a slow PBX answer delays
 * only the lookups queued behind it in this lane, never the next activeCalls poll.
 *
 * So at most one lookup of a kind is in flight, each session is looked up by one lookup at a time (a batch
 * holds a session once, and the next batch is picked only after this one ended), and a batch is as long as
 * the round's limit for its kind.
 */
import type { Logger } from '../logger.js';

export class LookupLane {
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Logged once per failing streak, not once per lookup. */
  private failing = false;

  /**
   * `allowed` is asked before each lookup (no round trip): the lease holder's only, so a batch that outlives
   * the lease stops where it is and the new holder takes the calls up.
   */
  constructor(
    private readonly name: string,
    private readonly log: Logger,
    private readonly allowed: () => boolean = () => true,
  ) {}

  /** True while a batch runs: the round then picks nothing for this lane. */
  get busy(): boolean {
    return this.running !== null;
  }

  /** Starts looking up `items` in the background; ignored while a batch runs, once stopped, or when empty. */
  offer<T>(items: readonly T[], lookUp: (item: T) => Promise<void>): void {
    if (this.running !== null || this.stopped || items.length === 0) return;
    this.running = this.runBatch(items, lookUp).finally(() => {
      this.running = null;
    });
  }

  /** No further lookup starts; answers once the one in flight (if any) has ended. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.running ?? Promise.resolve();
  }

  private async runBatch<T>(items: readonly T[], lookUp: (item: T) => Promise<void>): Promise<void> {
    for (const item of items) {
      if (this.stopped || !this.allowed()) return;
      try {
        await lookUp(item);
        if (this.failing) this.log.info({ lane: this.name }, 'call tracker lookups work again');
        this.failing = false;
      } catch (err) {
        // The store could not be read or written (the PBX's own failures are handled in the lookup): the rest
        // of the batch is dropped as a failed round dropped it, and stays due for a later batch. After stop()
        // it is expected (the store is closing), so not logged.
        if (!this.stopped && !this.failing) this.log.warn({ lane: this.name, err: err instanceof Error ? err.message : String(err) }, 'call tracker lookups failed');
        this.failing = true;
        return;
      }
    }
  }
}
