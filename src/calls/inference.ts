/**
 * What one activeCalls listing says about one open call (docs/calls.md, "Inference rules"). The manual
 * lists caller_number, callee_number and start_time, no call id, and does not say whether ringing calls are
 * listed; PBXs list them in one of three ways:
 *   (a) every ringing leg with the extension as callee, then only the answered leg;
 *   (b) only connected calls;
 *   (c) the group's number as callee while ringing, the answering extension once answered.
 * The bridge is not told which; it concludes only what the listing shows beyond doubt for this call:
 *   - a callee that was a group number and is now one leg's extension: that extension answered (c);
 *   - two or more legs listed at once, then exactly one: that one answered (a);
 *   - no row after the ringing callback, then one leg's row: the call was connected there (b);
 *   - rows seen, then none: the call is over (who answered, if nobody was seen to, comes from the call log).
 * A single extension listed from the start may be ringing or talking: nothing is concluded from it.
 */
import type { PbxActiveCall } from '../core/ports.js';
import type { CallSession, Observed } from './model.js';

export type Inference = { kind: 'none' } | { kind: 'answered'; by: string } | { kind: 'gone' };

/** Updates what was observed (in place) and answers what it proves. `rows` are this caller's rows only. */
export function observe(s: CallSession, rows: readonly PbxActiveCall[], now: number, opts: { listingShowsRinging: boolean }): Inference {
  const before: Observed = { ...s.observed };
  const o = s.observed;
  if (rows.length === 0) {
    if (before.seen) {
      if (o.goneAt === null) o.goneAt = now;
      return { kind: 'gone' };
    }
    o.absentBeforeSeen = true;
    return { kind: 'none' };
  }
  const legExtensions = new Set(s.legs.map((l) => l.extension));
  const listedLegs = new Set(rows.filter((r) => legExtensions.has(r.calleeNumber)).map((r) => r.calleeNumber));
  const others = rows.filter((r) => !legExtensions.has(r.calleeNumber));
  o.seen = true;
  o.goneAt = null;
  o.maxLegsListed = Math.max(o.maxLegsListed, listedLegs.size);
  if (others[0]) o.groupCallee = others[0].calleeNumber;
  if (s.answeredBy !== null || listedLegs.size !== 1 || others.length > 0) return { kind: 'none' };
  const [only] = [...listedLegs];
  if (only === undefined) return { kind: 'none' };
  if (before.groupCallee !== null) return { kind: 'answered', by: only };
  if (before.maxLegsListed >= 2) return { kind: 'answered', by: only };
  // (b): only trusted while no call has shown that this PBX lists ringing calls.
  if (!before.seen && before.absentBeforeSeen && !opts.listingShowsRinging) return { kind: 'answered', by: only };
  return { kind: 'none' };
}

/** Whether this listing proves the PBX lists ringing calls (two legs at once, or a group number as callee). */
export function showsRinging(s: CallSession): boolean {
  return s.observed.maxLegsListed >= 2 || s.observed.groupCallee !== null;
}
