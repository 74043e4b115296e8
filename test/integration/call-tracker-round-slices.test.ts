/**
 * A round over many open calls gives way to the event loop (docs/performance.md, "Work beside the
 * callbacks"): with the in-process store nothing in a round waits for I/O, and a round over 1,000 calls used
 * to hold every callback back for ~110 ms. The slice is set to 0 here, so the round must yield before each
 * call it judges: counted as turns of the event loop, not as time.
 */
import { describe, expect, it } from 'vitest';
import type { NormalizedCallback } from '../../src/core/callback.js';
import { inProcessTracker } from '../helpers/in-process-tracker.js';

const CALLS = 300;

function setup() {
  const { tracker, store, eventLog } = inProcessTracker({ now: () => Date.parse('2026-11-27T10:00:00Z'), roundSliceMs: 0 });
  const ring = (i: number): NormalizedCallback => ({ extension: String(100 + (i % 50)), from: `+1415555${String(i).padStart(4, '0')}`, fromName: null, callId: `pbx-${i}`, state: 'ringing' });
  return { tracker, store, eventLog, ring };
}

/** Turns of the event loop (setImmediate callbacks) while `work` runs. */
async function loopTurnsDuring(work: () => Promise<void>): Promise<number> {
  let turns = 0;
  let done = false;
  const spin = () => {
    if (done) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  await work();
  done = true;
  return turns;
}

describe('call tracker round in slices', () => {
  it('when a round judges many open calls in process, then the event loop runs between them, and a callback taken meanwhile opens its call', async () => {
    const { tracker, store, eventLog, ring } = setup();
    for (let i = 0; i < CALLS; i++) await tracker.accept(ring(i));
    expect((await store.due(Date.now() + 3_600_000)).length).toBe(CALLS);

    let during: Promise<unknown> | null = null;
    const turns = await loopTurnsDuring(async () => {
      const round = tracker.tick();
      // A ringing callback arriving while the round works: taken at once, not after the round.
      setImmediate(() => {
        during = tracker.accept(ring(CALLS));
      });
      await round;
    });
    await during;

    // A yield before each call judged (slice 0), so at least one turn of the loop per call.
    expect(turns).toBeGreaterThanOrEqual(CALLS);
    const { events } = await eventLog.readAfter('0000000000000-0', 10_000);
    expect(events.filter((e) => e.type === 'call.ringing')).toHaveLength(CALLS + 1);
    // The round still noted every call it judged as not listed, and ended none.
    const sessionIds = [...new Set(events.map((e) => (JSON.parse(e.json) as { data: { call: { sessionId: string } } }).data.call.sessionId))];
    const read = (await store.readMany(sessionIds)).flatMap((v) => (v ? [v] : []));
    const sessions = read.map((v) => v.session);
    expect(sessions).toHaveLength(CALLS + 1);
    expect(sessions.every((s) => s.phase === 'open')).toBe(true);
    expect(sessions.filter((s) => s.observed.absentBeforeSeen)).toHaveLength(CALLS);
    // Noted beside each session, not by rewriting it (docs/performance.md, "Work beside the callbacks").
    expect(read.every((v) => v.version === 1)).toBe(true);
  });
});
