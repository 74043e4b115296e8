/** Polling with a deadline, for tests that wait on real servers instead of sleeping a fixed time. */
import { setTimeout as delay } from 'node:timers/promises';

/** Reads until `ok` holds for the value, and returns it; fails with the last value after timeoutMs. */
export async function eventuallyValue<T>(read: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`condition not met in ${timeoutMs} ms; last value: ${JSON.stringify(v)?.slice(0, 500)}`);
    await delay(20);
  }
}

/** Polls `check` until it returns true or the deadline passes. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  try {
    await eventuallyValue(check, Boolean, timeoutMs);
  } catch {
    throw new Error(`timed out waiting for ${what}`);
  }
}

/**
 * Lets `ms` pass, for a test whose subject is what happens (or does not) over that time: "no retry within a
 * second", "still subscribed past the grace period". Never to wait for something to happen: use eventually().
 */
export function letTimePass(ms: number): Promise<void> {
  return delay(ms);
}
