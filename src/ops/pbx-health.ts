/**
 * Watches every PBX request: counts and times it (metrics), and remembers how the last ones went, for /readyz
 * and the logs (one line per change, not per request).
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import type { ReadinessPart, ReadinessReport } from './readiness.js';

export type PbxOutcome = 'ok' | 'rejected' | 'timeout' | 'unreachable' | 'bad_response';

export class PbxHealth implements ReadinessPart {
  private readonly requests: Counter<'endpoint' | 'outcome'>;
  private readonly latency: Histogram<'endpoint'>;
  private lastOkAt: number | null = null;
  private lastFailureAt: number | null = null;
  private lastOutcome: PbxOutcome | null = null;
  private lastEndpoint: string | null = null;

  constructor(
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.requests = new Counter({
      name: 'bridge_pbx_requests_total',
      help: 'Requests to the PBX API by endpoint and outcome',
      labelNames: ['endpoint', 'outcome'],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'bridge_pbx_request_seconds',
      help: 'PBX API request latency',
      labelNames: ['endpoint'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  }

  /** The PBX client's onRequest. */
  readonly record = (endpoint: string, outcome: PbxOutcome, durationMs: number): void => {
    this.requests.inc({ endpoint, outcome });
    this.latency.observe({ endpoint }, durationMs / 1000);
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
  };

  readiness(): ReadinessReport {
    return { fields: { pbx: this.status() } };
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
