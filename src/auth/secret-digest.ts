/**
 * Constant-time checks of a presented secret against a configured one, leaking neither its content nor its
 * length. The configured secret's UTF-8 bytes sit zero-padded in a buffer of a fixed width (at least 256
 * bytes); a presented value is written into a second buffer of that width and the two are compared whole
 * with `timingSafeEqual`, then the lengths: the work depends on the presented value only. This replaced a
 * SHA-256 of each presented value (the same comparison, UTF-8 bytes for UTF-8 bytes), whose one-shot digest
 * was the larger part of a callback's secret check (docs/performance.md, "Memory mode: the cost of one callback").
 */
import { timingSafeEqual } from 'node:crypto';

/** The compared width for secrets up to this many bytes; a longer secret widens it to its own length. */
const MIN_WIDTH = 256;

export class SecretDigest {
  private readonly expected: Buffer;
  private readonly expectedLength: number;
  /** Scratch for the presented value (one at a time: JavaScript runs one check at once). */
  private readonly given: Buffer;

  constructor(secret: string) {
    this.expectedLength = Buffer.byteLength(secret, 'utf8');
    const width = Math.max(MIN_WIDTH, this.expectedLength);
    this.expected = Buffer.alloc(width);
    this.expected.write(secret, 'utf8');
    this.given = Buffer.alloc(width);
  }

  matches(given: string): boolean {
    const length = Buffer.byteLength(given, 'utf8');
    // Longer than the width: it cannot be the secret (and says nothing about it beyond the public width).
    if (length > this.given.length) return false;
    this.given.fill(0);
    this.given.write(given, 'utf8');
    const same = timingSafeEqual(this.given, this.expected);
    return same && length === this.expectedLength;
  }

  /** True when any of the presented values matches; every one is compared (no early exit). */
  matchesAny(given: readonly string[]): boolean {
    let ok = false;
    for (const value of given) ok = this.matches(value) || ok;
    return ok;
  }
}
