/**
 * Counts failed logins per extension and per address; 10 in a minute blocks further attempts (CONTRACT 4).
 * When the store (Redis) cannot be reached it fails open: sign-ins still go to the PBX, which checks the
 * password itself, and one warning per outage says the limit is not enforced.
 */
import type { KeyValueStore } from '../core/ports.js';
import type { Logger } from '../logger.js';

const WINDOW_MS = 60_000;
const MAX_FAILURES = 10;

export class LoginRateLimiter {
  private storeDown = false;

  constructor(
    private readonly kv: KeyValueStore,
    private readonly logger?: Logger,
  ) {}

  private keys(extension: string, address: string): string[] {
    return [`ratelimit:login:ext:${extension}`, `ratelimit:login:ip:${address}`];
  }

  async isBlocked(extension: string, address: string): Promise<boolean> {
    try {
      const counts = await Promise.all(this.keys(extension, address).map((k) => this.kv.get(k)));
      this.storeUp();
      return counts.some((c) => c !== null && Number(c) >= MAX_FAILURES);
    } catch (err) {
      this.storeFailed(err);
      return false;
    }
  }

  async recordFailure(extension: string, address: string): Promise<void> {
    try {
      await Promise.all(this.keys(extension, address).map((k) => this.kv.incrWithTtl(k, WINDOW_MS)));
      this.storeUp();
    } catch (err) {
      this.storeFailed(err);
    }
  }

  private storeFailed(err: unknown): void {
    if (this.storeDown) return;
    this.storeDown = true;
    this.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'login rate limit store unreachable; sign-in attempts are not limited until it is back');
  }

  private storeUp(): void {
    if (!this.storeDown) return;
    this.storeDown = false;
    this.logger?.info('login rate limit store reachable again');
  }

  static readonly retryAfterSeconds = WINDOW_MS / 1000;
}
