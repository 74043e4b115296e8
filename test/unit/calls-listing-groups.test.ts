/**
 * The polling side's helpers (docs/calls.md, "Cost" and "Through which group"): the activeCalls index finds
 * exactly the rows sameNumber() matches, in listing order; the ring group / queue directory answers from its
 * cache, refreshes on a miss at most every 30 s, and keeps what it knew when the PBX fails.
 */
import { describe, expect, it } from 'vitest';
import { CallGroupDirectory } from '../../src/calls/groups.js';
import { ActiveCallIndex, CallerCache } from '../../src/calls/listing.js';
import { sameNumber } from '../../src/calls/numbers.js';
import type { CountryCode } from '../../src/core/phone-number.js';
import type { PbxActiveCall, PbxCallGroup } from '../../src/core/ports.js';
import { createLogger } from '../../src/logger.js';

const IN = 'IN' as CountryCode;
const row = (callerNumber: string, calleeNumber: string): PbxActiveCall => ({ callerNumber, calleeNumber, startTime: null, raw: {} });

describe('ActiveCallIndex', () => {
  const rows = [
    row('+91 98247 40472', '101'),
    row('09824740472', '102'),
    row('anonymous', '103'),
    row('0091 9824740472', '5000'),
    row('+1 415 555 0100', '104'),
    row('40472', '105'),
    row('', '106'),
  ];
  const callers = ['+919824740472', '9824740472', 'anonymous', '+14155550100', '40472', 'Restricted', '4155550100', ''];

  it.each(callers)('finds for %j exactly the rows sameNumber() matches, in listing order', (caller) => {
    const cache = new CallerCache(IN);
    const index = new ActiveCallIndex(rows, cache);
    expect(index.rowsOf(cache.read(caller))).toEqual(rows.filter((r) => sameNumber(r.callerNumber, caller, IN)));
  });
});

class FakeGroups {
  calls = 0;
  failing = false;
  groups: PbxCallGroup[] = [{ kind: 'ring_group', id: '1', name: 'Sales', number: '5000' }];
  queues: PbxCallGroup[] = [{ kind: 'queue', id: '1', name: 'Support', number: '2000' }];
  async getRingGroups(): Promise<PbxCallGroup[]> {
    this.calls += 1;
    if (this.failing) throw new Error('PBX unreachable');
    return this.groups;
  }
  async getQueues(): Promise<PbxCallGroup[]> {
    if (this.failing) throw new Error('PBX unreachable');
    return this.queues;
  }
}

describe('CallGroupDirectory', () => {
  const logger = createLogger('silent');

  it('answers by number or name from its cache, null for anything else', async () => {
    const pbx = new FakeGroups();
    const dir = new CallGroupDirectory(pbx, logger, () => 0);
    await dir.refresh();
    expect(dir.resolve(['101', '5000'])).toEqual({ kind: 'ring_group', name: 'Sales', number: '5000' });
    expect(dir.resolve(['support'])).toEqual({ kind: 'queue', name: 'Support', number: '2000' });
    expect(dir.resolve([null, '', '+912212345678'])).toBeNull();
    expect(dir.size).toBe(2);
  });

  it('refreshes on a miss at most every 30 s, and every 10 minutes regardless', async () => {
    const pbx = new FakeGroups();
    let now = 0;
    const dir = new CallGroupDirectory(pbx, logger, () => now);
    await dir.refresh();
    pbx.groups = [...pbx.groups, { kind: 'ring_group', id: '2', name: 'Billing', number: '5001' }];
    expect(dir.resolve(['5001'])).toBeNull();
    await dir.refresh(); // the miss's refresh, already under way
    expect(dir.resolve(['5001'])).toEqual({ kind: 'ring_group', name: 'Billing', number: '5001' });
    const after = pbx.calls;
    now = 10_000;
    expect(dir.resolve(['7777'])).toBeNull();
    expect(pbx.calls).toBe(after);
    now = 10 * 60_000;
    dir.resolve(['5000']);
    await dir.refresh();
    expect(pbx.calls).toBeGreaterThan(after);
  });

  it('keeps the groups it knew when the PBX fails, and a failure never throws', async () => {
    const pbx = new FakeGroups();
    let now = 0;
    const dir = new CallGroupDirectory(pbx, logger, () => now);
    await dir.refresh();
    pbx.failing = true;
    now = 11 * 60_000;
    await expect(dir.refresh()).resolves.toBeUndefined();
    expect(dir.resolve(['5000'])).toEqual({ kind: 'ring_group', name: 'Sales', number: '5000' });
    expect(dir.resolve(['2000'])).toEqual({ kind: 'queue', name: 'Support', number: '2000' });
  });
});
