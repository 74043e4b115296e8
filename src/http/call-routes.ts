/** The call journal's routes (docs/calls.md): /api/calls (admin) and /api/agents/calls (agent token). */
import { Router } from 'express';
import { z } from 'zod';
import type { TokenVerifier } from '../core/agent.js';
import { decodeCursor, type CallJournal, type JournalEntry } from '../calls/journal.js';
import type { CallSession } from '../calls/model.js';
import { callSummary } from '../calls/outbox.js';
import { agentClaims, allowCrossOriginGet, requireAdminKey, requireAgentToken } from './auth-middleware.js';
import { BridgeError } from '../errors.js';
import { parseInput } from './errors.js';

const time = z
  .string()
  .trim()
  .refine((v) => !Number.isNaN(Date.parse(v)), 'must be an ISO 8601 time, e.g. 2026-11-27T10:00:00Z')
  .transform((v) => Date.parse(v));

const number = z.string().trim().min(1, 'must not be empty').max(64, 'is too long');

export const listQuery = z.object({
  number: number.optional(),
  extension: z.string().trim().regex(/^[0-9*#+]{1,32}$/, 'must be an extension number').optional(),
  since: time.optional(),
  until: time.optional(),
  limit: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 200, 'must be between 1 and 200')
    .optional(),
  cursor: z
    .string()
    .max(512, 'is too long')
    .refine((v) => decodeCursor(v) !== null, 'must be a nextCursor this API returned')
    .optional(),
});

export const agentQuery = z.object({
  number: number.optional(),
  limit: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 50, 'must be between 1 and 50')
    .optional(),
});

/** A call still followed by the tracker, in the journal's shape (no cdr yet). */
function inProgress(s: CallSession): Record<string, unknown> {
  return { ...callSummary(s), outcome: null, state: s.phase, cdr: s.cdr };
}

export function createCallRouter(deps: {
  adminApiKey: string | null;
  verify: TokenVerifier;
  journal: CallJournal;
  /** The live session, for a call not yet in the journal. */
  session(sessionId: string): Promise<CallSession | null>;
}): Router {
  const router = Router();
  const admin = requireAdminKey(deps.adminApiKey);

  router.get('/api/calls', admin, async (req, res) => {
    const q = parseInput(listQuery, req.query);
    const page = await deps.journal.list({ ...q, limit: q.limit ?? 50 });
    res.json(page);
  });

  router.get('/api/calls/:sessionId', admin, async (req, res) => {
    const id = String(req.params.sessionId);
    const entry: JournalEntry | null = await deps.journal.get(id);
    if (entry) {
      res.json({ call: { ...entry, state: 'completed' } });
      return;
    }
    const live = await deps.session(id);
    if (!live) throw new BridgeError('CALL_ERR_NOT_FOUND');
    res.json({ call: inProgress(live) });
  });

  // Open to other origins like /api/agents/session: a CRM page using client.js asks with the agent's token.
  router.options('/api/agents/calls', allowCrossOriginGet);
  router.get('/api/agents/calls', allowCrossOriginGet, requireAgentToken(deps.verify), async (req, res) => {
    const q = parseInput(agentQuery, req.query);
    const claims = agentClaims(res);
    // With a number: the pop's "recent calls with this caller". Without: this agent's own recent calls.
    const page = q.number
      ? await deps.journal.list({ number: q.number, limit: q.limit ?? 5 })
      : await deps.journal.list({ ...(claims.extension === '*' ? {} : { extension: claims.extension }), limit: q.limit ?? 15 });
    res.json({ calls: page.calls });
  });

  return router;
}
