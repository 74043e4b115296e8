/**
 * An event as the Redis log reads it from the stream: with the origin tag (`<instanceId>/<n>`, field `o`) the
 * appending instance stored with it, so that instance recognises its own events when its tail reads them
 * back (src/events/resilient-event-log.ts). Internal to the event logs: the core's StoredEvent has no tag.
 */
import type { StoredEvent } from '../core/event.js';

export interface TaggedEvent extends StoredEvent {
  origin?: string;
}
