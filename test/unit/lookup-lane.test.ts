/**
 * The lookup lane (src/calls/lookup-lane.ts): one batch at a time, run beside its caller, stopped between
 * lookups, and a failing batch logged once per streak.
 */
import { describe, expect, it } from 'vitest';
import { LookupLane } from '../../src/calls/lookup-lane.js';
import { createLogger } from '../../src/logger.js';
import { LogCapture } from '../helpers/log-capture.js';
import { eventually } from '../helpers/wait.js';

/** A lookup that ends only when the test lets it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

describe('LookupLane', () => {
  it('when a batch is offered, then it runs in the background one lookup after another, and offers meanwhile are ignored', async () => {
    const lane = new LookupLane('test', createLogger('silent'));
    const started: string[] = [];
    const gates = new Map([['a', gate()], ['b', gate()]]);
    lane.offer(['a', 'b'], async (item) => {
      started.push(item);
      await gates.get(item)?.wait;
    });
    expect(lane.busy).toBe(true);
    await eventually(() => started.length === 1);
    expect(started).toEqual(['a']);
    lane.offer(['c'], async (item) => {
      started.push(item);
    });
    gates.get('a')?.open();
    await eventually(() => started.length === 2);
    expect(started).toEqual(['a', 'b']);
    gates.get('b')?.open();
    await eventually(() => !lane.busy);
    expect(started).toEqual(['a', 'b']);
    // Idle again: the next offer runs.
    lane.offer(['c'], async (item) => {
      started.push(item);
    });
    await eventually(() => !lane.busy);
    expect(started).toEqual(['a', 'b', 'c']);
  });

  it('when stopped mid-batch, then the lookup in flight ends, no further one starts, and later offers are ignored', async () => {
    const lane = new LookupLane('test', createLogger('silent'));
    const started: string[] = [];
    const first = gate();
    lane.offer(['a', 'b'], async (item) => {
      started.push(item);
      if (item === 'a') await first.wait;
    });
    await eventually(() => started.length === 1);
    const stopped = lane.stop();
    first.open();
    await stopped;
    expect(lane.busy).toBe(false);
    lane.offer(['c'], async (item) => {
      started.push(item);
    });
    expect(lane.busy).toBe(false);
    expect(started).toEqual(['a']);
  });

  it('when the lane is no longer allowed to work (the lease is gone), then the batch stops before its next lookup', async () => {
    let allowed = true;
    const lane = new LookupLane('test', createLogger('silent'), () => allowed);
    const started: string[] = [];
    const first = gate();
    lane.offer(['a', 'b'], async (item) => {
      started.push(item);
      if (item === 'a') await first.wait;
    });
    await eventually(() => started.length === 1);
    allowed = false;
    first.open();
    await eventually(() => !lane.busy);
    expect(started).toEqual(['a']);
  });

  it('when lookups fail, then the batch ends at the failure, and it is logged once until a lookup works again', async () => {
    const logs = new LogCapture();
    const lane = new LookupLane('callLog', createLogger('info', logs.stream));
    const started: string[] = [];
    const failing = async (item: string) => {
      started.push(item);
      throw new Error('store down');
    };
    for (const batch of [['a', 'b'], ['c']]) {
      lane.offer(batch, failing);
      await eventually(() => !lane.busy);
    }
    expect(started).toEqual(['a', 'c']);
    lane.offer(['d'], async (item) => {
      started.push(item);
    });
    await eventually(() => !lane.busy);
    const msgs = logs.parsed().map((r) => `${String(r.msg)}:${String(r.lane)}`);
    expect(msgs).toEqual(['call tracker lookups failed:callLog', 'call tracker lookups work again:callLog']);
  });
});
