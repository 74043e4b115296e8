/**
 * Constant-time checks of a presented secret against a configured one. Both sides are compared as SHA-256
 * digests, so neither the content nor the length leaks; the configured side is hashed once, not per request.
 */
import { hash, timingSafeEqual } from 'node:crypto';

function sha256(value: string): Buffer {
  // One-shot hashing (node >= 20.12): no Hash object per request.
  return hash('sha256', value, 'buffer');
}

export class SecretDigest {
  private readonly expected: Buffer;

  constructor(secret: string) {
    this.expected = sha256(secret);
  }

  matches(given: string): boolean {
    return timingSafeEqual(sha256(given), this.expected);
  }

  /** True when any of the presented values matches; every one is compared (no early exit). */
  matchesAny(given: readonly string[]): boolean {
    let ok = false;
    for (const value of given) ok = this.matches(value) || ok;
    return ok;
  }
}
