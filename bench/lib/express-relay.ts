/**
 * The Express relay's routes (bench/baseline-relay.ts): `POST /pbx/callback` relays the body to its extension's
 * sockets (bench/lib/relay.ts) and answers, `GET /stats`, `GET /readyz`. Apart from relay.ts so that the raw
 * relay does not load Express.
 */
import express from 'express';
import type { Relay } from './relay.js';

/**
 * With `before` (bench/lib/redis-round-trip.ts) the callback route first waits for it, then relays and answers,
 * or answers 503 when it fails; without it the route is the baseline's, synchronous.
 */
export function createExpressRelayApp(relay: Relay, before?: (body: Record<string, unknown>) => Promise<unknown>): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const json = express.json({ limit: '64kb' });
  if (before) {
    app.post('/pbx/callback', json, (req, res) => {
      const body = req.body as Record<string, unknown>;
      before(body).then(
        () => {
          relay.relay(body);
          res.json({ status: 'SUCCESS' });
        },
        () => res.status(503).json({ status: 'FAILED' }),
      );
    });
  } else {
    app.post('/pbx/callback', json, (req, res) => {
      relay.relay(req.body as Record<string, unknown>);
      res.json({ status: 'SUCCESS' });
    });
  }
  app.get('/stats', (_req, res) => {
    res.json(relay.stats());
  });
  app.get('/readyz', (_req, res) => {
    res.json({ status: 'ready' });
  });
  return app;
}
