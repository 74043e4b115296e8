/**
 * Section 8's grouping rule on the tracker itself (memory stores, a clock the test moves): legs of one PBX
 * call id are one session; without an id, the same caller ringing another extension joins while an earlier
 * leg is open and within CALL_GROUP_WINDOW_S, and starts a new call otherwise.
 */
import { describe, expect, it } from 'vitest';
import type { NormalizedCallback } from '../../src/core/callback.js';
import { inProcessTracker } from '../helpers/in-process-tracker.js';

function setup() {
  let clock = Date.parse('2026-11-27T10:00:00Z');
  const now = () => clock;
  const { tracker, eventLog } = inProcessTracker({ now });
  const ring = (extension: string, from: string, callId: string | null = null): NormalizedCallback => ({ extension, from, fromName: null, callId, state: 'ringing' });
  const sessionOf = async (cb: NormalizedCallback): Promise<string> => {
    const r = await tracker.accept(cb);
    const { events } = await eventLog.readAfter('0000000000000-0', 1000);
    const e = events.find((x) => x.id === r.id);
    return (JSON.parse(e?.json ?? '{}') as { data: { call: { sessionId: string } } }).data.call.sessionId;
  };
  return { tracker, ring, sessionOf, advance: (ms: number) => (clock += ms) };
}

describe('call tracker grouping', () => {
  it('when legs carry one PBX call id, then they are one session, and another id is another call', async () => {
    const { ring, sessionOf } = setup();
    const a = await sessionOf(ring('101', '+14155550132', 'pbx-1'));
    expect(await sessionOf(ring('102', '+14155550132', 'pbx-1'))).toBe(a);
    expect(await sessionOf(ring('103', '+14155550132', 'pbx-2'))).not.toBe(a);
  });

  it('when the same caller rings another extension within the window, then it joins; after the window, it is a new call', async () => {
    const { ring, sessionOf, advance } = setup();
    const a = await sessionOf(ring('101', '+14155550132'));
    advance(3000);
    // Written another way, the same number still joins.
    expect(await sessionOf(ring('102', '(415) 555-0132'))).toBe(a);
    advance(11_000);
    expect(await sessionOf(ring('103', '+14155550132'))).not.toBe(a);
  });

  it('when another caller rings at the same time, then it is a call of its own', async () => {
    const { ring, sessionOf } = setup();
    const a = await sessionOf(ring('101', '+14155550132'));
    expect(await sessionOf(ring('102', '+14155550199'))).not.toBe(a);
  });

  it('when the earlier leg is over, then the same caller ringing again is a new call', async () => {
    const { tracker, ring, sessionOf } = setup();
    const a = await sessionOf(ring('101', '+14155550132'));
    // The site's middleware says the call was answered and ended.
    await tracker.accept({ ...ring('101', '+14155550132'), state: 'answered' });
    await tracker.accept({ ...ring('101', '+14155550132'), state: 'ended' });
    expect(await sessionOf(ring('102', '+14155550132'))).not.toBe(a);
  });
});
