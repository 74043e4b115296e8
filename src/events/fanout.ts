/** Delivers stored events to a log's listeners: in order, one event at a time, each listener isolated. */
import type { StoredEvent } from '../core/event.js';
import type { Logger } from '../logger.js';

export type EventListener<E extends StoredEvent = StoredEvent> = (event: E) => void;

export class Fanout<E extends StoredEvent = StoredEvent> {
  private readonly listeners = new Set<EventListener<E>>();
  private readonly queue: E[] = [];
  private delivering = false;

  constructor(private readonly logger: Logger) {}

  add(listener: EventListener<E>): () => void {
    // Wrapped so the same function subscribed twice gets two independent subscriptions.
    const entry: EventListener<E> = (event) => listener(event);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  clear(): void {
    this.listeners.clear();
  }

  /**
   * Hands the event to every listener. A listener that appends (re-enters) only queues its event, so every
   * listener still sees events in id order; a listener that throws is logged and the others carry on.
   */
  publish(event: E): void {
    this.queue.push(event);
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let i = 0; i < this.queue.length; i++) {
        const next = this.queue[i] as E;
        for (const listener of this.listeners) {
          try {
            listener(next);
          } catch (err) {
            this.logger.error({ err, eventId: next.id }, 'event listener threw');
          }
        }
      }
    } finally {
      this.queue.length = 0;
      this.delivering = false;
    }
  }
}
