/**
 * The relays bench/redis-floor.ts compares: bench/baseline-relay.ts with RELAY_REDIS makes one Redis round trip
 * per callback before it relays and answers (bench/lib/redis-round-trip.ts). Checks that each kind relays,
 * answers and writes what it says, on a redis-server of its own (the append script's keys carry the bridge's
 * default prefix, which must not meet other tests' keys). No timing is asserted.
 */
import { Redis } from 'ioredis';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ROUND_TRIP_KINDS, type RoundTripKind } from '../../bench/lib/redis-round-trip.js';
import { startBaseline, type Target } from '../../bench/lib/targets.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';

let rs: RedisServerHandle;
let admin: Redis;
let target: Target | null = null;
let socket: WebSocket | null = null;

beforeAll(async () => {
  rs = await startRedisServer();
  admin = new Redis(rs.url);
});
afterEach(async () => {
  socket?.terminate();
  socket = null;
  await target?.stop();
  target = null;
  await admin.flushall();
  await admin.config('RESETSTAT');
});
afterAll(async () => {
  admin.disconnect();
  await rs.stop();
});

/** Starts the relay of `kind` (null: the plain baseline) with one agent on extension 2001; answers the frames that agent receives. */
async function relayWithAgent(kind: RoundTripKind | null): Promise<string[]> {
  target = await startBaseline('express', kind === null ? { env: { REDIS_URL: rs.url } } : { name: `relay+${kind}`, env: { RELAY_REDIS: kind, REDIS_URL: rs.url } });
  const [spec] = await target.agentSpecs(['2001']);
  if (!spec) throw new Error('no agent spec');
  const frames: string[] = [];
  const ws = new WebSocket(spec.url);
  socket = ws;
  ws.on('message', (data: Buffer) => frames.push(data.toString('utf8')));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return frames;
}

async function sendCallback(callId: string): Promise<{ status: number; body: unknown }> {
  if (!target) throw new Error('no relay');
  const res = await request(`${target.spec.origin}/pbx/callback`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ extension_number: '2001', caller_number: '+919800012345', caller_name: 'BENCH', call_id: callId, event: 'ringing' }),
  });
  return { status: res.statusCode, body: await res.body.json() };
}

async function commandCalls(name: string): Promise<number> {
  const m = new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(await admin.info('commandstats'));
  return Number(m?.[1] ?? 0);
}

describe('bench relay with one Redis round trip per callback', () => {
  for (const kind of ROUND_TRIP_KINDS) {
    it(`when RELAY_REDIS=${kind}, then a callback is answered and relayed to its agent after its round trip`, async () => {
      const frames = await relayWithAgent(kind);
      const answer = await sendCallback(`bcid-${kind}.1`);
      expect(answer).toEqual({ status: 200, body: { status: 'SUCCESS' } });
      await eventually(() => frames.some((f) => f.includes(`bcid-${kind}.1`)), 5000, 'the frame');
      if (kind === 'ping') expect(await commandCalls('ping')).toBeGreaterThanOrEqual(1);
      if (kind === 'xadd') {
        const entries = await admin.xrange('hodubridge:events', '-', '+');
        expect(entries).toHaveLength(1);
        expect(entries[0]?.[1].join(' ')).toContain(`bcid-${kind}.1`);
      }
      if (kind === 'script') {
        // A new call as the bridge writes it: the event, and the session with its note beside it.
        expect(await admin.xlen('hodubridge:events')).toBe(1);
        const session = await admin.hgetall(`hodubridge:calls:record:bcid-${kind}.1`);
        expect(session.json?.length).toBe(913);
        expect(Object.keys(session).filter((k) => k.startsWith('e:'))).toHaveLength(1);
        expect(await admin.zcard('hodubridge:calls:due')).toBe(1);
      }
    }, 60_000);
  }

  it('when RELAY_REDIS is unset, then the baseline answers and relays without a word to Redis', async () => {
    const frames = await relayWithAgent(null);
    expect(await sendCallback('bcid-plain.1')).toEqual({ status: 200, body: { status: 'SUCCESS' } });
    await eventually(() => frames.some((f) => f.includes('bcid-plain.1')), 5000, 'the frame');
    expect(String(await admin.call('CLIENT', 'LIST'))).not.toContain('relay-floor');
    expect(await admin.dbsize()).toBe(0);
  }, 60_000);

  it('when RELAY_REDIS names no round trip, then the relay does not start and says which values it takes', async () => {
    await expect(startBaseline('express', { name: 'relay+bogus', env: { RELAY_REDIS: 'bogus', REDIS_URL: rs.url } })).rejects.toThrow(
      /RELAY_REDIS must be one of ping, xadd, script/,
    );
  }, 60_000);
});
