/**
 * The journal is written before the event that tells a client to read it (docs/calls.md): when
 * call.completed goes out the journal has the call, and when call.recording goes out the journal's entry
 * already carries the recording's URL, so a CRM that fetches GET /api/calls/:sessionId on either event
 * finds what the event announced.
 */
import { describe, expect, it } from 'vitest';
import type { AppendResult, DedupeRule, EventLog } from '../../src/core/ports.js';
import type { NewCallEvent } from '../../src/core/event.js';
import { MemoryCallJournal, type JournalEntry } from '../../src/calls/journal.js';
import { complete, recordingFound } from '../../src/calls/machine.js';
import type { CallSession } from '../../src/calls/model.js';
import { createFlush } from '../../src/calls/outbox.js';
import { MemoryCallStateStore } from '../../src/calls/store.js';
import { MemoryEventLog } from '../../src/events/memory-event-log.js';

function endedCall(id: string): CallSession {
  return {
    sessionId: id, callId: 'pbx-1', fromRaw: '5550100', from: '5550100', fromName: null, direction: 'inbound', contact: null,
    otherContacts: [], links: {}, startedAt: 1000, answeredAt: 2000, answeredBy: '101', endedAt: 9000, answerUnknown: false,
    legs: [{ extension: '101', state: 'answered', ringingAt: 1000 }], phase: 'over',
    observed: { seen: true, absentBeforeSeen: false, maxLegsListed: 1, groupCallee: null, goneAt: 9000 },
    callLog: { nextAt: 0, attempts: 0, deadline: null }, recording: null, cdr: null, outbox: [], events: [],
  };
}

/** The real memory log, noting what the journal held for the call at the moment each event was appended. */
class JournalWatchingLog extends MemoryEventLog {
  readonly seen: Array<{ type: string; entry: JournalEntry | null }> = [];
  constructor(private readonly journal: MemoryCallJournal) {
    super();
  }
  override async append(event: NewCallEvent, dedupe: DedupeRule | null): Promise<AppendResult> {
    this.seen.push({ type: event.type, entry: await this.journal.get(event.data.call.sessionId) });
    return super.append(event, dedupe);
  }
}

describe('call outbox and the journal', () => {
  it('when a completed call is sent and then its recording, then the journal shows each before its event goes out', async () => {
    const journal = new MemoryCallJournal('IN');
    const eventLog: EventLog = new JournalWatchingLog(journal);
    const store = new MemoryCallStateStore();
    const flush = createFlush({ eventLog, store, journal });
    const times = { callLogWaitMs: 30_000, recordingWaitMs: 60_000 };

    const s = endedCall('s-rec');
    expect(complete(s, { row: { startedAt: 1000, answeredAt: 2000, endedAt: 9000, callee: '101', recordingUrl: null, callId: 'pbx-1' } }, 10_000, times)).toBe(true);
    expect(await store.compareAndSet(s, 0)).toBe(true);
    await flush(s);

    // As the tracker does: the transition is stored (compare-and-set), then flushed.
    const read = await store.read('s-rec');
    if (!read) throw new Error('the session is gone');
    expect(recordingFound(read.session, 'https://pbx.example/rec/1.wav', 12_000)).toBe(true);
    expect(await store.compareAndSet(read.session, read.version)).toBe(true);
    await flush(read.session);

    const watched = (eventLog as JournalWatchingLog).seen;
    expect(watched.map((w) => w.type)).toEqual(['call.completed', 'call.recording']);
    expect(watched[0]?.entry?.sessionId).toBe('s-rec');
    expect(watched[1]?.entry?.cdr.recordingUrl).toBe('https://pbx.example/rec/1.wav');
    expect((await journal.get('s-rec'))?.cdr.recordingUrl).toBe('https://pbx.example/rec/1.wav');
  });
});
