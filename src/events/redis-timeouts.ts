/** How the resilient event log tells a slow or gone Redis from a refusal by a working one. */
import { setImmediate as nextCheckPhase, setTimeout as delay } from 'node:timers/promises';

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
 */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  const done = new AbortController();
  const timeout = (async (): Promise<T> => {
    await delay(ms, undefined, { signal: done.signal });
    await nextCheckPhase();
    await nextCheckPhase();
    // Settled after all: the race has its outcome already.
    if (settled) return p;
    throw new TimeoutError(`no answer from Redis within ${ms} ms`);
  })();
  timeout.catch(() => undefined);
  return Promise.race([p, timeout]).finally(() => done.abort());
}
