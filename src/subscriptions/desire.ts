/**
 * The desire rules, pure: whether an extension is wanted subscribed, and how long its password is kept, from
 * its record and whether any instance has one of its agent sockets open (docs/operations.md).
 */
import type { ExtensionRecord } from './store.js';

/** An agent sign-in keeps the extension desired while its token is valid and a socket is open or the grace runs. */
export function agentActive(rec: ExtensionRecord, present: boolean, now: number): boolean {
  return now < rec.agentTokenExp && (present || now < rec.agentUntil);
}

export function isDesired(rec: ExtensionRecord, present: boolean, now: number): boolean {
  return rec.admin || agentActive(rec, present, now);
}

/** The password is kept while it may still be needed: registered, or an agent token that may still connect. */
export function keepsPassword(rec: ExtensionRecord, now: number): boolean {
  return rec.admin || now < rec.agentTokenExp;
}
