/** The one place an event is turned into text: at append, once; every reader reuses that string. */
import { envelopeJson, type EventType, type NewCallEvent, type StoredEvent } from '../core/event.js';

/** The envelope without its id. Picks the fields explicitly so key order is fixed and no stray `id` slips in. */
export function serializeEventBody(event: NewCallEvent): string {
  const { type, timestamp, data } = event;
  return JSON.stringify({ type, timestamp, data });
}

export function storedEvent(id: string, extension: string, type: EventType, bodyWithoutId: string): StoredEvent {
  return { id, extension, type, json: envelopeJson(id, bodyWithoutId) };
}
