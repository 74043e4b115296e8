/**
 * The baseline: the thinnest relay on the bridge's own stack. Express route `POST /pbx/callback` -> `ws` send
 * to the sockets registered for the body's extension. No auth, no enrichment, no log, no event ids.
 *
 * Agents connect to `/ws?extension=<n>`. `GET /stats` reports RSS, heap and event-loop delay (the same
 * monitorEventLoopDelay histogram, 10 ms resolution, as the bridge's prom-client metrics) and resets the
 * histogram, so each scrape covers the time since the previous one.
 *
 * Run: PORT=4000 node --import tsx bench/baseline-relay.ts
 */
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import express from 'express';
import { WebSocket, WebSocketServer } from 'ws';
import { answerHelp } from './lib/help.js';

answerHelp(`
usage: PORT=4000 node --import tsx bench/baseline-relay.ts

The benchmark's baseline: Express POST /pbx/callback -> ws send to the sockets of /ws?extension=<n>.
GET /stats reports RSS, heap and event-loop delay.

options:
  -h, --help     this text
env: PORT (4000), HOST (127.0.0.1)
`);

const port = Number(process.env.PORT ?? 4000);
const host = process.env.HOST ?? '127.0.0.1';

const rooms = new Map<string, Set<WebSocket>>();
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.post('/pbx/callback', express.json({ limit: '64kb' }), (req, res) => {
  const body = req.body as Record<string, unknown>;
  const extension = typeof body.extension_number === 'string' ? body.extension_number : '';
  const room = rooms.get(extension);
  if (room) {
    const frame = JSON.stringify(body);
    for (const ws of room) ws.send(frame);
  }
  res.json({ status: 'SUCCESS' });
});
app.get('/stats', (_req, res) => {
  const mem = process.memoryUsage();
  res.json({
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    sockets: wss.clients.size,
    lagP99Ms: lag.percentile(99) / 1e6,
    lagMaxMs: lag.max / 1e6,
    lagMeanMs: lag.mean / 1e6,
  });
  lag.reset();
});
app.get('/readyz', (_req, res) => {
  res.json({ status: 'ready' });
});

const server = createServer(app);
server.keepAliveTimeout = 65_000;
const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const extension = url.searchParams.get('extension');
  if (url.pathname !== '/ws' || !extension) {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    let room = rooms.get(extension);
    if (!room) rooms.set(extension, (room = new Set()));
    room.add(ws);
    ws.on('error', () => undefined);
    ws.on('close', () => {
      room.delete(ws);
      if (room.size === 0) rooms.delete(extension);
    });
  });
});

server.listen(port, host);
process.on('SIGTERM', () => {
  for (const ws of wss.clients) ws.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
