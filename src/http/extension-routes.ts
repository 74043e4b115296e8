/**
 * The admin API for subscriptions (CONTRACT 5):
 * - `PUT /api/extensions/:number {"password"}`: verify with crmSubscribe, then keep it subscribed for good.
 *   200 with the extension; 422 `pbx_refused` with the PBX's message when it refuses (nothing stored);
 *   503 `pbx_unavailable` when it cannot be reached and 502 `pbx_error` on an odd answer (nothing stored).
 * - `DELETE /api/extensions/:number`: stop that (unsubscribed unless an agent is on it); 404 when not registered.
 * - `GET /api/extensions`: `{"extensions":[{extension, desired, sources, state, lastError, nextRetryAt, updatedAt}]}`.
 * Never a password in an answer.
 */
import { Router, json } from 'express';
import { z } from 'zod';
import type { ExtensionView, RegisterResult } from '../subscriptions/manager.js';
import { requireAdminKey } from './auth-middleware.js';
import { BridgeError, type ErrorCode } from '../errors.js';
import { parseInput } from './errors.js';
import { extensionNumber } from './agent-routes.js';

/** What the routes need from the subscription manager. */
export interface ExtensionAdmin {
  register(extension: string, password: string): Promise<RegisterResult>;
  unregister(extension: string): Promise<ExtensionView | null>;
  list(): Promise<ExtensionView[]>;
}

export const params = z.object({ number: extensionNumber });
export const putBody = z.object({
  password: z.string({ message: 'is required' }).min(1, 'is required').max(256, 'is too long'),
});

/** Why a registration failed, as the registry's codes (the answer carries the manager's message). */
const REGISTER_FAILURE = {
  refused: 'EXTENSION_ERR_REFUSED',
  unavailable: 'PBX_ERR_UNREACHABLE',
  pbx_error: 'PBX_ERR_BAD_RESPONSE',
} as const satisfies Record<Extract<RegisterResult, { ok: false }>['reason'], ErrorCode>;

export function createExtensionRouter(deps: { adminApiKey: string | null; subscriptions: ExtensionAdmin }): Router {
  const router = Router();
  const admin = requireAdminKey(deps.adminApiKey);

  router.get('/api/extensions', admin, async (_req, res) => {
    res.json({ extensions: await deps.subscriptions.list() });
  });

  router.put('/api/extensions/:number', admin, json({ limit: '16kb' }), async (req, res) => {
    const { number } = parseInput(params, req.params);
    const { password } = parseInput(putBody, req.body);
    const result = await deps.subscriptions.register(number, password);
    if (result.ok) {
      res.json(result.extension);
      return;
    }
    throw new BridgeError(REGISTER_FAILURE[result.reason], result.message);
  });

  router.delete('/api/extensions/:number', admin, async (req, res) => {
    const { number } = parseInput(params, req.params);
    const view = await deps.subscriptions.unregister(number);
    if (!view) throw new BridgeError('EXTENSION_ERR_NOT_REGISTERED', `Extension ${number} is not registered.`);
    res.json(view);
  });

  return router;
}
