/** Bearer-key check for the admin API, and bearer-token check for agent routes. */
import { SecretDigest } from '../auth/secret-digest.js';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AgentClaims, TokenVerifier } from '../core/agent.js';
import { bearerToken } from '../auth/tokens.js';
import { sendError } from './errors.js';

/** Without a configured key the admin API does not exist (404), as the contract says. */
export function requireAdminKey(adminApiKey: string | null): RequestHandler {
  const expected = adminApiKey ? new SecretDigest(adminApiKey) : null;
  return (req: Request, res: Response, next: NextFunction) => {
    if (!expected) {
      sendError(res, 404, 'not_found', 'The admin API is disabled: set ADMIN_API_KEY.');
      return;
    }
    const given = bearerToken(req.headers.authorization);
    if (!given || !expected.matches(given)) {
      sendError(res, 401, 'unauthorized', 'A valid admin key is required: Authorization: Bearer <ADMIN_API_KEY>.');
      return;
    }
    next();
  };
}

export function agentClaims(res: Response): AgentClaims {
  return res.locals.agent as AgentClaims;
}

export function requireAgentToken(verify: TokenVerifier): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req.headers.authorization);
    const claims = token ? await verify(token) : null;
    if (!claims) {
      sendError(res, 401, 'invalid_token', 'A valid agent token is required: Authorization: Bearer <token>.');
      return;
    }
    res.locals.agent = claims;
    next();
  };
}
