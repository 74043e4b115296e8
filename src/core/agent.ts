/** Who a token speaks for: an agent on one extension, or a supervisor who sees every extension. */
export type AgentRole = 'agent' | 'supervisor';

export interface AgentClaims {
  extension: string;
  role: AgentRole;
  /** Expiry, Unix seconds. */
  exp: number;
  /** Token id, so a logout can revoke this one token. */
  jti: string;
}

/** Verifies a bearer token; resolves null for a missing, forged, revoked or expired one. */
export type TokenVerifier = (token: string) => Promise<AgentClaims | null>;
