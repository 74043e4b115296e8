/** POST /api/agents/login and /logout (CONTRACT 4): the PBX itself checks the extension's web password. */
import { Router, json } from 'express';
import { z } from 'zod';
import type { AgentClaims } from '../core/agent.js';
import type { PbxApi } from '../core/ports.js';
import { BridgeError, PbxError } from '../errors.js';
import { isCredentialRefusal } from '../pbx/refusals.js';
import type { Logger } from '../logger.js';
import type { TokenService } from '../auth/tokens.js';
import { LoginRateLimiter } from '../auth/login-rate-limit.js';
import { agentClaims, allowCrossOriginGet, requireAgentToken } from './auth-middleware.js';
import { parseInput } from './errors.js';

export const extensionNumber = z
  .string({ message: 'must be a string' })
  .trim()
  .regex(/^[0-9*#+]{1,32}$/, 'must be an extension number (digits, at most 32)');

export const loginBody = z.object({
  extension: extensionNumber,
  password: z.string({ message: 'is required' }).min(1, 'is required').max(256, 'is too long'),
});

export interface AgentSessionHooks {
  /** Called after the PBX accepted the credentials (the subscription manager keeps them). */
  onLogin?(claims: AgentClaims, password: string): Promise<void>;
  onLogout?(claims: AgentClaims): Promise<void>;
}

export function createAgentRouter(deps: {
  pbx: PbxApi;
  tokens: TokenService;
  limiter: LoginRateLimiter;
  tokenTtlS: number;
  logger: Logger;
  hooks?: AgentSessionHooks;
  /** Whether the store can be used now. Default: always. */
  storeAvailable?: () => boolean;
}): Router {
  const router = Router();

  // The parser belongs to this route alone: mounted with router.use it would parse (and judge) every JSON
  // body sent to any path, before that route's own auth and size limit.
  router.post('/api/agents/login', json({ limit: '16kb' }), async (req, res) => {
    const { extension, password } = parseInput(loginBody, req.body);
    // A sign-in ends by storing the agent's credentials and token: with the store down it can only fail, and
    // asking the PBX first would subscribe the extension there for nothing (docs/operations.md).
    if (deps.storeAvailable && !deps.storeAvailable()) throw new BridgeError('STORE_ERR_UNAVAILABLE');
    const address = req.ip ?? 'unknown';
    const begun = await deps.limiter.begin(extension, address);
    if (!begun.ok) {
      if (begun.reason === 'in_flight') {
        res.setHeader('Retry-After', '1');
        throw new BridgeError('LOGIN_ERR_IN_PROGRESS');
      }
      res.setHeader('Retry-After', String(LoginRateLimiter.retryAfterSeconds));
      throw new BridgeError('LOGIN_ERR_TOO_MANY_ATTEMPTS');
    }
    try {
      await deps.pbx.crmSubscribe(extension, password);
      await begun.attempt.refund();
    } catch (err) {
      if (err instanceof PbxError && isCredentialRefusal(err)) {
        deps.logger.info({ extension, pbxStatus: err.pbxStatus }, 'agent sign-in refused by the PBX');
        throw new BridgeError('LOGIN_ERR_INVALID_CREDENTIALS');
      }
      if (err instanceof PbxError) {
        await begun.attempt.refund();
        deps.logger.warn({ extension, code: err.code, pbxStatus: err.pbxStatus, err: err.message }, 'agent sign-in: PBX unavailable');
        // Any PBX failure that is not a refusal: the contract's one answer for sign-in.
        throw new BridgeError('LOGIN_ERR_PBX_UNAVAILABLE');
      }
      throw err;
    } finally {
      await begun.attempt.done();
    }
    const issued = await deps.tokens.issue(extension, 'agent', deps.tokenTtlS);
    await deps.hooks?.onLogin?.(issued.claims, password);
    deps.logger.info({ extension }, 'agent signed in');
    res.json({ token: issued.token, extension, expiresAt: issued.expiresAt });
  });

  // Lets a client tell a revoked or foreign token from a network failure: a browser cannot see the HTTP 401
  // of a refused WebSocket handshake. Open to other origins (bearer token, no cookies) for embedded clients.
  router.options('/api/agents/session', allowCrossOriginGet);
  router.get('/api/agents/session', allowCrossOriginGet, requireAgentToken(deps.tokens.verify), (_req, res) => {
    const claims = agentClaims(res);
    res.json({ extension: claims.extension, role: claims.role, expiresAt: new Date(claims.exp * 1000).toISOString() });
  });

  router.post('/api/agents/logout', requireAgentToken(deps.tokens.verify), async (_req, res) => {
    const claims = agentClaims(res);
    await deps.tokens.revoke(claims);
    await deps.hooks?.onLogout?.(claims);
    deps.logger.info({ extension: claims.extension }, 'agent signed out');
    res.status(204).end();
  });

  return router;
}
