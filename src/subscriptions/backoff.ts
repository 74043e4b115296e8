/**
 * Retry schedule for one extension whose subscription call failed for a transient reason (PBX unreachable,
 * timing out, answering garbage): exponential from `baseMs`, capped at `maxMs`, with "equal jitter" (a random
 * point in the upper half of the step) so many extensions failing together do not retry in lockstep.
 */

export interface BackoffPolicy {
  /** First step. Default 1000 (1 s). */
  baseMs: number;
  /** Ceiling. Default 300000 (5 min). */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 300_000 };

/** The un-jittered step for the n-th consecutive failure (n >= 1): base, 2·base, 4·base, … up to max. */
export function backoffCeilingMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const n = Math.max(1, Math.floor(attempt));
  // 2^30 already exceeds any sensible ceiling; stop doubling there so the number stays finite.
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(n - 1, 30));
}

/** The delay before retrying after the n-th consecutive failure: uniformly within [ceiling/2, ceiling]. */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = backoffCeilingMs(attempt, policy);
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(ceiling / 2 + (r * ceiling) / 2);
}
