/**
 * Demo mode only: "Simulate a call" plays a whole call on the signed-in agent's own extension through the
 * built-in simulator (rings, answered, ended; every few presses a missed one).
 */
import { Router, json } from 'express';
import { z } from 'zod';
import type { TokenVerifier } from '../core/agent.js';
import { agentClaims, requireAgentToken } from './auth-middleware.js';
import { parseInput } from './errors.js';

export interface DemoRinger {
  /** Rings `extension` from `from` (a number from the demo phonebook when omitted) and plays the call out. */
  ring(
    extension: string,
    from?: string,
  ): Promise<{ delivered: boolean; from: string; reason?: string; callId?: string; outcome?: 'answered' | 'missed' }>;
}

export const ringBody = z.object({
  from: z.string().trim().min(1).max(64).optional(),
});

export function createDemoRouter(deps: { verify: TokenVerifier; ringer: DemoRinger }): Router {
  const router = Router();
  router.get('/api/demo', (_req, res) => {
    res.json({ demo: true });
  });
  router.post('/api/demo/ring', requireAgentToken(deps.verify), json({ limit: '4kb' }), async (req, res) => {
    const { from } = parseInput(ringBody, req.body);
    const claims = agentClaims(res);
    const extension = claims.extension === '*' ? '101' : claims.extension;
    res.json(await deps.ringer.ring(extension, from));
  });
  return router;
}
