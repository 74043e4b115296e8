/** createApp(deps): every route and middleware; never listens (main.ts / bridge.ts do). */
import { fileURLToPath } from 'node:url';
import express, { type Express, type Router } from 'express';
import { BridgeError } from '../errors.js';
import { errorHandler } from './errors.js';
import type { Logger } from '../logger.js';
import type { TrustProxy } from '../config.js';
import { securityHeaders } from './security-headers.js';
import { serveOpenApi } from '../openapi/index.js';

export interface AppDeps {
  logger: Logger;
  /** Routers in the order they are mounted: callback, agents, admin, ops, demo, … */
  routers: Router[];
  publicDir?: string;
  trustProxy?: TrustProxy;
}

export const DEFAULT_PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy ?? false);
  app.set('etag', false);
  app.use(securityHeaders());
  app.get('/openapi.json', serveOpenApi());
  for (const router of deps.routers) app.use(router);
  // The embeddable client is an ES module a CRM page imports from another origin: module loads are CORS requests.
  app.use('/client.js', (_req, res, next) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    next();
  });
  app.use(express.static(deps.publicDir ?? DEFAULT_PUBLIC_DIR, { index: 'index.html', maxAge: 0 }));
  app.use((req) => {
    throw new BridgeError('NOT_FOUND', `No route for ${req.method} ${req.path}`);
  });
  app.use(errorHandler(deps.logger));
  return app;
}
