/** The overload guard's figures as metrics (docs/performance.md: callbacks refused past the bridge's limit). */
import { Histogram, type Registry } from 'prom-client';
import { addGauge, addLabelledCounter, byLabel } from '../metrics.js';
import type { OverloadGuard } from './overload-guard.js';

export function registerOverloadMetrics(registry: Registry, overload: OverloadGuard): void {
  addLabelledCounter(
    registry,
    'bridge_callbacks_refused_total',
    'Callbacks answered 503 because the bridge was past its limit, by reason (in_flight, event_loop, answer_time, open_calls)',
    ['reason'],
    () => byLabel('reason', overload.stats().refused),
  );
  addGauge(registry, 'bridge_callbacks_in_flight', 'Callbacks authenticated and not yet answered', () => overload.stats().inFlight);
  addGauge(registry, 'bridge_callbacks_refuse_share', 'Share of callbacks refused now for event-loop load or slow answers (0..1)', () => overload.stats().refuseShare);
  // The answer-time signal's own figure, so an operator can see how far the healthy minimum sits from the limit.
  const answerMin = new Histogram({
    name: 'bridge_callbacks_answer_min_seconds',
    help: 'Per 100 ms sample, the least time an accepted callback took from arrival to answer',
    buckets: [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.05, 0.1],
    registers: [registry],
  });
  overload.onSample((ms) => {
    if (ms !== null) answerMin.observe(ms / 1000);
  });
}
