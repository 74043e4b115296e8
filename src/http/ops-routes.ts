/** /healthz, /readyz and /metrics (CONTRACT 7). */
import { Router } from 'express';
import type { Registry } from 'prom-client';

export interface Readiness {
  ready: boolean;
  reasons: string[];
  [detail: string]: unknown;
}

export function createOpsRouter(deps: { readiness: () => Promise<Readiness>; registry: Registry }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const r = await deps.readiness();
    res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'unavailable', ...r });
  });
  router.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', deps.registry.contentType);
    res.send(await deps.registry.metrics());
  });
  return router;
}
