/** The tracker's pure rules: what an activeCalls listing proves, PBX local times, call-log rows, the machine. */
import { describe, expect, it } from 'vitest';
import { answerFacts, matchRows } from '../../src/calls/call-log.js';
import { observe } from '../../src/calls/inference.js';
import { addLeg, answer, complete, end } from '../../src/calls/machine.js';
import type { CallSession } from '../../src/calls/model.js';
import { parsePbxLocalTime, pbxLocalDate } from '../../src/calls/pbx-time.js';
import type { PbxActiveCall, PbxCallLogRow } from '../../src/core/ports.js';

const T0 = Date.parse('2026-11-27T10:03:33Z');
const times = { callLogWaitMs: 300_000, recordingWaitMs: 3_600_000 };

function session(legs: string[], callId: string | null = 'c1'): CallSession {
  return {
    sessionId: 's1',
    callId,
    fromRaw: '+14155550132',
    from: '+14155550132',
    fromName: null,
    direction: 'inbound',
    contact: null,
    otherContacts: [],
    links: {},
    startedAt: T0,
    answeredAt: null,
    answeredBy: null,
    endedAt: null,
    answerUnknown: false,
    legs: legs.map((extension) => ({ extension, state: 'ringing', ringingAt: T0 })),
    phase: 'open',
    observed: { seen: false, absentBeforeSeen: false, maxLegsListed: 0, groupCallee: null, goneAt: null },
    callLog: { nextAt: T0, attempts: 0, deadline: null },
    recording: null,
    cdr: null,
    outbox: [],
    events: [],
  };
}

const row = (callee: string): PbxActiveCall => ({ callerNumber: '+14155550132', calleeNumber: callee, startTime: null, raw: {} });
const opts = { listingShowsRinging: false };

describe('activeCalls inference', () => {
  it('one extension listed from the start may be ringing or talking: nothing is concluded', () => {
    const s = session(['101']);
    expect(observe(s, [row('101')], T0, opts).kind).toBe('none');
    expect(observe(s, [row('101')], T0 + 1000, opts).kind).toBe('none');
    expect(observe(s, [], T0 + 2000, opts)).toEqual({ kind: 'gone' });
  });

  it('ringing legs listed, then only one: that one answered', () => {
    const s = session(['101', '102', '103']);
    expect(observe(s, [row('101'), row('102'), row('103')], T0, opts).kind).toBe('none');
    expect(observe(s, [row('102')], T0 + 1000, opts)).toEqual({ kind: 'answered', by: '102' });
  });

  it("the group's number listed, then an extension: that extension answered", () => {
    const s = session(['101', '102']);
    expect(observe(s, [row('5000')], T0, opts).kind).toBe('none');
    expect(observe(s, [row('101')], T0 + 1000, opts)).toEqual({ kind: 'answered', by: '101' });
  });

  it('nothing listed after the ringing, then a leg: connected there, unless this PBX was seen listing ringing calls', () => {
    const s = session(['101']);
    expect(observe(s, [], T0, opts).kind).toBe('none');
    expect(observe(s, [row('101')], T0 + 1000, opts)).toEqual({ kind: 'answered', by: '101' });
    const t = session(['101']);
    observe(t, [], T0, { listingShowsRinging: true });
    expect(observe(t, [row('101')], T0 + 1000, { listingShowsRinging: true }).kind).toBe('none');
  });
});

describe('PBX local time', () => {
  it('reads the PBX wall clock in its zone, across zones with odd offsets', () => {
    expect(parsePbxLocalTime('2026-11-27 15:33:33', 'Asia/Kolkata')).toBe(T0);
    expect(parsePbxLocalTime('2026-11-27 10:03:33', 'UTC')).toBe(T0);
    expect(parsePbxLocalTime('2026-07-01 12:00:00', 'America/New_York')).toBe(Date.parse('2026-07-01T16:00:00Z'));
    expect(parsePbxLocalTime('-', 'UTC')).toBeNull();
  });

  it("asks the call log for the PBX's local date", () => {
    expect(pbxLocalDate(Date.parse('2026-11-27T20:00:00Z'), 'Asia/Kolkata')).toBe('2026-11-28');
    expect(pbxLocalDate(Date.parse('2026-11-27T20:00:00Z'), 'UTC')).toBe('2026-11-27');
  });
});

function logRow(partial: Partial<PbxCallLogRow>): PbxCallLogRow {
  return {
    startDate: '2026-11-27 10:03:33', endDate: '2026-11-27 10:04:10', caller: '4155550132', callee: '5000', forward: '5000',
    callId: null, uniqueToken: null, direction: null, callerName: null, calleeName: null, did: null, answerTime: null,
    callStatus: null, hangupBy: null, recordingPath: null, raw: {}, ...partial,
  };
}

describe('call-log rows', () => {
  it('the extra fields say who answered; the manual fields alone cannot', () => {
    const s = session(['101', '102'], null);
    const answered = matchRows(s, [logRow({ forward: '102', answerTime: '2026-11-27 10:03:40', callStatus: 'ANSWERED' })], 'UTC', 'US');
    expect(answered && answerFacts(s, answered, 'UTC')).toEqual({ kind: 'answered', by: '102', answeredAt: T0 + 7000 });
    const missed = matchRows(s, [logRow({ callStatus: 'NO ANSWER' })], 'UTC', 'US');
    expect(missed && answerFacts(s, missed, 'UTC')).toEqual({ kind: 'missed' });
    const manual = matchRows(s, [logRow({})], 'UTC', 'US');
    expect(manual && answerFacts(s, manual, 'UTC')).toEqual({ kind: 'unknown' });
  });

  it("another caller's row, or one from an hour before, is not this call", () => {
    const s = session(['101'], null);
    expect(matchRows(s, [logRow({ caller: '4155550199' })], 'UTC', 'US')).toBeNull();
    expect(matchRows(s, [logRow({ startDate: '2026-11-27 09:03:33' })], 'UTC', 'US')).toBeNull();
    // The same caller's previous call, over before this one rang.
    expect(matchRows(s, [logRow({ startDate: '2026-11-27 10:02:50', endDate: '2026-11-27 10:03:20' })], 'UTC', 'US')).toBeNull();
  });
});

describe('the state machine', () => {
  it('sends one answer per leg, one outcome per leg, one completion, and nothing twice', () => {
    const s = session(['101']);
    expect(addLeg(s, '102', T0)).toBe(true);
    expect(addLeg(s, '102', T0)).toBe(false);
    expect(answer(s, '102', T0 + 5000, T0 + 5000)).toBe(true);
    expect(answer(s, '101', T0 + 6000, T0 + 6000)).toBe(false);
    expect(end(s, { kind: 'unknown' }, T0 + 65_000, T0 + 65_000, times)).toBe(true);
    expect(end(s, { kind: 'missed' }, T0 + 66_000, T0 + 66_000, times)).toBe(false);
    expect(complete(s, { row: null }, T0 + 70_000, times)).toBe(true);
    expect(complete(s, { row: null }, T0 + 71_000, times)).toBe(false);
    expect(s.outbox.map((p) => `${p.event.type}:${p.event.data.extension}`)).toEqual([
      'call.answered:101', 'call.answered:102', 'call.ended:101', 'call.ended:102', 'call.completed:102',
    ]);
    expect(s.cdr).toMatchObject({ durationS: 65, talkS: 60, answeredBy: '102', source: 'observed' });
  });
});
