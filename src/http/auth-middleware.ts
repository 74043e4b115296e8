/** Bearer-key check for the admin API, and bearer-token check for agent routes. */
import { SecretDigest } from '../auth/secret-digest.js';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AgentClaims, TokenVerifier } from '../core/agent.js';
import { bearerToken } from '../auth/tokens.js';
import { BridgeError } from '../errors.js';

/** Without a configured key the admin API does not exist (404), as the contract says. */
export function requireAdminKey(adminApiKey: string | null): RequestHandler {
  const expected = adminApiKey ? new SecretDigest(adminApiKey) : null;
  return (req: Request, _res: Response, next: NextFunction) => {
    if (!expected) throw new BridgeError('AUTH_ERR_ADMIN_DISABLED');
    const given = bearerToken(req.headers.authorization);
    if (!given || !expected.matches(given)) throw new BridgeError('AUTH_ERR_ADMIN_KEY');
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
    if (!claims) throw new BridgeError('AUTH_ERR_INVALID_TOKEN');
    res.locals.agent = claims;
    next();
  };
}

/**
 * For the agent's own read routes that client.js calls from a CRM page on another origin: bearer token, no
 * cookies, so any origin may ask; a preflight is answered here.
 */
export const allowCrossOriginGet: RequestHandler = (req, res, next) => {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Allow-Headers', 'Authorization');
  res.setHeader('Access-Control-Allow-Methods', 'GET');
  if (req.method === 'OPTIONS') {
    res.status(204).end();
    return;
  }
  next();
};
