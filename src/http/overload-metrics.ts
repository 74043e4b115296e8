/** The overload guard's figures as metrics (docs/performance.md: callbacks refused past the bridge's limit). */
import type { Registry } from 'prom-client';
import { addGauge, addLabelledCounter, byLabel } from '../metrics.js';
import type { OverloadGuard } from './overload-guard.js';

export function registerOverloadMetrics(registry: Registry, overload: OverloadGuard): void {
  addLabelledCounter(
    registry,
    'bridge_callbacks_refused_total',
    'Callbacks answered 503 because the bridge was past its limit, by reason (in_flight, event_loop, open_calls)',
    ['reason'],
    () => byLabel('reason', overload.stats().refused),
  );
  addGauge(registry, 'bridge_callbacks_in_flight', 'Callbacks authenticated and not yet answered', () => overload.stats().inFlight);
  addGauge(registry, 'bridge_callbacks_refuse_share', 'Share of callbacks refused now for event-loop load (0..1)', () => overload.stats().refuseShare);
}
