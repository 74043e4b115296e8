/** The admin API of CONTRACT 5 that belongs to the core pipeline: tokens, phonebook, recent callbacks. */
import { Router, json } from 'express';
import { z } from 'zod';
import type { CallerMatch } from '../core/call-events.js';
import type { TokenService } from '../auth/tokens.js';
import { requireAdminKey } from './auth-middleware.js';
import { BridgeError } from '../errors.js';
import { parseInput } from './errors.js';
import { extensionNumber } from './agent-routes.js';
import type { RecentCallbacks } from './recent-callbacks.js';

export interface PhonebookAdmin {
  lookup(rawNumber: string): CallerMatch;
  refresh(): Promise<{ refreshed: boolean; contacts: number; reason?: string }>;
  status(): object;
}

export const tokenBody = z.object({
  extension: z.union([extensionNumber, z.literal('*')]),
  role: z.enum(['agent', 'supervisor'], { message: 'must be agent or supervisor' }).default('agent'),
  ttlSeconds: z
    .number({ message: 'must be a number of seconds' })
    .int('must be a whole number')
    .min(60, 'must be at least 60')
    .max(30 * 86400, 'must be at most 2592000 (30 days)')
    .optional(),
});

export const tokenIdParams = z.object({
  id: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a token id as POST /api/tokens answers it'),
});

export const lookupQuery = z.object({
  number: z.string({ message: 'is required' }).trim().min(1, 'is required').max(64, 'is too long'),
});

export function createAdminRouter(deps: {
  adminApiKey: string | null;
  tokens: TokenService;
  defaultTokenTtlS: number;
  phonebook: PhonebookAdmin;
  recentCallbacks: RecentCallbacks;
}): Router {
  const router = Router();
  const admin = requireAdminKey(deps.adminApiKey);

  router.post('/api/tokens', admin, json({ limit: '16kb' }), async (req, res) => {
    const body = parseInput(tokenBody, req.body);
    if (body.role === 'agent' && body.extension === '*') throw new BridgeError('TOKEN_ERR_WILDCARD_AGENT');
    const issued = await deps.tokens.issue(body.extension, body.role, body.ttlSeconds ?? deps.defaultTokenTtlS);
    res.json({ token: issued.token, id: issued.claims.jti, expiresAt: issued.expiresAt });
  });

  // Revokes a token by the id POST /api/tokens answered: its sockets close on every instance within seconds.
  router.delete('/api/tokens/:id', admin, async (req, res) => {
    const { id } = parseInput(tokenIdParams, req.params);
    if (!(await deps.tokens.revokeById(id))) throw new BridgeError('TOKEN_ERR_NOT_FOUND');
    res.status(204).end();
  });

  router.get('/api/phonebook/lookup', admin, (req, res) => {
    const { number } = parseInput(lookupQuery, req.query);
    res.json({ number, ...deps.phonebook.lookup(number) });
  });

  router.post('/api/phonebook/refresh', admin, async (_req, res) => {
    const result = await deps.phonebook.refresh();
    res.json({ ...result, phonebook: deps.phonebook.status() });
  });

  router.get('/api/callbacks/recent', admin, async (_req, res) => {
    res.json({ callbacks: await deps.recentCallbacks.list() });
  });

  return router;
}
