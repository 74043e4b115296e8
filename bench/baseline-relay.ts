/**
 * The baseline: the thinnest relay on the bridge's own stack. Express route `POST /pbx/callback` -> `ws` send
 * to the sockets registered for the body's extension (bench/lib/relay.ts). The bridge's targets are ratios to it.
 *
 * Run: PORT=4000 node --import tsx bench/baseline-relay.ts
 */
import { createServer } from 'node:http';
import express from 'express';
import { createRelay } from './lib/relay.js';
import { answerHelp } from './lib/help.js';

answerHelp(`
usage: PORT=4000 node --import tsx bench/baseline-relay.ts

The benchmark's baseline: Express POST /pbx/callback -> ws send to the sockets of /ws?extension=<n>.
GET /stats reports RSS, heap and event-loop delay.

options:
  -h, --help     this text
env: PORT (4000), HOST (127.0.0.1)
`);

const relay = createRelay();
const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.post('/pbx/callback', express.json({ limit: '64kb' }), (req, res) => {
  relay.relay(req.body as Record<string, unknown>);
  res.json({ status: 'SUCCESS' });
});
app.get('/stats', (_req, res) => {
  res.json(relay.stats());
});
app.get('/readyz', (_req, res) => {
  res.json({ status: 'ready' });
});
relay.serve(createServer(app));
