/**
 * Limits sign-in attempts per extension and per address: 10 unsuccessful ones in a minute block further
 * attempts (CONTRACT 4).
 *
 * Race-free: an attempt is counted (one atomic increment per key, in Redis when configured) *before* the PBX
 * is asked, and only one sign-in per extension is in flight at a time (a short lock); a parallel one gets
 * 429 at once. A successful sign-in (or one the PBX could not check) is
 * counted too (`…:ok`), so it does not use up the budget of an office whose agents share one address:
 * blocked means "attempts minus refunds" reached the limit.
 *
 * When the store (Redis) answers an error it fails open: sign-ins still go to the PBX, which checks the
 * password itself, and one warning per outage says the limit is not enforced. When the connection refuses
 * the command because Redis is known to be down or hung (STORE_ERR_UNAVAILABLE), the refusal is passed on
 * instead: the sign-in could not be stored anyway, and the PBX is not asked for nothing.
 */
import type { KeyValueStore, Lock } from '../core/ports.js';
import { BridgeError } from '../errors.js';
import type { Logger } from '../logger.js';

const WINDOW_MS = 60_000;
const MAX_FAILURES = 10;

export type AttemptRefusal = 'in_flight' | 'too_many_attempts';

/** A sign-in allowed to go to the PBX. `refund()` unless the PBX refused it, then always `done()`. */
export interface LoginAttempt {
  /** The PBX accepted the password, or could not be asked: the attempt does not count against the limit. */
  refund(): Promise<void>;
  /** Releases the extension's in-flight lock. */
  done(): Promise<void>;
}

export type AttemptResult = { ok: true; attempt: LoginAttempt } | { ok: false; reason: AttemptRefusal };

export interface LoginRateLimiterOptions {
  logger?: Logger;
  /** How long one sign-in may hold its extension's lock at most (the PBX timeout plus a margin). Default 15 s. */
  inFlightTtlMs?: number;
}

export class LoginRateLimiter {
  private storeDown = false;
  private readonly logger: Logger | undefined;
  private readonly inFlightTtlMs: number;

  constructor(
    private readonly kv: KeyValueStore,
    private readonly lock: Lock,
    opts: LoginRateLimiterOptions = {},
  ) {
    this.logger = opts.logger;
    this.inFlightTtlMs = opts.inFlightTtlMs ?? 15_000;
  }

  private keys(extension: string, address: string): string[] {
    return [`ratelimit:login:ext:${extension}`, `ratelimit:login:ip:${address}`];
  }

  /** Takes the extension's in-flight lock and counts the attempt; refuses when either is not allowed. */
  async begin(extension: string, address: string): Promise<AttemptResult> {
    const lockName = `login:${extension}`;
    let lockToken: string | null;
    try {
      lockToken = await this.lock.acquire(lockName, this.inFlightTtlMs);
    } catch (err) {
      if (err instanceof BridgeError && err.code === 'STORE_ERR_UNAVAILABLE') throw err;
      this.storeFailed(err);
      return { ok: true, attempt: this.unlimited() };
    }
    if (lockToken === null) return { ok: false, reason: 'in_flight' };
    const release = async (): Promise<void> => {
      await this.lock.release(lockName, lockToken).catch((err: unknown) => this.storeFailed(err));
    };
    const keys = this.keys(extension, address);
    let blocked: boolean;
    try {
      const [attempts, successes] = await Promise.all([
        Promise.all(keys.map((k) => this.kv.incrWithTtl(k, WINDOW_MS))),
        Promise.all(keys.map((k) => this.kv.get(`${k}:ok`))),
      ]);
      this.storeUp();
      // The attempt just counted is included: the 11th unsuccessful one in the window is refused.
      blocked = attempts.some((n, i) => n - Number(successes[i] ?? 0) > MAX_FAILURES);
    } catch (err) {
      this.storeFailed(err);
      blocked = false;
    }
    if (blocked) {
      await release();
      return { ok: false, reason: 'too_many_attempts' };
    }
    return {
      ok: true,
      attempt: {
        refund: async () => {
          try {
            await Promise.all(keys.map((k) => this.kv.incrWithTtl(`${k}:ok`, WINDOW_MS)));
          } catch (err) {
            this.storeFailed(err);
          }
        },
        done: release,
      },
    };
  }

  private unlimited(): LoginAttempt {
    return { refund: async () => undefined, done: async () => undefined };
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
