import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CredentialCipher, CredentialError } from '../../src/subscriptions/credential-cipher.js';

const key = randomBytes(32);

describe('CredentialCipher (AES-256-GCM)', () => {
  it('when a password is sealed and opened with the same key and extension, then it comes back unchanged', () => {
    const c = new CredentialCipher(key);
    for (const pw of ['demo101pass', '', 'pässwörd ✓ with spaces', 'x'.repeat(256)]) {
      const sealed = c.seal(pw, '101');
      expect(sealed.startsWith('v1.')).toBe(true);
      expect(sealed).not.toContain(pw === '' ? 'never' : pw);
      expect(c.open(sealed, '101')).toBe(pw);
    }
  });

  it('when the same password is sealed twice, then the sealed values differ (fresh IV)', () => {
    const c = new CredentialCipher(key);
    expect(c.seal('secret', '101')).not.toBe(c.seal('secret', '101'));
  });

  it('when any byte of a sealed value is altered, then opening it throws', () => {
    const c = new CredentialCipher(key);
    const sealed = c.seal('demo101pass', '101');
    const raw = Buffer.from(sealed.slice(3), 'base64url');
    for (const i of [0, 11, 12, 27, 28, raw.length - 1]) {
      const bad = Buffer.from(raw);
      bad[i] = (bad[i] ?? 0) ^ 0x01;
      expect(() => c.open(`v1.${bad.toString('base64url')}`, '101')).toThrow(CredentialError);
    }
    expect(() => c.open(`v1.${raw.subarray(0, raw.length - 1).toString('base64url')}`, '101')).toThrow(CredentialError);
    expect(() => c.open('v1.AAAA', '101')).toThrow(CredentialError);
    expect(() => c.open('v2.' + sealed.slice(3), '101')).toThrow(CredentialError);
    expect(() => c.open('plain-password', '101')).toThrow(CredentialError);
  });

  it('when opened with another key, then it throws', () => {
    const sealed = new CredentialCipher(key).seal('demo101pass', '101');
    expect(() => new CredentialCipher(randomBytes(32)).open(sealed, '101')).toThrow(CredentialError);
  });

  it("when a sealed value is moved to another extension's record, then it does not open there", () => {
    const c = new CredentialCipher(key);
    expect(() => c.open(c.seal('demo101pass', '101'), '102')).toThrow(CredentialError);
  });

  it('when the key is not 32 bytes, then the cipher refuses it', () => {
    expect(() => new CredentialCipher(randomBytes(16))).toThrow(/32 bytes/);
    expect(() => new CredentialCipher(Buffer.alloc(0))).toThrow(/32 bytes/);
  });

  it('when the key buffer is changed after construction, then the cipher is unaffected', () => {
    const k = randomBytes(32);
    const c = new CredentialCipher(k);
    const sealed = c.seal('pw', '101');
    k.fill(0);
    expect(c.open(sealed, '101')).toBe('pw');
  });
});
