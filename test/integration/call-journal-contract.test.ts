/** One contract suite for the call journal over memory and real Redis: order, filters, number forms, cursors. */
import { describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../src/calls/journal.js';
import { journalEntry, journalImplementations } from '../helpers/journals.js';

const implementations = journalImplementations('journal');

const base = Date.now() - 3600_000;

function entry(n: number, fromRaw: string, extensions: string[], answeredBy: string | null): JournalEntry {
  return journalEntry(base, n, { fromRaw, extensions, answeredBy });
}

describe.each(implementations)('%s call journal', (_name, make) => {
  it('when calls are put, then they list newest first, and a cursor pages through them without repeats', async () => {
    const j = make();
    for (let n = 0; n < 12; n++) await j.put(entry(n, '+919824740472', ['101'], null));
    const first = await j.list({ limit: 5 });
    expect(first.calls.map((c) => c.sessionId)).toEqual(['s-011', 's-010', 's-009', 's-008', 's-007']);
    expect(first.nextCursor).not.toBeNull();
    const second = await j.list({ limit: 5, cursor: first.nextCursor ?? '' });
    expect(second.calls.map((c) => c.sessionId)).toEqual(['s-006', 's-005', 's-004', 's-003', 's-002']);
    const third = await j.list({ limit: 5, cursor: second.nextCursor ?? '' });
    expect(third.calls.map((c) => c.sessionId)).toEqual(['s-001', 's-000']);
    expect(third.nextCursor).toBeNull();
  });

  it('when asked by number, then every written form of it finds the call, and other numbers do not', async () => {
    const j = make();
    await j.put(entry(1, '09824740472', ['101'], '101'));
    await j.put(entry(2, '+14155550132', ['102'], null));
    for (const form of ['+91 98247 40472', '9824740472', '0091 9824740472', '09824740472']) {
      expect((await j.list({ number: form, limit: 5 })).calls.map((c) => c.sessionId)).toEqual(['s-001']);
    }
    expect((await j.list({ number: '+14155550133', limit: 5 })).calls).toEqual([]);
  });

  it('when asked by extension and time, then only those calls are listed', async () => {
    const j = make();
    await j.put(entry(1, '+919824740472', ['101', '102'], '102'));
    await j.put(entry(2, '+919824740473', ['103'], null));
    await j.put(entry(3, '+919824740474', ['102'], null));
    expect((await j.list({ extension: '102', limit: 10 })).calls.map((c) => c.sessionId)).toEqual(['s-003', 's-001']);
    expect((await j.list({ since: base + 2000, limit: 10 })).calls.map((c) => c.sessionId)).toEqual(['s-003', 's-002']);
    expect((await j.list({ until: base + 1000, limit: 10 })).calls.map((c) => c.sessionId)).toEqual(['s-001']);
  });

  it('when an entry is put again (the recording came), then it is replaced, not doubled', async () => {
    const j = make();
    const e = entry(1, '+919824740472', ['101'], '101');
    await j.put(e);
    await j.put({ ...e, cdr: { ...e.cdr, recordingUrl: 'https://pbx.example/rec.wav' } });
    const all = await j.list({ limit: 10 });
    expect(all.calls).toHaveLength(1);
    expect((await j.get('s-001'))?.cdr.recordingUrl).toBe('https://pbx.example/rec.wav');
    expect(await j.get('s-999')).toBeNull();
  });
});
