/**
 * One Redis round trip per callback, for the floor of a Redis-backed relay (bench/redis-floor.ts): the Express
 * relay waits for it before relaying and answering. Three kinds, each one command on ioredis with
 * auto-pipelining, the way the bridge's command connection is made (src/stores.ts):
 * - `ping`: `PING`, the round trip alone;
 * - `xadd`: `XADD` of the callback body to a stream, `MAXLEN ~ 10000`;
 * - `script`: the bridge's own append script (`hbEventAppendBatch`, docs/redis-scripts.md) for one new call,
 *   with keys and arguments of the bridge's sizes (docs/performance.md, "Redis mode: CPU per callback": event
 *   body 603 bytes, session document 913, note 81, keys ~250): group claim, dedupe key, `XADD`, session `HSET`
 *   with the note, `PEXPIRE`, due-index `ZADD`.
 */
import type { Redis } from 'ioredis';
// Imported before the client is made: createRedisClient defines the declared scripts on it (src/store/lua.ts).
import { APPEND_SCRIPT } from '../../src/events/redis-event-log.js';
import { createRedisClient } from '../../src/store/redis.js';

export const ROUND_TRIP_KINDS = ['ping', 'xadd', 'script'] as const;
export type RoundTripKind = (typeof ROUND_TRIP_KINDS)[number];

export function isRoundTripKind(value: string): value is RoundTripKind {
  return (ROUND_TRIP_KINDS as readonly string[]).includes(value);
}

const PREFIX = 'hodubridge:';
const STREAM = `${PREFIX}events`;
const MAX_EVENTS = '10000';
const TTL_MS = '600000';
/** An instance tag as the resilient log passes it (field `o` of the entry). */
const ORIGIN = 'floor-0123456789ab';

/** `s` padded with a `pad` field to `size` bytes of JSON (ASCII), so the script moves the bridge's sizes. */
function padded(fields: Record<string, unknown>, size: number): string {
  const bare = JSON.stringify({ ...fields, pad: '' });
  return JSON.stringify({ ...fields, pad: 'x'.repeat(Math.max(0, size - bare.length)) });
}

/** A contact as the bridge keeps it in the event and the session (~330 bytes in the session document). */
const CONTACT = {
  id: 'pb-000123',
  name: 'Aarav Sharma',
  company: 'Sharma Traders Pvt Ltd',
  email: 'aarav.sharma@example.in',
  phones: ['+919800012345', '+919811112345'],
  source: 'phonebook',
};

/** The append script's KEYS and ARGV for one new call, laid out as RedisEventLog.sendQueued does for a batch of one. */
function scriptCall(body: Record<string, unknown>): { keys: string[]; args: string[] } {
  const callId = typeof body.call_id === 'string' ? body.call_id : 'none';
  const extension = typeof body.extension_number === 'string' ? body.extension_number : '';
  const now = new Date().toISOString();
  const event = padded({ type: 'call.ringing', timestamp: now, data: { ...body, extension, contact: CONTACT } }, 603);
  const group = `${PREFIX}calls:group:${callId}`;
  const record = `${PREFIX}calls:record:${callId}`;
  const session = padded({ callId, extension, caller: body.caller_number, state: 'ringing', startedAt: now, updatedAt: now, contact: CONTACT, legs: [callId] }, 913);
  const note = padded({ type: 'call.ringing', at: now }, 81);
  return {
    keys: [STREAM, `${PREFIX}dedupe:ringing:${callId}`, record, group, record, `${PREFIX}calls:due`],
    args: [MAX_EVENTS, '~', TTL_MS, event, extension, 'call.ringing', ORIGIN, 'e:', note, callId, TTL_MS, '', session, TTL_MS],
  };
}

/** The round trip of `kind` on a connection of its own (closed with the process). */
export function createRoundTrip(kind: RoundTripKind, redisUrl: string): (body: Record<string, unknown>) => Promise<unknown> {
  const redis: Redis = createRedisClient(redisUrl, `relay-floor-${kind}`, { enableAutoPipelining: true });
  const run = (body: Record<string, unknown>): Promise<unknown> => {
    switch (kind) {
      case 'ping':
        return redis.ping();
      case 'xadd':
        return redis.xadd(STREAM, 'MAXLEN', '~', MAX_EVENTS, '*', 'e', JSON.stringify(body));
      case 'script': {
        const { keys, args } = scriptCall(body);
        // {id, 0, previous id}: appended. Anything else means the script wrote less than a new call's share.
        return APPEND_SCRIPT.run(redis, keys, args).then((reply) => {
          if (!Array.isArray(reply) || reply[1] !== 0) throw new Error('the append script did not append');
          return reply;
        });
      }
    }
  };
  return run;
}
