/** Polling with a deadline, for tests that wait on real servers instead of sleeping a fixed time. */

/** Reads until `ok` holds for the value, and returns it; fails with the last value after timeoutMs. */
export async function eventuallyValue<T>(read: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`condition not met in ${timeoutMs} ms; last value: ${JSON.stringify(v)?.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 20));
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
