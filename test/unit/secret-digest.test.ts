import { describe, expect, it } from 'vitest';
import { SecretDigest } from '../../src/auth/secret-digest.js';

describe('SecretDigest', () => {
  const secret = 'callback-secret-0123456789';
  const digest = new SecretDigest(secret);

  it('matches the secret and nothing else: not a prefix, an extension, zero bytes after it, another case, or nothing', () => {
    expect(digest.matches(secret)).toBe(true);
    expect(digest.matches(secret.slice(0, -1))).toBe(false);
    expect(digest.matches(`${secret}x`)).toBe(false);
    expect(digest.matches(`${secret}\0`)).toBe(false);
    expect(digest.matches(`${secret}\0\0\0`)).toBe(false);
    expect(digest.matches(secret.toUpperCase())).toBe(false);
    expect(digest.matches('')).toBe(false);
    expect(digest.matches('x'.repeat(10_000))).toBe(false);
  });

  it('compares UTF-8 bytes, and takes secrets longer than the usual width', () => {
    const unicode = new SecretDigest('s\u00e9cr\u00e8t-\u{1F600}');
    expect(unicode.matches('s\u00e9cr\u00e8t-\u{1F600}')).toBe(true);
    expect(unicode.matches('s\u00e9cr\u00e8t-')).toBe(false);
    const long = 'k'.repeat(400);
    const wide = new SecretDigest(long);
    expect(wide.matches(long)).toBe(true);
    expect(wide.matches(`${long}k`)).toBe(false);
    expect(wide.matches(long.slice(1))).toBe(false);
  });

  it('matchesAny is true when any presented value matches, and checks every one', () => {
    expect(digest.matchesAny([])).toBe(false);
    expect(digest.matchesAny(['wrong', secret, 'also wrong'])).toBe(true);
    expect(digest.matchesAny(['wrong', 'also wrong'])).toBe(false);
  });
});
