/**
 * The webhook dispatcher (src/crm-webhooks/dispatcher.ts) doing nothing while no endpoint exists, picking up
 * endpoints as they come, and its second wake-up: events a log did not publish to its listeners (the resilient
 * log's outage events, read back from the shared stream once Redis is back) are dispatched when the log signals
 * `onSharedLater`, without waiting for the periodic tick.
 */
import { describe, expect, it } from 'vitest';
import type { NewCallEvent } from '../../src/core/event.js';
import { createLogger } from '../../src/logger.js';
import { MemoryKeyValueStore, MemoryLock } from '../../src/store/memory.js';
import { MemoryEventLog } from '../../src/events/memory-event-log.js';
import { MemoryDeliveryStore, MemoryEndpointStore } from '../../src/crm-webhooks/stores.js';
import { CURSOR_KEY, WebhookDispatcher, type SharedLaterSignal } from '../../src/crm-webhooks/dispatcher.js';
import type { DeliveryJob, WebhookEndpoint } from '../../src/crm-webhooks/types.js';
import { eventually, letTimePass } from '../helpers/wait.js';

let seq = 0;
const newEvent = (): NewCallEvent => {
  seq++;
  return {
    type: 'call.ringing',
    timestamp: new Date().toISOString(),
    data: {
      extension: '122',
      call: { id: `c-${seq}`, from: '+919824740472', fromRaw: '+919824740472', fromName: null, to: '122', direction: 'inbound', sessionId: 'session-1' },
      contact: null,
      otherContacts: [],
      links: {},
    },
  };
};
const endpoint = (id: string): WebhookEndpoint => ({
  id,
  url: 'https://crm.example/hook',
  events: null,
  description: null,
  secret: 'whsec_x',
  status: 'active',
  disabledReason: null,
  disabledAt: null,
  createdAt: new Date().toISOString(),
});

describe('WebhookDispatcher without endpoints', () => {
  it('does not read the log per event, and an endpoint created later gets every event accepted after it was created', async () => {
    const eventLog = new MemoryEventLog();
    const kv = new MemoryKeyValueStore();
    const deliveries = new MemoryDeliveryStore();
    const endpoints = new MemoryEndpointStore(deliveries);
    const jobs: DeliveryJob[] = [];
    let reads = 0;
    const readAfter = eventLog.readAfter.bind(eventLog);
    eventLog.readAfter = (after, limit) => {
      reads++;
      return readAfter(after, limit);
    };
    const dispatcher = new WebhookDispatcher({
      eventLog,
      kv,
      lock: new MemoryLock(),
      endpoints,
      deliveries,
      queue: { enqueue: async (j) => void jobs.push(...j), close: async () => {} },
      logger: createLogger('silent'),
    });
    await dispatcher.start();
    try {
      // An append wakes the dispatcher at once (the log calls its listeners before append resolves): idle()
      // then waits for the drain it started.
      const first = await eventLog.append(newEvent(), null);
      await dispatcher.idle();
      const readsAfterFirst = reads;
      for (let i = 0; i < 20; i++) await eventLog.append(newEvent(), null);
      // None of these 20 may make the dispatcher read the log, now or a little later.
      await letTimePass(20);
      await dispatcher.idle();
      expect(reads).toBe(readsAfterFirst);

      // Created elsewhere (not through this dispatcher's service): seen at the next recheck, within about a second.
      await endpoints.create(endpoint('ep_1'));
      const after = await eventLog.append(newEvent(), null);
      await eventually(() => jobs.some((j) => j.eventId === after.id), 3000, 'a job for the event appended after the endpoint was created');
      expect(jobs.map((j) => j.eventId)).toContain(after.id);
      // It may also get events from up to one recheck interval before it existed (here: the 20 above), never older.
      expect(jobs.length).toBeLessThanOrEqual(21);
      expect(jobs.map((j) => j.eventId)).not.toContain(first.id);
      expect(await kv.get(CURSOR_KEY)).toBe(after.id);

      // Removed and created again through the service: taken into account at once.
      await endpoints.delete('ep_1');
      dispatcher.endpointsChanged();
      await dispatcher.idle();
      await eventLog.append(newEvent(), null);
      await dispatcher.idle();
      const count = jobs.length;
      await endpoints.create(endpoint('ep_2'));
      dispatcher.endpointsChanged();
      await dispatcher.idle();
      const next = await eventLog.append(newEvent(), null);
      await dispatcher.idle();
      expect(jobs.slice(count).map((j) => j.eventId)).toEqual([next.id]);
    } finally {
      await dispatcher.stop();
      await eventLog.close();
    }
  });
});

class ManualSignal implements SharedLaterSignal {
  readonly listeners = new Set<() => void>();
  onSharedLater(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
  fire(): void {
    for (const l of this.listeners) l();
  }
}

describe('WebhookDispatcher with a shared-later signal', () => {
  it('when the signal fires, then events the log never published are enqueued; after stop it listens no more', async () => {
    const eventLog = new MemoryEventLog();
    // Events reach this log without reaching its listeners, as outage events read back do.
    eventLog.subscribe = () => () => undefined;
    const deliveries = new MemoryDeliveryStore();
    const endpoints = new MemoryEndpointStore(deliveries);
    await endpoints.create(endpoint('ep_1'));
    const jobs: DeliveryJob[] = [];
    const signal = new ManualSignal();
    const dispatcher = new WebhookDispatcher({
      eventLog,
      sharedLater: signal,
      kv: new MemoryKeyValueStore(),
      lock: new MemoryLock(),
      endpoints,
      deliveries,
      queue: { enqueue: async (j) => void jobs.push(...j), close: async () => {} },
      logger: createLogger('silent'),
      // The periodic tick (a third of this) does not come during the test.
      lockTtlMs: 600_000,
    });
    await dispatcher.start();
    try {
      const appended = await eventLog.append(newEvent(), null);
      await dispatcher.idle();
      expect(jobs).toEqual([]);

      signal.fire();
      await dispatcher.idle();
      expect(jobs.map((j) => j.eventId)).toEqual([appended.id]);
    } finally {
      await dispatcher.stop();
      await eventLog.close();
    }
    expect(signal.listeners.size).toBe(0);
  });
});
