/** POST /api/agents/login and /logout (CONTRACT 4): the PBX itself checks the extension's web password. */
import { Router, json, type RequestHandler } from 'express';
import { z } from 'zod';
import type { AgentClaims } from '../core/agent.js';
import type { PbxApi } from '../core/ports.js';
import { PbxError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TokenService } from '../auth/tokens.js';
import { LoginRateLimiter } from '../auth/login-rate-limit.js';
import { agentClaims, requireAgentToken } from './auth-middleware.js';
import { parseInput, sendError } from './errors.js';

export const extensionNumber = z
  .string({ message: 'must be a string' })
  .trim()
  .regex(/^[0-9*#+]{1,32}$/, 'must be an extension number (digits, at most 32)');

const loginBody = z.object({
  extension: extensionNumber,
  password: z.string({ message: 'is required' }).min(1, 'is required').max(256, 'is too long'),
});

/** Manual: crmSubscribe answers 406 "Not Acceptable" naming the bad parameter (wrong extension or password). */
function isCredentialRefusal(err: PbxError): boolean {
  return err.isRejection && (err.pbxStatus === 406 || err.pbxStatus === 401 || err.pbxStatus === 403);
}

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
}): Router {
  const router = Router();

  // The parser belongs to this route alone: mounted with router.use it would parse (and judge) every JSON
  // body sent to any path, before that route's own auth and size limit.
  router.post('/api/agents/login', json({ limit: '16kb' }), async (req, res) => {
    const { extension, password } = parseInput(loginBody, req.body);
    const address = req.ip ?? 'unknown';
    const begun = await deps.limiter.begin(extension, address);
    if (!begun.ok) {
      if (begun.reason === 'in_flight') {
        res.setHeader('Retry-After', '1');
        sendError(res, 429, 'too_many_attempts', 'A sign-in for this extension is already in progress; try again in a moment.');
      } else {
        res.setHeader('Retry-After', String(LoginRateLimiter.retryAfterSeconds));
        sendError(res, 429, 'too_many_attempts', 'Too many failed sign-in attempts; try again in a minute.');
      }
      return;
    }
    try {
      await deps.pbx.crmSubscribe(extension, password);
      await begun.attempt.refund();
    } catch (err) {
      if (err instanceof PbxError && isCredentialRefusal(err)) {
        deps.logger.info({ extension, pbxStatus: err.pbxStatus }, 'agent sign-in refused by the PBX');
        res.status(401).json({ error: 'invalid_credentials', message: 'The PBX refused this extension and password.' });
        return;
      }
      if (err instanceof PbxError) {
        await begun.attempt.refund();
        deps.logger.warn({ extension, code: err.code, pbxStatus: err.pbxStatus, err: err.message }, 'agent sign-in: PBX unavailable');
        res.status(503).json({ error: 'pbx_unavailable', message: 'The PBX cannot be reached right now; try again shortly.' });
        return;
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
  const allowCrossOrigin: RequestHandler = (req, res, next) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Authorization');
    res.setHeader('Access-Control-Allow-Methods', 'GET');
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  };
  router.options('/api/agents/session', allowCrossOrigin);
  router.get('/api/agents/session', allowCrossOrigin, requireAgentToken(deps.tokens.verify), (_req, res) => {
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
