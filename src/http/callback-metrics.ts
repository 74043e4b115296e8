/** Counts and times the callbacks the callback route hands on: accepted or duplicate, and the event appended. */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { NormalizedCallback } from '../core/callback.js';
import { eventTypeForState } from '../core/event.js';
import type { AppendResult } from '../core/ports.js';

export type AcceptCallback = (cb: NormalizedCallback) => Promise<AppendResult>;

/** `accept` with the callback metrics around it. */
export function countedAccept(registry: Registry, accept: AcceptCallback): AcceptCallback {
  const callbacks = new Counter({
    name: 'bridge_callbacks_total',
    help: 'PBX callbacks by result (accepted, duplicate, rejected, unauthorized, failed)',
    labelNames: ['result'],
    registers: [registry],
  });
  const eventsPublished = new Counter({
    name: 'bridge_events_published_total',
    help: 'Events appended to the event log',
    labelNames: ['type'],
    registers: [registry],
  });
  const callbackToPublish = new Histogram({
    name: 'bridge_callback_to_publish_seconds',
    help: 'From callback received to event appended',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  // The label children bound once: inc() on a child skips hashing the labels object on every callback.
  const accepted = callbacks.labels('accepted');
  const duplicate = callbacks.labels('duplicate');
  const published = new Map<string, Counter.Internal>();
  const publishedOf = (type: string): Counter.Internal => {
    let child = published.get(type);
    if (!child) published.set(type, (child = eventsPublished.labels(type)));
    return child;
  };
  return async (cb) => {
    const started = performance.now();
    const result = await accept(cb);
    callbackToPublish.observe((performance.now() - started) / 1000);
    if (result.duplicate) duplicate.inc();
    else {
      accepted.inc();
      publishedOf(eventTypeForState(cb.state)).inc();
    }
    return result;
  };
}
