/**
 * Contacts created from the pop (POST /api/contacts), kept until an index built from the PBX holds them:
 * every newly built index (a refresh, or a reload of the shared snapshot) gets the ones it lacks, so a
 * refresh that has not seen a new contact yet (and the snapshot it writes) keeps it. One is forgotten once
 * an index holds it, or after a day (one deleted at the PBX meanwhile does not come back for long).
 *
 * The shared form is the message `{"entry": <compact contact>, "atMs": …}`, kept in the store's list
 * `phonebook:added` (the last 500) and published on the bus.
 */
import type { PhonebookContact } from '../core/event.js';
import { decodeContact, encodeContact } from './compact-contact.js';
import type { PhonebookIndex } from './index.js';

/** The shared list of contacts created from the pop, newest first. */
export const ADDED_KEY = 'phonebook:added';
export const ADDED_MAX = 500;
/** Far beyond any PBX's lag: an addition no refresh has shown by then was deleted at the PBX. */
const ADDED_MAX_AGE_MS = 24 * 3600_000;

/** A contact created from the pop, until a refresh holds it. */
export interface Addition {
  entry: string;
  contact: PhonebookContact;
  atMs: number;
}

export class CreatedContacts {
  /** By entry string: one contact created twice the same way is one addition. */
  private readonly byEntry = new Map<string, Addition>();

  constructor(private readonly now: () => number) {}

  of(contact: PhonebookContact): Addition {
    return { entry: encodeContact(contact), contact, atMs: this.now() };
  }

  /** The shared form of an addition. */
  static message(a: Addition): string {
    return JSON.stringify({ entry: a.entry, atMs: a.atMs });
  }

  /** An addition from its shared form; null when unreadable. */
  static parse(raw: string): Addition | null {
    try {
      const v = JSON.parse(raw) as { entry?: unknown; atMs?: unknown };
      if (typeof v.entry !== 'string' || typeof v.atMs !== 'number') return null;
      const contact = decodeContact(v.entry);
      return contact ? { entry: v.entry, contact, atMs: v.atMs } : null;
    } catch {
      return null;
    }
  }

  /** False when there is nothing new: unreadable, too old, or known already (our own message coming back). */
  remember(a: Addition | null): a is Addition {
    if (a === null || this.byEntry.has(a.entry) || this.now() - a.atMs > ADDED_MAX_AGE_MS) return false;
    this.byEntry.set(a.entry, a);
    return true;
  }

  /** Adds to a newly built index the additions it lacks, and forgets those it holds or that are too old. */
  applyTo(index: PhonebookIndex): void {
    for (const [key, a] of this.byEntry) {
      if (this.now() - a.atMs > ADDED_MAX_AGE_MS || index.holds(a.contact)) this.byEntry.delete(key);
      else index.add(a.contact);
    }
  }
}
