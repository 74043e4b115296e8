/** Remembers how the last PBX requests went, for /readyz and the logs (one line per change, not per request). */
import type { Logger } from '../logger.js';

export type PbxOutcome = 'ok' | 'rejected' | 'timeout' | 'unreachable' | 'bad_response';

export class PbxHealth {
  private lastOkAt: number | null = null;
  private lastFailureAt: number | null = null;
  private lastOutcome: PbxOutcome | null = null;
  private lastEndpoint: string | null = null;

  constructor(private readonly logger: Logger) {}

  record(endpoint: string, outcome: PbxOutcome): void {
    // A refusal is an answer: the PBX is reachable.
    const reachable = outcome === 'ok' || outcome === 'rejected';
    const wasReachable = this.lastOutcome === null || this.lastOutcome === 'ok' || this.lastOutcome === 'rejected';
    if (reachable) this.lastOkAt = Date.now();
    else this.lastFailureAt = Date.now();
    if (reachable !== wasReachable) {
      if (reachable) this.logger.info({ endpoint }, 'PBX reachable again');
      else this.logger.warn({ endpoint, outcome }, 'PBX unreachable');
    }
    this.lastOutcome = outcome;
    this.lastEndpoint = endpoint;
  }

  status(): { reachable: boolean | null; lastOutcome: PbxOutcome | null; lastEndpoint: string | null; lastOkAt: string | null; lastFailureAt: string | null } {
    return {
      reachable: this.lastOutcome === null ? null : this.lastOutcome === 'ok' || this.lastOutcome === 'rejected',
      lastOutcome: this.lastOutcome,
      lastEndpoint: this.lastEndpoint,
      lastOkAt: this.lastOkAt ? new Date(this.lastOkAt).toISOString() : null,
      lastFailureAt: this.lastFailureAt ? new Date(this.lastFailureAt).toISOString() : null,
    };
  }
}
