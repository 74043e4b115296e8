/**
 * The physical limit of this stack: the same relay as bench/baseline-relay.ts on bare `node:http` (no Express:
 * no router, no body parser), reading at most 64 KiB. How much further than the Express relay a lean route can go.
 *
 * Run: PORT=4001 node --import tsx bench/raw-relay.ts
 */
import { createServer, type ServerResponse } from 'node:http';
import { createRelay } from './lib/relay.js';

const LIMIT = 64 * 1024;
const relay = createRelay();

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'POST' && path === '/pbx/callback') {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > LIMIT) {
        json(res, 413, { status: 'FAILED' });
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return json(res, 400, { status: 'FAILED' });
      }
      if (typeof body === 'object' && body !== null) relay.relay(body as Record<string, unknown>);
      json(res, 200, { status: 'SUCCESS' });
    });
    return;
  }
  if (req.method === 'GET' && path === '/stats') return json(res, 200, relay.stats());
  if (req.method === 'GET' && path === '/readyz') return json(res, 200, { status: 'ready' });
  json(res, 404, { status: 'FAILED' });
});
relay.serve(server);
