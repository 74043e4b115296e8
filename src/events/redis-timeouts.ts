/** How the resilient event log tells a slow or gone Redis from a refusal by a working one. */
export class TimeoutError extends Error {}

/** Connectivity, not a refusal by a working Redis: no connection, no answer in time, or a server that cannot serve yet. */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof TimeoutError) return true;
  if (!(err instanceof Error)) return false;
  if (err.name !== 'ReplyError') return true;
  return /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN)\b/.test(err.message);
}

/**
 * Races `p` against a timer; `p` keeps a rejection handler so a late failure is never unhandled. A busy event
 * loop runs due timers before it reads the sockets, so when the timer fires the answer may be waiting unread:
 * before giving up, let the loop read its sockets (setImmediate runs after the poll phase) and look again.
 * Plain timers, not an AbortController: every append runs this, and aborting a timers/promises delay builds an
 * AbortError with its stack each time (a few % of a callback's CPU in the profile).
 */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      setImmediate(() =>
        setImmediate(() => {
          // Settled after all: the race has its outcome already.
          if (!settled) reject(new TimeoutError(`no answer from Redis within ${ms} ms`));
        }),
      );
    }, ms);
    p.then(
      (value) => {
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        settled = true;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
