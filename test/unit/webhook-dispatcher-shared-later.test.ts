/**
 * The webhook dispatcher's second wake-up: events a log did not publish to its listeners (the resilient log's
 * outage events, read back from the shared stream once Redis is back) are dispatched when the log signals
 * `onSharedLater`, without waiting for the dispatcher's periodic tick.
 */
import { describe, expect, it } from 'vitest';
import type { NewCallEvent } from '../../src/core/event.js';
import { WebhookDispatcher, type SharedLaterSignal } from '../../src/crm-webhooks/dispatcher.js';
import { MemoryDeliveryStore, MemoryEndpointStore } from '../../src/crm-webhooks/stores.js';
import type { DeliveryJob } from '../../src/crm-webhooks/types.js';
import { MemoryEventLog } from '../../src/events/memory-event-log.js';
import { createLogger } from '../../src/logger.js';
import { MemoryKeyValueStore, MemoryLock } from '../../src/store/memory.js';

const ringing = (from: string): NewCallEvent => ({
  type: 'call.ringing',
  timestamp: new Date().toISOString(),
  data: {
    extension: '122',
    call: { id: `c-${from}`, from, fromRaw: from, fromName: null, to: '122', direction: 'inbound', sessionId: `s-${from}` },
    contact: null,
    otherContacts: [],
    links: {},
  },
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
    await endpoints.create({
      id: 'ep_1',
      url: 'https://crm.example/hook',
      events: null,
      description: null,
      secret: 'whsec_x',
      status: 'active',
      disabledReason: null,
      disabledAt: null,
      createdAt: new Date().toISOString(),
    });
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
      const appended = await eventLog.append(ringing('5550001'), null);
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
