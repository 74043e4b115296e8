/** Signed agent tokens (HS256 JWT via jose) with per-token revocation for logout. */
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { AgentClaims, AgentRole } from '../core/agent.js';
import type { KeyValueStore } from '../core/ports.js';

const ISSUER = 'hodupbx-crm-bridge';
const AUDIENCE = 'agent';

export interface IssuedToken {
  token: string;
  expiresAt: string;
  claims: AgentClaims;
}

export class TokenService {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly revocations: KeyValueStore,
    private readonly now: () => number = Date.now,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async issue(extension: string, role: AgentRole, ttlSeconds: number): Promise<IssuedToken> {
    const iat = Math.floor(this.now() / 1000);
    const exp = iat + ttlSeconds;
    const jti = randomUUID();
    const token = await new SignJWT({ ext: extension, role })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(this.key);
    return { token, expiresAt: new Date(exp * 1000).toISOString(), claims: { extension, role, exp, jti } };
  }

  /** Resolves null for a missing, forged, expired or revoked token; never throws. */
  verify = async (token: string): Promise<AgentClaims | null> => {
    if (!token || token.length > 4096) return null;
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
        currentDate: new Date(this.now()),
      }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError || err instanceof TypeError) return null;
      throw err;
    }
    const { ext, role, exp, jti } = payload;
    if (typeof ext !== 'string' || (role !== 'agent' && role !== 'supervisor') || typeof exp !== 'number' || typeof jti !== 'string') {
      return null;
    }
    if ((await this.revocations.get(`revoked:${jti}`)) !== null) return null;
    return { extension: ext, role, exp, jti };
  };

  /** Revokes one token until it would have expired anyway. */
  async revoke(claims: AgentClaims): Promise<void> {
    const ttlMs = claims.exp * 1000 - this.now();
    if (ttlMs > 0) await this.revocations.set(`revoked:${claims.jti}`, '1', ttlMs);
  }
}

/** Reads a bearer token from an Authorization header value. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1] ?? null;
}
