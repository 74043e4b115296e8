/** The subscription manager's gauges, read at scrape time (docs/subscriptions.md). */
import type { Registry } from 'prom-client';
import { addGauge } from '../metrics.js';
import type { SubscriptionManager } from './manager.js';

export function registerSubscriptionMetrics(registry: Registry, subscriptions: SubscriptionManager): void {
  addGauge(registry, 'bridge_subscriptions_leader', '1 when this instance leads subscriptions', () => (subscriptions.status().leader ? 1 : 0));
  addGauge(registry, 'bridge_subscriptions_desired', 'Extensions that should be subscribed', () => subscriptions.status().desired);
  for (const state of ['subscribed', 'pending', 'failed', 'unsubscribed'] as const) {
    addGauge(registry, `bridge_subscriptions_${state}`, `Known extensions in state ${state}`, () => subscriptions.status().byState[state]);
  }
}
