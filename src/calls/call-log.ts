/**
 * Finding a call's row in the PBX's call log and reading what it says. The manual's rows carry start_date,
 * end_date, caller, callee and forward: enough for times, not for who answered. Rows that carry the extra
 * fields integrators report (answer_time, call_status, callid, call_rec_path, …) say more; they are used when
 * present and never required.
 */
import type { PbxCallLogRow } from '../core/ports.js';
import type { CountryCode } from '../core/phone-number.js';
import type { EndFacts, CompletionFacts } from './machine.js';
import type { CallSession } from './model.js';
import { sameNumber } from './numbers.js';
import { parsePbxLocalTime } from './pbx-time.js';

/** How far the row's start may be from the ringing callback's arrival (clocks, queue time before the pop). */
const START_SLACK_MS = 120_000;
/** Clock difference allowed between the PBX's end_date and the bridge's clock. */
const END_SLACK_MS = 2000;
/** Rows of one call (its legs) start within this of each other. */
const SAME_CALL_MS = 5000;

export interface CallLogMatch {
  rows: PbxCallLogRow[];
  startedAt: number | null;
  endedAt: number | null;
  answeredAt: number | null;
}

/** The rows of this call: same call id when both have one, else same caller starting near the ringing. */
export function matchRows(s: CallSession, rows: readonly PbxCallLogRow[], tz: string, country: CountryCode): CallLogMatch | null {
  let mine = rows.filter((r) => {
    if (s.callId && r.callId) return r.callId === s.callId;
    if (!r.caller || !sameNumber(r.caller, s.fromRaw, country)) return false;
    const start = parsePbxLocalTime(r.startDate, tz);
    // The callee may be a leg's extension or a group's number, so only the caller and the time tell. The
    // call was still on when this leg rang, so an earlier call of this caller that had ended is not it.
    const endAt = parsePbxLocalTime(r.endDate, tz);
    if (endAt !== null && endAt < s.startedAt - END_SLACK_MS) return false;
    return start !== null && Math.abs(start - s.startedAt) <= START_SLACK_MS;
  });
  if (mine.length === 0) return null;
  if (!(s.callId && mine.every((r) => r.callId))) {
    // Of several calls of this caller near that time, the one that started closest; its legs start together.
    const startOf = (r: PbxCallLogRow) => parsePbxLocalTime(r.startDate, tz) ?? Number.POSITIVE_INFINITY;
    const closest = Math.min(...mine.map((r) => Math.abs(startOf(r) - s.startedAt)));
    const anchor = mine.find((r) => Math.abs(startOf(r) - s.startedAt) === closest);
    const anchorStart = anchor ? startOf(anchor) : s.startedAt;
    mine = mine.filter((r) => Math.abs(startOf(r) - anchorStart) <= SAME_CALL_MS);
  }
  const times = (pick: (r: PbxCallLogRow) => string | null) =>
    mine.map((r) => parsePbxLocalTime(pick(r), tz)).filter((v): v is number => v !== null);
  const starts = times((r) => r.startDate);
  const ends = times((r) => r.endDate);
  const answers = times((r) => r.answerTime);
  return {
    rows: mine,
    startedAt: starts.length ? Math.min(...starts) : null,
    endedAt: ends.length ? Math.max(...ends) : null,
    answeredAt: answers.length ? Math.min(...answers) : null,
  };
}

const MISSED_STATUS = /no.?answer|unanswer|missed|busy|cancel|fail|abandon|reject|declin/i;
const ANSWERED_STATUS = /answer|connect|complete|success/i;

/** Who answered, as far as the rows say: answered (by whom), missed, or unknown (the manual's fields only). */
export function answerFacts(s: CallSession, match: CallLogMatch, tz: string): EndFacts {
  const legs = new Set(s.legs.map((l) => l.extension));
  const answeredBy = (r: PbxCallLogRow): string | null =>
    [r.forward, r.callee].find((v): v is string => v !== null && legs.has(v)) ?? r.forward ?? r.callee;
  for (const r of match.rows) {
    const status = r.callStatus ?? '';
    const answered = r.answerTime !== null || (status !== '' && ANSWERED_STATUS.test(status) && !MISSED_STATUS.test(status));
    if (answered) {
      const by = answeredBy(r);
      if (by) return { kind: 'answered', by, answeredAt: parsePbxLocalTime(r.answerTime, tz) };
    }
  }
  if (match.rows.every((r) => r.callStatus !== null && MISSED_STATUS.test(r.callStatus))) return { kind: 'missed' };
  return { kind: 'unknown' };
}

export function completionFacts(match: CallLogMatch): CompletionFacts {
  const first = match.rows[0];
  return {
    row: {
      startedAt: match.startedAt,
      answeredAt: match.answeredAt,
      endedAt: match.endedAt,
      callee: first?.callee ?? null,
      recordingUrl: match.rows.map((r) => r.recordingPath).find((v): v is string => v !== null) ?? null,
      callId: match.rows.map((r) => r.callId ?? r.uniqueToken).find((v): v is string => v !== null) ?? null,
    },
  };
}

/** Whether every row of the call is finished (an end date written). */
export function isOver(match: CallLogMatch): boolean {
  return match.endedAt !== null && match.rows.every((r) => r.endDate !== null);
}
