/**
 * Paging the call journal when the index it reads holds many calls that the other filters reject: a page may
 * come back short, but `nextCursor: null` must mean "nothing more", never "stopped looking".
 */
import { describe, expect, it } from 'vitest';
import type { CallJournal, JournalEntry, JournalQuery } from '../../src/calls/journal.js';
import { journalEntry, journalImplementations } from '../helpers/journals.js';

const implementations = journalImplementations('journal-pages');

const base = Date.now() - 3600_000;

function entry(n: number, fromRaw: string, extension: string): JournalEntry {
  return journalEntry(base, n, { fromRaw, extensions: [extension], answeredBy: null, idDigits: 5 });
}

/** Every call the query finds, following nextCursor to the end (bounded, so a cursor loop fails the test). */
async function everything(j: CallJournal, q: Omit<JournalQuery, 'cursor'>): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 200; page++) {
    const r = await j.list({ ...q, ...(cursor ? { cursor } : {}) });
    ids.push(...r.calls.map((c) => c.sessionId));
    if (!r.nextCursor) return ids;
    cursor = r.nextCursor;
  }
  throw new Error('nextCursor never ended');
}

describe.each(implementations)('%s call journal, a narrow filter over a busy index', (_name, make) => {
  it('when one number called extension 102 once and extension 101 1,200 times since, then asking for that number on 102 finds the call', async () => {
    const j = make();
    const number = '+919824740472';
    await j.put(entry(0, number, '102'));
    for (let n = 1; n <= 1200; n++) await j.put(entry(n, number, '101'));
    expect(await everything(j, { number, extension: '102', limit: 1 })).toEqual(['s-00000']);
    expect(await everything(j, { number, extension: '102', limit: 5 })).toEqual(['s-00000']);
  });
});
