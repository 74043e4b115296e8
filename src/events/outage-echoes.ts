/**
 * The resilient event log's own outage events coming back: each event accepted locally during an outage is
 * expected back from the shared stream under its origin tag. When it comes, its listeners had it already, so
 * it is not published again; `onSharedLater` listeners (a reader of the shared log, the webhook dispatcher)
 * are told it is there instead.
 */
import { ExpiringMap } from '../store/expiring-map.js';
import type { Logger } from '../logger.js';

export class OutageEchoes {
  /** Origin tag -> provisional id, of events handed to listeners locally whose shared copy has not been read back yet. */
  private readonly pending: ExpiringMap<string>;
  private readonly listeners = new Set<() => void>();

  constructor(
    maxPending: number,
    now: () => number,
    private readonly logger: Logger,
  ) {
    this.pending = new ExpiringMap<string>({ maxKeys: maxPending, now });
  }

  expect(origin: string, provisionalId: string): void {
    // Tags whose echo never comes (a twin accepted elsewhere) age out past the map's cap.
    this.pending.set(origin, provisionalId, null);
  }

  /** Its shared copy will not be read back (Redis found it a duplicate). */
  forget(origin: string): void {
    this.pending.delete(origin);
  }

  /** The provisional id when the event under `origin` is one of ours coming back, else undefined. */
  take(origin: string | undefined): string | undefined {
    const provisionalId = origin === undefined ? undefined : this.pending.get(origin);
    if (origin === undefined || provisionalId === undefined) return undefined;
    this.pending.delete(origin);
    return provisionalId;
  }

  /** Tells the `onSharedLater` listeners that an event taken back is in the shared log (as `eventId`). */
  announce(eventId: string): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        this.logger.error({ err, eventId }, 'shared-later listener threw');
      }
    }
  }

  onSharedLater(listener: () => void): () => void {
    const entry = (): void => listener();
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  clear(): void {
    this.listeners.clear();
  }
}
