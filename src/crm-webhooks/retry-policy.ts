/** When the next attempt happens: the configured schedule with ±20 % jitter, never earlier than a Retry-After asks. */

/** Retry-After as delta-seconds or an HTTP date, in ms from `nowMs`; null when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number = Date.now()): number | null {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return null;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}

export interface RetryPolicy {
  /** Seconds to wait after the 1st, 2nd, … failed attempt; its length is how many retries there are. */
  scheduleS: number[];
  /** Jitter as a fraction; 0.2 means ±20 %. */
  jitter?: number;
  /** Upper bound on a honoured Retry-After. Default: the longest schedule step, and at least 60 s. */
  maxRetryAfterMs?: number;
  random?: () => number;
}

/** The longest Retry-After the policy honours. */
export function retryAfterCapMs(policy: RetryPolicy): number {
  return policy.maxRetryAfterMs ?? Math.max(60_000, ...policy.scheduleS.map((s) => s * 1000));
}

/**
 * Delay before the next attempt after `attemptsMade` attempts (1-based count of attempts so far), or null
 * when the schedule is exhausted.
 */
export function nextDelayMs(policy: RetryPolicy, attemptsMade: number, retryAfterMs: number | null): number | null {
  const step = policy.scheduleS[attemptsMade - 1];
  if (step === undefined) return null;
  const jitter = policy.jitter ?? 0.2;
  const random = policy.random ?? Math.random;
  const scheduled = step * 1000 * (1 - jitter + 2 * jitter * random());
  const asked = retryAfterMs === null ? 0 : Math.min(retryAfterMs, retryAfterCapMs(policy));
  return Math.max(0, Math.round(Math.max(scheduled, asked)));
}
