/**
 * The memory store keeps a call opened by a ringing callback as that callback's event (src/calls/ringing-session.ts)
 * until the session is first rewritten. Whatever it is kept as, every read gives what the document kept
 * eagerly would have given, byte for byte, and every later write works as on a document.
 */
import { describe, expect, it } from 'vitest';
import { buildCallEvent, type CallerDirectory, type CallerMatch } from '../../src/core/call-events.js';
import type { NormalizedCallback } from '../../src/core/callback.js';
import type { Contact } from '../../src/core/event.js';
import { MemoryEventLog } from '../../src/events/memory-event-log.js';
import type { CallSession, SentEvent } from '../../src/calls/model.js';
import { openSession, sessionOfRingingEvent } from '../../src/calls/ringing-session.js';
import { MemoryCallStateStore, updateSession } from '../../src/calls/store.js';

const NOW = 1_796_148_375_656;

const contact: Contact = {
  phonebookId: '42',
  displayName: 'Zoë "Zo" Ångström 😀',
  firstName: 'Zoë',
  lastName: 'Ångström',
  email: 'zoe@example.com',
  extension: '',
  phoneNumber: '+14155550100',
  cellNumber: '',
  phoneGroup: 'Kunden',
  customFields: { Firma: 'Ünïcode & Co\n', 'line\u2028sep': '\\back' },
  match: 'exact',
};

function directory(match: CallerMatch): CallerDirectory {
  return { lookup: () => ({ ...match, otherContacts: match.otherContacts.slice() }), isExtension: (n) => n === '102' };
}

interface Case {
  name: string;
  cb: NormalizedCallback;
  match: CallerMatch;
  via?: { kind: 'ring_group'; name: string; number: string };
  crm?: string;
}

const cases: Case[] = [
  { name: 'no contact, no call id', cb: { extension: '101', from: '5550100', fromName: null, callId: null, state: 'ringing' }, match: { from: '5550100', contact: null, otherContacts: [] } },
  {
    name: 'a contact with other contacts, a CRM link and a group',
    cb: { extension: '101', from: '(415) 555-0100', fromName: 'Zoë "Z"', callId: 'abc-1', state: 'ringing' },
    match: { from: '+14155550100', contact, otherContacts: [{ phonebookId: '43', displayName: 'Other', match: 'suffix' }] },
    via: { kind: 'ring_group', name: 'Sales', number: '5000' },
    crm: 'https://crm.example/c/{phonebookId}?n={number}',
  },
  { name: 'an internal caller', cb: { extension: '101', from: '102', fromName: 'Desk', callId: '7', state: 'ringing' }, match: { from: '102', contact: null, otherContacts: [] } },
];

/** The ringing path's two halves as the tracker runs them: the session it opens, the event it appends. */
async function opened(c: Case, sessionId: string): Promise<{ session: CallSession; note: SentEvent; json: string }> {
  const event = buildCallEvent(c.cb, directory(c.match), { crmLinkTemplate: c.crm ?? null, now: () => NOW });
  if (c.via) event.data.via = c.via;
  const d = event.data;
  const session = openSession({
    sessionId,
    callId: c.cb.callId,
    fromRaw: c.cb.from,
    from: d.call.from,
    fromName: c.cb.fromName,
    direction: d.call.direction,
    contact: d.contact,
    otherContacts: d.otherContacts,
    links: d.links,
    via: d.via ?? null,
    extension: c.cb.extension,
    ringingAt: NOW + 1,
    ...(c.cb.viaHints ? { viaHints: c.cb.viaHints } : {}),
  });
  event.data.call.sessionId = sessionId;
  const result = await new MemoryEventLog({ epoch: NOW }).append(event, null);
  if (result.json === undefined) throw new Error('the memory log hands back the serialized event');
  return { session, note: { id: result.id, type: event.type, extension: c.cb.extension, timestamp: event.timestamp }, json: result.json };
}

/** What the store gave before it kept sessions as their ringing event: the document, then the note folded in. */
async function eagerly(c: Case, sessionId: string): Promise<MemoryCallStateStore> {
  const store = new MemoryCallStateStore();
  const { session, note } = await opened(c, sessionId);
  await store.claimGroup(`k:${sessionId}`, session, 60_000, null);
  await store.noteEvent(sessionId, note);
  return store;
}

async function lazily(c: Case, sessionId: string): Promise<MemoryCallStateStore> {
  const store = new MemoryCallStateStore();
  const { session, note, json } = await opened(c, sessionId);
  await store.claimGroup(`k:${sessionId}`, session, 60_000, null);
  store.noteRinging(sessionId, note, json);
  return store;
}

describe.each(cases)('a session kept as its ringing event: $name', (c) => {
  it('when it is rebuilt from the event, then it is the session the tracker opened, with the event noted, key for key', async () => {
    const { session, note, json } = await opened(c, 's-1');
    const expected = JSON.parse(JSON.stringify({ ...session, events: [note] })) as CallSession;
    const rebuilt = sessionOfRingingEvent(json, NOW + 1);
    expect(rebuilt).toEqual(expected);
    expect(JSON.stringify(rebuilt)).toBe(JSON.stringify(expected));
  });

  it('when it is read, then the read is the eager document’s, version and all, and a fresh copy each time', async () => {
    const [eager, lazy] = [await eagerly(c, 's-2'), await lazily(c, 's-2')];
    const want = await eager.read('s-2');
    const got = await lazy.read('s-2');
    expect(JSON.stringify(got)).toBe(JSON.stringify(want));
    got!.session.legs.push({ extension: '999', state: 'ringing', ringingAt: 0 });
    expect(JSON.stringify(await lazy.read('s-2'))).toBe(JSON.stringify(want));
    expect(await lazy.due(NOW)).toEqual(await eager.due(NOW));
    expect(await lazy.counts()).toEqual(await eager.counts());
  });

  it('when it is updated and noted again, then it goes on exactly as the eager document', async () => {
    const later: SentEvent = { id: '0000000000009-9', type: 'call.ringing', extension: '103', timestamp: 'later' };
    const results: string[] = [];
    for (const store of [await eagerly(c, 's-3'), await lazily(c, 's-3')]) {
      await updateSession(store, 's-3', (s) => {
        s.legs.push({ extension: '103', state: 'ringing', ringingAt: NOW + 5 });
        return true;
      });
      await store.noteEvent('s-3', later);
      expect((await store.compareAndSet((await store.read('s-3'))!.session, 1))).toBe(false);
      results.push(JSON.stringify(await store.read('s-3')));
    }
    expect(results[1]).toBe(results[0]);
  });
});

describe.each(cases)('a session kept as its ringing event, noted unlisted: $name', (c) => {
  it('when a poll notes it unlisted, then it reads as the eager document does, with no new version, and a rewrite keeps the note', async () => {
    const results: string[] = [];
    for (const store of [await eagerly(c, 'u-1'), await lazily(c, 'u-1')]) {
      await store.noteUnlisted(['u-1']);
      const read = await store.read('u-1');
      expect(read?.version).toBe(1);
      expect(read?.session.observed.absentBeforeSeen).toBe(true);
      results.push(JSON.stringify(read));
      await updateSession(store, 'u-1', (s) => {
        s.legs.push({ extension: '103', state: 'ringing', ringingAt: NOW + 5 });
        return true;
      });
      results.push(JSON.stringify(await store.read('u-1')));
    }
    expect(results[2]).toBe(results[0]);
    expect(results[3]).toBe(results[1]);
    expect(JSON.parse(results[3]!).session.observed.absentBeforeSeen).toBe(true);
  });
});

describe('a new session read or written before its ringing event is appended', () => {
  const c = cases[1]!;

  it('when another leg reads it first, then it is the document from then on, and the event is noted on it', async () => {
    const store = new MemoryCallStateStore();
    const { session, note, json } = await opened(c, 'p-1');
    await store.claimGroup('k', session, 60_000, null);
    const before = await store.read('p-1');
    expect(before?.session.events).toEqual([]);
    store.noteRinging('p-1', note, json);
    expect(JSON.stringify(await store.read('p-1'))).toBe(JSON.stringify(await (await eagerly(c, 'p-1')).read('p-1')));
  });

  it('when it is written first, then the write stands and the event is noted beside it', async () => {
    const store = new MemoryCallStateStore();
    const { session, note, json } = await opened(c, 'p-2');
    await store.claimGroup('k', session, 60_000, null);
    expect(await store.compareAndSet({ ...structuredClone(session), answeredBy: '101' }, 1)).toBe(true);
    store.noteRinging('p-2', note, json);
    const read = await store.read('p-2');
    expect(read?.version).toBe(2);
    expect(read?.session.answeredBy).toBe('101');
    expect(read?.session.events).toEqual([note]);
  });

  it('when the callback named via hints, then the session keeps them (it is kept as a document)', async () => {
    const hinted: Case = { ...c, cb: { ...c.cb, viaHints: ['Sales'] } };
    const [eager, lazy] = [await eagerly(hinted, 'p-3'), await lazily(hinted, 'p-3')];
    const got = await lazy.read('p-3');
    expect(got?.session.viaHints).toEqual(['Sales']);
    expect(JSON.stringify(got)).toBe(JSON.stringify(await eager.read('p-3')));
  });

  it('when it is removed (a duplicate), then nothing is left of it', async () => {
    const store = new MemoryCallStateStore();
    const { session, note, json } = await opened(c, 'p-4');
    await store.claimGroup('k4', session, 60_000, null);
    await store.remove('p-4');
    store.noteRinging('p-4', note, json);
    expect(await store.read('p-4')).toBeNull();
    expect(await store.counts()).toEqual({ active: 0, recordingsPending: 0 });
  });
});

describe('many sessions kept as their ringing events', () => {
  it('when they fill several shared slabs, one with an event larger than a slab holds, then each reads back its own', async () => {
    const c = cases[1]!;
    const eager = new MemoryCallStateStore({ maxSessions: 10_000 });
    const lazy = new MemoryCallStateStore({ maxSessions: 10_000 });
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) {
      // Events of every size; every 100th one ~20 KB (a contact with a long custom field).
      const big = i % 100 === 7 ? 'x'.repeat(20_000) : 'é'.repeat(i);
      const ci: Case = { ...c, cb: { ...c.cb, callId: `call-${i}` }, match: { ...c.match, contact: { ...contact, customFields: { note: big } } } };
      const id = `m-${i}`;
      ids.push(id);
      const { session, note, json } = await opened(ci, id);
      await eager.claimGroup(`k:${id}`, structuredClone(session), 60_000, null);
      await eager.noteEvent(id, note);
      await lazy.claimGroup(`k:${id}`, session, 60_000, null);
      lazy.noteRinging(id, note, json);
    }
    // Rewriting some (their slab space is left behind) leaves the others as they were.
    for (const id of ids.filter((_, i) => i % 3 === 0)) {
      for (const store of [eager, lazy]) {
        await updateSession(store, id, (s) => {
          s.answeredBy = '101';
          return true;
        });
      }
    }
    for (const id of ids) expect(JSON.stringify(await lazy.read(id))).toBe(JSON.stringify(await eager.read(id)));
  });
});
