/** Counts failed logins per extension and per address; 10 in a minute blocks further attempts (CONTRACT 4). */
import type { KeyValueStore } from '../core/ports.js';

const WINDOW_MS = 60_000;
const MAX_FAILURES = 10;

export class LoginRateLimiter {
  constructor(private readonly kv: KeyValueStore) {}

  private keys(extension: string, address: string): string[] {
    return [`ratelimit:login:ext:${extension}`, `ratelimit:login:ip:${address}`];
  }

  async isBlocked(extension: string, address: string): Promise<boolean> {
    const counts = await Promise.all(this.keys(extension, address).map((k) => this.kv.get(k)));
    return counts.some((c) => c !== null && Number(c) >= MAX_FAILURES);
  }

  async recordFailure(extension: string, address: string): Promise<void> {
    await Promise.all(this.keys(extension, address).map((k) => this.kv.incrWithTtl(k, WINDOW_MS)));
  }

  static readonly retryAfterSeconds = WINDOW_MS / 1000;
}
