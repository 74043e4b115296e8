/** A call tracker on memory stores with a PBX that shows nothing, for tests that drive it directly. */
import { pino } from 'pino';
import { MemoryCallJournal } from '../../src/calls/journal.js';
import { MemoryCallStateStore } from '../../src/calls/store.js';
import { CallTracker } from '../../src/calls/tracker.js';
import type { PbxCallApi } from '../../src/core/ports.js';
import { MemoryEventLog } from '../../src/events/memory-event-log.js';
import { LeaderLease } from '../../src/lease/leader-lease.js';
import { MemoryLock } from '../../src/store/memory.js';

/** A PBX that lists nothing and logs nothing: the tracker concludes nothing from it, and nothing waits for I/O. */
export const quietPbx: PbxCallApi = {
  activeCalls: async () => [],
  callLog: async () => [],
  recordingPath: async () => null,
  getRingGroups: async () => [],
  getQueues: async () => [],
};

export function inProcessTracker(opts: { now: () => number; roundSliceMs?: number }): { tracker: CallTracker; store: MemoryCallStateStore; eventLog: MemoryEventLog } {
  const store = new MemoryCallStateStore({ now: opts.now });
  const eventLog = new MemoryEventLog();
  const tracker = new CallTracker({
    store,
    journal: new MemoryCallJournal('US'),
    eventLog,
    pbx: quietPbx,
    lease: new LeaderLease({ lock: new MemoryLock(), name: 'calls-poller', ttlMs: 3000 }),
    directory: { lookup: (raw) => ({ from: raw, contact: null, otherContacts: [] }), isExtension: () => false },
    eventOptions: { crmLinkTemplate: null },
    country: 'US',
    config: { activeCallsPollMs: 1000, groupWindowS: 10, callLogWaitS: 300, recordingWaitS: 3600, journalDays: 90, pbxTimezone: 'UTC' },
    logger: pino({ enabled: false }),
    now: opts.now,
    ...(opts.roundSliceMs !== undefined ? { roundSliceMs: opts.roundSliceMs } : {}),
  });
  return { tracker, store, eventLog };
}
