/**
 * What withTimeout, the project's one time limit on a promise (Redis commands, close steps, the PBX, DNS
 * lookups), rejects with. The resilient event log and the HTTP error handler take it for a Redis that
 * did not answer (src/events/redis-timeouts.ts): callers racing anything else catch it themselves.
 */
export class TimeoutError extends Error {}

/**
 * Races `p` against a timer (`what` names who did not answer, in the error's message); `p` keeps a rejection
 * handler so a late failure is never unhandled. A busy event loop runs due timers before it reads the sockets,
 * so when the timer fires the answer may be waiting unread: before giving up, let the loop read its sockets
 * (setImmediate runs after the poll phase) and look again.
 * Plain timers, not an AbortController: every append runs this, and aborting a timers/promises delay builds an
 * AbortError with its stack each time (a few % of a callback's CPU in the profile).
 */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      setImmediate(() =>
        setImmediate(() => {
          // Settled after all: the race has its outcome already.
          if (!settled) reject(new TimeoutError(`no answer from ${what} within ${ms} ms`));
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
