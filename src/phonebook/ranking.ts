/**
 * How the index ranks what a number matched: per-number info bits (field rank, how it was written), the
 * score of a match (exact before suffix, then the field's rank), and the order of equal scores (lowest
 * phonebook id first). Matching rules: docs/phonebook.md.
 */
import type { ContactMatch } from '../core/event.js';
import { TAIL_DIGITS } from '../core/phone-number.js';

/** An exact (E.164 or short-number) match beats a last-digits match whatever the field. */
export const TAIL_PENALTY = 8;

/**
 * Per-number info bits: the field rank in bits 0-1, then "has a valid E.164 form", "country written", and
 * "exactly TAIL_DIGITS digits, no `+`" (the whole number is its tail: the same 8 digits are the same number).
 */
export const RANK_BITS = 3;
export const VALID = 4;
export const EXPLICIT = 8;
export const WHOLE = 16;

/** One number read once: its keys and how it was written. */
export interface Reading {
  exactKey: number | null;
  /** Written as exactly TAIL_DIGITS digits, without `+`. */
  whole: boolean;
  tailKey: number | null;
  shortKey: string | null;
  valid: boolean;
  explicit: boolean;
  callingCode: number;
}

/**
 * The `limit` best contacts by score, then phonebookId (`ids[index]`); a partial selection, as a shared
 * number may match thousands.
 */
export function topByScore(scores: Map<number, number>, ids: readonly string[], limit: number): Array<{ index: number; score: number }> {
  const top: Array<{ index: number; score: number; id: string }> = [];
  for (const [index, score] of scores) {
    const id = ids[index];
    if (id === undefined) continue;
    const entry = { index, score, id };
    let pos = top.length;
    while (pos > 0) {
      const prev = top[pos - 1];
      if (prev === undefined || compareEntries(prev, entry) <= 0) break;
      pos--;
    }
    if (pos >= limit) continue;
    top.splice(pos, 0, entry);
    if (top.length > limit) top.pop();
  }
  return top;
}

export function matchOf(score: number): ContactMatch {
  return score < TAIL_PENALTY ? 'exact' : 'suffix';
}

export function toReading(n: { plus: boolean; digits: string; e164: string | null; explicit: boolean; callingCode: number }): Reading {
  const long = n.digits.length >= TAIL_DIGITS;
  return {
    // E.164 has at most 15 digits: exact as a double.
    exactKey: n.e164 === null ? null : Number(n.e164.slice(1)),
    whole: !n.plus && n.digits.length === TAIL_DIGITS,
    // Always TAIL_DIGITS digits long, so leading zeros cannot make two tails one integer.
    tailKey: long ? Number(n.digits.slice(-TAIL_DIGITS)) : null,
    shortKey: long || n.digits === '' ? null : n.digits,
    valid: n.e164 !== null,
    explicit: n.explicit,
    callingCode: n.callingCode,
  };
}

function compareEntries(a: { score: number; id: string }, b: { score: number; id: string }): number {
  if (a.score !== b.score) return a.score - b.score;
  return comparePhonebookIds(a.id, b.id);
}

/** Numeric ids compare as numbers ("9" < "41"), anything else as text. */
export function comparePhonebookIds(a: string, b: string): number {
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) {
    const a2 = a.replace(/^0+(?=\d)/, '');
    const b2 = b.replace(/^0+(?=\d)/, '');
    if (a2.length !== b2.length) return a2.length - b2.length;
    return a2 < b2 ? -1 : a2 > b2 ? 1 : 0;
  }
  if (an !== bn) return an ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
