/**
 * The baseline: the thinnest relay on the bridge's own stack. Express route `POST /pbx/callback` -> `ws` send
 * to the sockets registered for the body's extension (bench/lib/relay.ts). The bridge's targets are ratios to it.
 * With RELAY_REDIS (bench/redis-floor.ts) the route first makes one Redis round trip (bench/lib/redis-round-trip.ts).
 *
 * Run: PORT=4000 node --import tsx bench/baseline-relay.ts
 */
import { createServer } from 'node:http';
import { createRelay } from './lib/relay.js';
import { createExpressRelayApp } from './lib/express-relay.js';
import { answerHelp } from './lib/help.js';

answerHelp(`
usage: PORT=4000 node --import tsx bench/baseline-relay.ts

The benchmark's baseline: Express POST /pbx/callback -> ws send to the sockets of /ws?extension=<n>.
GET /stats reports RSS, heap and event-loop delay.

options:
  -h, --help     this text
env: PORT (4000), HOST (127.0.0.1),
     RELAY_REDIS=ping|xadd|script with REDIS_URL: one Redis round trip per callback before relaying and answering
     (bench/redis-floor.ts; unset: none, and ioredis is not loaded)
`);

const relay = createRelay();
const kind = process.env.RELAY_REDIS ?? '';
let before: ((body: Record<string, unknown>) => Promise<unknown>) | undefined;
if (kind !== '') {
  // Loaded only for the variants, so the baseline's process (its RSS too) stays as it was.
  const { createRoundTrip, isRoundTripKind, ROUND_TRIP_KINDS } = await import('./lib/redis-round-trip.js');
  const url = process.env.REDIS_URL ?? '';
  if (!isRoundTripKind(kind) || url === '') {
    console.error(`RELAY_REDIS must be one of ${ROUND_TRIP_KINDS.join(', ')}, with REDIS_URL set (got RELAY_REDIS=${JSON.stringify(kind.slice(0, 40))})`);
    process.exit(2);
  }
  before = createRoundTrip(kind, url);
}
relay.serve(createServer(createExpressRelayApp(relay, before)));
