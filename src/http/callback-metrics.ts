/** Counts and times the callbacks the callback route hands on: accepted or duplicate, and the event appended. */
import { Histogram, type Registry } from 'prom-client';
import { addLabelledCounter, byLabel } from '../metrics.js';
import type { NormalizedCallback } from '../core/callback.js';
import { eventTypeForState } from '../core/event.js';
import type { AppendResult } from '../core/ports.js';

export type AcceptCallback = (cb: NormalizedCallback) => Promise<AppendResult>;

/** `accept` with the callback metrics around it. */
export function countedAccept(registry: Registry, accept: AcceptCallback): AcceptCallback {
  // Plain running totals, read at scrape time: prom-client's inc() with labels (or a labels() child, which
  // only binds them) hashes the labels object on every call, twice per callback here.
  const results: Record<string, number> = {};
  const published: Record<string, number> = {};
  addLabelledCounter(registry, 'bridge_callbacks_total', 'PBX callbacks by result (accepted, duplicate, rejected, unauthorized, failed)', ['result'], () =>
    byLabel('result', results),
  );
  addLabelledCounter(registry, 'bridge_events_published_total', 'Events appended to the event log', ['type'], () => byLabel('type', published));
  const callbackToPublish = new Histogram({
    name: 'bridge_callback_to_publish_seconds',
    help: 'From callback received to event appended',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  return async (cb) => {
    const started = performance.now();
    const result = await accept(cb);
    callbackToPublish.observe((performance.now() - started) / 1000);
    const key = result.duplicate ? 'duplicate' : 'accepted';
    results[key] = (results[key] ?? 0) + 1;
    if (!result.duplicate) {
      const type = eventTypeForState(cb.state);
      published[type] = (published[type] ?? 0) + 1;
    }
    return result;
  };
}
