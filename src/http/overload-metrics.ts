/** The overload guard's figures as metrics (docs/performance.md: callbacks refused past the bridge's limit). */
import { Histogram, type Registry } from 'prom-client';
import { addGauge, addLabelledCounter, byLabel } from '../metrics.js';
import type { OverloadGuard } from './overload-guard.js';

export function registerOverloadMetrics(registry: Registry, overload: OverloadGuard): void {
  addLabelledCounter(
    registry,
    'bridge_callbacks_refused_total',
    'Callbacks answered 503 because the bridge was past its limit, by reason (in_flight, event_loop, answer_time, connections_busy, open_calls)',
    ['reason'],
    () => byLabel('reason', overload.stats().refused),
  );
  addGauge(registry, 'bridge_callbacks_in_flight', 'Callbacks authenticated and not yet answered', () => overload.stats().inFlight);
  addGauge(registry, 'bridge_callbacks_refuse_share', 'Share of callbacks refused now for event-loop load, slow answers or busy connections (0..1)', () => overload.stats().refuseShare);
  // The answer-time signal's own figure, so an operator can see how far the healthy minimum sits from the limit.
  const answerMin = new Histogram({
    name: 'bridge_callbacks_answer_min_seconds',
    help: 'Per 100 ms sample, the least time an accepted callback took from arrival to answer',
    buckets: [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.05, 0.1],
    registers: [registry],
  });
  // The busy-connections signal's figure: how near the PBX's reused keep-alive connections are to never idle.
  const busy = new Histogram({
    name: 'bridge_callbacks_connections_busy',
    help: 'Per 100 ms sample, the share of the time reused keep-alive connections had a callback in flight (0..1)',
    buckets: [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
    registers: [registry],
  });
  addGauge(registry, 'bridge_callbacks_reused_connections', 'Keep-alive connections open that carried more than one callback', () => overload.stats().reusedConnections);
  overload.onSample(({ answerMinMs, connectionsBusy }) => {
    if (answerMinMs !== null) answerMin.observe(answerMinMs / 1000);
    if (connectionsBusy !== null) busy.observe(connectionsBusy);
  });
}
