/**
 * Memory mode's ringing path in process, for the in-process benchmarks (bench/ringing-path.ts,
 * bench/heap-per-call.ts): the call tracker with the memory call store and the memory event log (one
 * subscriber standing in for the hub), no HTTP, no phonebook (each lookup answers a fresh contact, as an
 * uncached lookup does). Every callback opens a call that stays open, as in the benchmark.
 */
import { pino } from 'pino';
import { CallTracker } from '../../src/calls/tracker.js';
import { MemoryCallStateStore } from '../../src/calls/store.js';
import type { CallerDirectory } from '../../src/core/call-events.js';
import type { Contact } from '../../src/core/event.js';
import { MemoryEventLog } from '../../src/events/memory-event-log.js';
import type { LeaderLease } from '../../src/lease/leader-lease.js';

const contact: Omit<Contact, 'match'> = {
  phonebookId: '12345',
  displayName: 'Aarav Sharma',
  firstName: 'Aarav',
  lastName: 'Sharma',
  email: 'aarav.sharma@example.com',
  extension: '',
  phoneNumber: '+919812345678',
  cellNumber: '+919876543210',
  phoneGroup: 'Customers',
  customFields: { company: 'Acme Pvt Ltd', account: 'AC-10293' },
};

export interface RingingPath {
  /** `n` more ringing callbacks, one after another, each a new call. */
  callbacks(n: number): Promise<void>;
  /** Bytes of the events appended so far. */
  eventBytes(): number;
}

export function createRingingPath(): RingingPath {
  const directory: CallerDirectory = {
    lookup: (raw) => ({ from: `+91${raw.slice(1)}`, contact: { ...contact, customFields: { ...contact.customFields }, match: 'exact' }, otherContacts: [] }),
    isExtension: () => false,
  };
  const never = (): Promise<never> => new Promise<never>(() => undefined);
  const quiet = pino({ enabled: false });
  const eventLog = new MemoryEventLog({ epoch: Date.now(), logger: quiet });
  let bytes = 0;
  eventLog.subscribe((e) => {
    bytes += Buffer.byteLength(e.json);
  });
  const lease = { hold: async () => true, release: async () => undefined } as unknown as LeaderLease;
  const tracker = new CallTracker({
    store: new MemoryCallStateStore({ maxSessions: 10_000_000 }),
    journal: { put: async () => undefined, get: async () => null, list: never, close: async () => undefined },
    eventLog,
    pbx: { activeCalls: never, callLog: never, recordingPath: never, getRingGroups: async () => [], getQueues: async () => [] },
    lease,
    directory,
    eventOptions: { crmLinkTemplate: 'https://crm.example.com/c/{phonebookId}?ext={extension}' },
    country: 'IN',
    config: { activeCallsPollMs: 60_000, groupWindowS: 10, callLogWaitS: 60, recordingWaitS: 60, journalDays: 1, pbxTimezone: 'UTC' },
    logger: quiet,
  });
  let seq = 0;
  return {
    async callbacks(n: number): Promise<void> {
      for (let i = 0; i < n; i++) {
        const k = seq++;
        await tracker.accept({ extension: String(1000 + (k % 1000)), from: `09${String(800_000_000 + k).slice(-9)}`, fromName: 'BENCH', callId: `bcid-${k}`, state: 'ringing' });
      }
    },
    eventBytes: () => bytes,
  };
}
