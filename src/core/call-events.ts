/** Turns a normalized callback into the event envelope and appends it to the log, enriched from the phonebook. */
import { randomUUID } from 'node:crypto';
import type { NormalizedCallback } from './callback.js';
import { dedupeRule } from './callback.js';
import { eventTypeForState, type Contact, type ContactSummary, type NewCallEvent } from './event.js';
import type { AppendResult, EventLog } from './ports.js';

export interface CallerMatch {
  /** E.164 when readable with the default country, else the digits as received. */
  from: string;
  contact: Contact | null;
  otherContacts: ContactSummary[];
}

/** What the pipeline needs from the phonebook: an in-memory lookup, no network on the hot path. */
export interface CallerDirectory {
  lookup(rawNumber: string): CallerMatch;
  isExtension(number: string): boolean;
}

export interface CallEventOptions {
  crmLinkTemplate: string | null;
  now?: () => number;
}

/** Fills `{number}`, `{extension}` and `{phonebookId}`, each URL-encoded. */
export function crmLink(template: string, values: { number: string; extension: string; phonebookId: string }): string {
  return template.replace(/\{(number|extension|phonebookId)\}/g, (_m, name: keyof typeof values) => encodeURIComponent(values[name]));
}

/** `sessionId` is the call tracker's when it runs; without one every callback is a call of its own. */
export function buildCallEvent(
  cb: NormalizedCallback,
  directory: CallerDirectory,
  opts: CallEventOptions,
  sessionId: string = randomUUID(),
): NewCallEvent {
  const match = directory.lookup(cb.from);
  const links: { crm?: string } = {};
  if (opts.crmLinkTemplate) {
    links.crm = crmLink(opts.crmLinkTemplate, {
      number: match.from,
      extension: cb.extension,
      phonebookId: match.contact?.phonebookId ?? '',
    });
  }
  return {
    type: eventTypeForState(cb.state),
    timestamp: new Date((opts.now ?? Date.now)()).toISOString(),
    data: {
      extension: cb.extension,
      call: {
        id: cb.callId,
        from: match.from,
        fromRaw: cb.from,
        fromName: cb.fromName,
        to: cb.extension,
        direction: directory.isExtension(cb.from) ? 'internal' : 'inbound',
        sessionId,
      },
      contact: match.contact,
      otherContacts: match.otherContacts,
      links,
    },
  };
}

/** The callback route's `accept`: enrich, then append with the duplicate rule in one atomic step. */
export function createCallAcceptor(
  eventLog: EventLog,
  directory: CallerDirectory,
  opts: CallEventOptions,
): (cb: NormalizedCallback) => Promise<AppendResult> {
  return (cb) => eventLog.append(buildCallEvent(cb, directory, opts), dedupeRule(cb));
}
