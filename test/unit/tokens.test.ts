import { describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { TokenService, bearerToken } from '../../src/auth/tokens.js';
import { MemoryKeyValueStore } from '../../src/store/memory.js';

const SECRET = 'a-session-secret-that-is-long-enough-000';

describe('TokenService', () => {
  it('when a token is issued, then it verifies to the same claims', async () => {
    const tokens = new TokenService(SECRET, new MemoryKeyValueStore());
    const issued = await tokens.issue('122', 'agent', 600);
    const claims = await tokens.verify(issued.token);
    expect(claims).toMatchObject({ extension: '122', role: 'agent' });
    expect(new Date(issued.expiresAt).getTime()).toBe((claims?.exp ?? 0) * 1000);
  });

  it('when a token is signed with another key, tampered with, or garbage, then it does not verify', async () => {
    const tokens = new TokenService(SECRET, new MemoryKeyValueStore());
    const other = new TokenService('another-secret-that-is-long-enough-0000', new MemoryKeyValueStore());
    const forged = (await other.issue('122', 'supervisor', 600)).token;
    expect(await tokens.verify(forged)).toBeNull();
    const good = (await tokens.issue('122', 'agent', 600)).token;
    const [h, , s] = good.split('.');
    const payload = Buffer.from(JSON.stringify({ ext: '123', role: 'supervisor', exp: 9999999999, jti: 'x' })).toString('base64url');
    expect(await tokens.verify(`${h}.${payload}.${s}`)).toBeNull();
    expect(await tokens.verify('not-a-token')).toBeNull();
    expect(await tokens.verify('')).toBeNull();
    // alg "none" must never be accepted.
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    expect(await tokens.verify(none)).toBeNull();
  });

  it('when a token has expired or was revoked, then it does not verify', async () => {
    let now = Date.now();
    const tokens = new TokenService(SECRET, new MemoryKeyValueStore(), () => now);
    const issued = await tokens.issue('122', 'agent', 60);
    now += 61_000;
    expect(await tokens.verify(issued.token)).toBeNull();
    now -= 61_000;
    const claims = await tokens.verify(issued.token);
    expect(claims).not.toBeNull();
    if (claims) await tokens.revoke(claims);
    expect(await tokens.verify(issued.token)).toBeNull();
  });

  it('when a validly signed token lacks the bridge claims, then it does not verify', async () => {
    const tokens = new TokenService(SECRET, new MemoryKeyValueStore());
    const odd = await new SignJWT({ role: 'agent' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('hodupbx-crm-bridge')
      .setAudience('agent')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    expect(await tokens.verify(odd)).toBeNull();
  });

  it('reads bearer tokens from Authorization headers', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer  xyz ')).toBe('xyz');
    expect(bearerToken('Basic abc')).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
});
