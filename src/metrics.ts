/**
 * Prometheus metrics (prom-client) on a registry of our own: no global default registry. Each module
 * registers its own metrics on the bridge's registry (a `register…Metrics(registry, …)` next to the module);
 * these helpers are for figures read at scrape time from whoever keeps them.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** The bridge's registry, with the process and event-loop defaults (`bridge_` prefix). */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'bridge_', eventLoopMonitoringPrecision: 10 });
  return registry;
}

/** A gauge read at scrape time from whoever owns the figure. */
export function addGauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** A counter read at scrape time from a running total someone else keeps (it only grows): name it `…_total`. */
export function addCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** addCounter with labels: `read` answers one total per label set. */
export function addLabelledCounter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
  read: () => Array<{ labels: Record<L, string>; value: number }>,
): void {
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
}

/** Running totals by label, as `{ reason: count }`, in the shape addLabelledCounter reads. */
export function byLabel<L extends string>(label: L, totals: Record<string, number>): Array<{ labels: Record<L, string>; value: number }> {
  return Object.entries(totals).map(([key, value]) => ({ labels: { [label]: key } as Record<L, string>, value }));
}
