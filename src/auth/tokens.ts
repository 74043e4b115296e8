/**
 * Signed agent tokens (HS256 JWT via jose) with per-token revocation for logout and `DELETE /api/tokens/:id`.
 * Every issued token's expiry is kept under its id until it expires, so a token can be revoked by id alone;
 * a revocation is told to every instance (`onRevoked`) so their open sockets of that token close at once.
 */
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
    /** Told after a token was revoked (the bridge closes its sockets on every instance). */
    private readonly onRevoked: (jti: string) => Promise<void> = async () => undefined,
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
    // Best effort: without it the token works, it just cannot be revoked by id (DELETE /api/tokens/:id answers 404).
    await this.revocations.set(`token:${jti}`, String(exp), ttlSeconds * 1000).catch(() => undefined);
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

  /** Revokes one token until it would have expired anyway, and tells every instance. */
  async revoke(claims: Pick<AgentClaims, 'jti' | 'exp'>): Promise<void> {
    const ttlMs = claims.exp * 1000 - this.now();
    if (ttlMs <= 0) return;
    await this.revocations.set(`revoked:${claims.jti}`, '1', ttlMs);
    await this.onRevoked(claims.jti);
  }

  /** Revokes by token id; false when no unexpired token with that id was issued. */
  async revokeById(jti: string): Promise<boolean> {
    const exp = Number(await this.revocations.get(`token:${jti}`));
    if (!Number.isFinite(exp) || exp * 1000 <= this.now()) return false;
    await this.revoke({ jti, exp });
    return true;
  }
}

/** Reads a bearer token from an Authorization header value. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1] ?? null;
}
