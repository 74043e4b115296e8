/** Prometheus metrics (prom-client) on a registry of our own: no global default registry. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface BridgeMetrics {
  registry: Registry;
  callbacks: Counter<'result'>;
  eventsPublished: Counter<'type'>;
  callbackToPublish: Histogram;
  pbxRequests: Counter<'endpoint' | 'outcome'>;
  pbxLatency: Histogram<'endpoint'>;
  /** Phonebook lookups on the callback path, by result (hit: a contact matched, miss: none). */
  phonebookLookups: Counter<'result'>;
  /** Gauges read at scrape time from whoever owns the figure. */
  addGauge(name: string, help: string, read: () => number): void;
  /**
   * Counters read at scrape time from a running total someone else keeps (it only grows): name them `…_total`.
   * With labels, `read` answers one total per label set.
   */
  addCounter(name: string, help: string, read: () => number): void;
  addLabelledCounter<L extends string>(name: string, help: string, labelNames: L[], read: () => Array<{ labels: Record<L, string>; value: number }>): void;
}

export function createMetrics(): BridgeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'bridge_', eventLoopMonitoringPrecision: 10 });
  return {
    registry,
    callbacks: new Counter({
      name: 'bridge_callbacks_total',
      help: 'PBX callbacks by result (accepted, duplicate, rejected, unauthorized, failed)',
      labelNames: ['result'],
      registers: [registry],
    }),
    eventsPublished: new Counter({
      name: 'bridge_events_published_total',
      help: 'Events appended to the event log',
      labelNames: ['type'],
      registers: [registry],
    }),
    callbackToPublish: new Histogram({
      name: 'bridge_callback_to_publish_seconds',
      help: 'From callback received to event appended',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    pbxRequests: new Counter({
      name: 'bridge_pbx_requests_total',
      help: 'Requests to the PBX API by endpoint and outcome',
      labelNames: ['endpoint', 'outcome'],
      registers: [registry],
    }),
    pbxLatency: new Histogram({
      name: 'bridge_pbx_request_seconds',
      help: 'PBX API request latency',
      labelNames: ['endpoint'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    phonebookLookups: new Counter({
      name: 'bridge_phonebook_lookups_total',
      help: 'Caller lookups in the phonebook index on the callback path, by result (hit, miss)',
      labelNames: ['result'],
      registers: [registry],
    }),
    addCounter(name, help, read) {
      new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    },
    addLabelledCounter(name, help, labelNames, read) {
      new Counter({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          for (const { labels, value } of read()) this.inc(labels, value);
        },
      });
    },
    addGauge(name, help, read) {
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
    },
  };
}
