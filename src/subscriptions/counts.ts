/**
 * The extension counts that status() shows (for metrics and readiness): read in the background every 5 s and
 * after changes, so reading them is cheap and synchronous.
 */
import { SUBSCRIPTION_STATES, type SubscriptionState } from './store.js';
import { iso, type ExtensionViews } from './views.js';

/** How often the counts are refreshed. */
const COUNT_INTERVAL_MS = 5000;

export interface SubscriptionCounts {
  extensions: number;
  desired: number;
  byState: Record<SubscriptionState, number>;
  /** When they were counted; null before the first count. */
  countedAt: string | null;
}

export class CountKeeper {
  private counts: SubscriptionCounts = {
    extensions: 0,
    desired: 0,
    byState: { subscribed: 0, pending: 0, failed: 0, unsubscribed: 0 },
    countedAt: null,
  };
  private counting: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly views: ExtensionViews,
    private readonly now: () => number,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), COUNT_INTERVAL_MS);
  }

  current(): SubscriptionCounts {
    return this.counts;
  }

  /** Counts again in the background, unless a count is under way. */
  kick(): void {
    if (this.counting || this.closed) return;
    this.counting = this.refresh()
      .catch(() => undefined)
      .finally(() => (this.counting = null));
  }

  async refresh(): Promise<void> {
    const views = await this.views.list();
    const byState = Object.fromEntries(SUBSCRIPTION_STATES.map((s) => [s, 0])) as Record<SubscriptionState, number>;
    for (const v of views) byState[v.state] += 1;
    this.counts = { extensions: views.length, desired: views.filter((v) => v.desired).length, byState, countedAt: iso(this.now()) };
  }

  /** No more counts from now on (settle() waits for one under way). */
  stop(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Waits for a count under way. */
  async settle(): Promise<void> {
    await this.counting?.catch(() => undefined);
  }
}
