import { BridgeError } from '../errors.js';
import { TimeoutError } from '../timeouts.js';

/**
 * How long the oldest command on a connection may go unanswered before the connection counts as hung and
 * refuses new commands (src/store/fail-fast-redis.ts): the event log's read timeout.
 */
export const COMMAND_HANG_MS = 2000;


/** Replies of a Redis that is there but cannot serve yet (loading, a replica, a failover in progress). */
const NOT_SERVING_REPLY = /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN)\b/;

/**
 * What ioredis rejects a command with when it has no connection to send it on: no class of their own, only
 * these messages (the client's own wording, never a server's, so no argument or secret is in them).
 */
const IOREDIS_NO_CONNECTION = new Set(['Connection is closed.', 'Command timed out', "Stream isn't writeable and enableOfflineQueue options is false"]);

/** Connectivity, not a refusal by a working Redis: no connection, no answer in time, or a server that cannot serve yet. */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof TimeoutError) return true;
  if (!(err instanceof Error)) return false;
  if (err.name !== 'ReplyError') return true;
  return NOT_SERVING_REPLY.test(err.message);
}

/**
 * The strict form of isUnavailable, for errors that may not come from Redis at all (the HTTP error handler
 * answers these 503 STORE_ERR_UNAVAILABLE): only a failure ioredis or withTimeout made for want of an
 * answering Redis, so that a bug still answers 500 and is logged as one.
 */
export function isRedisUnreachable(err: unknown): err is Error {
  if (err instanceof TimeoutError) return true;
  // Refused by the connection itself without trying (src/store/fail-fast-redis.ts).
  if (err instanceof BridgeError) return err.code === 'STORE_ERR_UNAVAILABLE';
  if (!(err instanceof Error)) return false;
  if (err.name === 'ReplyError') return NOT_SERVING_REPLY.test(err.message);
  return err.name === 'MaxRetriesPerRequestError' || IOREDIS_NO_CONNECTION.has(err.message);
}


/**
 * An error as a log field: a Redis outage as its message alone (it is logged once each way elsewhere, and a
 * stack per retry would fill the log), anything else whole.
 */
export function errForLog(err: unknown): unknown {
  return isRedisUnreachable(err) ? err.message : err;
}
