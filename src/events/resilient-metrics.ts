/** The resilient event log's metrics and its /readyz fields (docs/operations.md: "Redis is unreachable"). */
import type { Registry } from 'prom-client';
import { addCounter, addGauge, addLabelledCounter, byLabel } from '../metrics.js';
import type { ReadinessReport } from '../ops/readiness.js';
import type { ResilientEventLog } from './resilient-event-log.js';

export function registerResilientLogMetrics(registry: Registry, log: ResilientEventLog): void {
  addGauge(registry, 'bridge_event_log_degraded', '1 while the event log runs without Redis (local delivery only)', () => (log.mode() === 'degraded' ? 1 : 0));
  addGauge(registry, 'bridge_event_log_buffered', 'Events accepted during a Redis outage, not yet in the shared log', () => log.stats().buffered);
  addCounter(registry, 'bridge_events_degraded_total', 'Events accepted while Redis was unreachable (delivered locally, shared later)', () => log.stats().degradedEvents);
  addCounter(registry, 'bridge_events_degraded_refused_total', 'Callbacks refused (503) because the outage buffer was full', () => log.stats().refused);
  addLabelledCounter(
    registry,
    'bridge_events_degraded_shared_total',
    'Events from an outage handed to the shared log, by outcome (shared: added under a new id; duplicate: already there)',
    ['outcome'],
    () => byLabel('outcome', log.stats().flushed),
  );
}

/** `eventLog` (shared or degraded) and the buffered count; degraded makes the instance unready. */
export function resilientLogReadiness(log: ResilientEventLog): ReadinessReport {
  const stats = log.stats();
  const reasons: string[] = [];
  if (stats.mode === 'degraded') {
    reasons.push(
      `event log degraded since ${stats.degradedSince ?? 'now'}: callbacks reach this instance's agents only` +
        (stats.buffered > 0 ? `; ${stats.buffered} events wait to be shared` : ''),
    );
  }
  return { fields: { eventLog: stats.mode, eventLogBuffered: stats.buffered }, reasons };
}
