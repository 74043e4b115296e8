/** /healthz, /readyz and /metrics (docs/operations.md, "Running it"). */
import { Router } from 'express';
import type { Registry } from 'prom-client';
import { SecretDigest } from '../auth/secret-digest.js';
import { bearerToken } from '../auth/tokens.js';
import { BridgeError } from '../errors.js';
import { composeReadiness, type ReadinessPart } from '../ops/readiness.js';

export function createOpsRouter(deps: {
  /** What /readyz is made of, in the order of the answer's fields (src/ops/readiness.ts). */
  readiness: readonly ReadinessPart[];
  registry: Registry;
  /** When set, /metrics wants `Authorization: Bearer <token>` (METRICS_TOKEN). */
  metricsToken?: string | null;
}): Router {
  const router = Router();
  const metricsToken = deps.metricsToken ? new SecretDigest(deps.metricsToken) : null;
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const r = await composeReadiness(deps.readiness);
    res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'unavailable', ...r });
  });
  router.get('/metrics', async (req, res) => {
    if (metricsToken) {
      const given = bearerToken(req.headers.authorization);
      if (!given || !metricsToken.matches(given)) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        throw new BridgeError('AUTH_ERR_METRICS_TOKEN');
      }
    }
    res.setHeader('Content-Type', deps.registry.contentType);
    res.send(await deps.registry.metrics());
  });
  return router;
}
