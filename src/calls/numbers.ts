/** Whether two written numbers are the same number, by the phonebook's matching rules (src/core/phone-number.ts). */
import { keysOf, readNumber, type CountryCode, type ReadNumber } from '../core/phone-number.js';

/** A number read once, to be compared many times (every row of one activeCalls listing, every open call). */
export interface ReadCaller {
  /** The text as written, trimmed. */
  text: string;
  read: ReadNumber;
  /** keysOf(read): numbers that are the same share one of these (or their text). */
  keys: string[];
}

export function readCaller(raw: string, country: CountryCode): ReadCaller {
  const read = readNumber(raw, country);
  return { text: raw.trim(), read, keys: keysOf(read) };
}

/** sameNumber() on numbers already read. */
export function sameReadCaller(a: ReadCaller, b: ReadCaller): boolean {
  if (a.text === b.text) return true;
  if (a.read.digits === '' || b.read.digits === '') return false;
  if (a.read.e164 && b.read.e164) return a.read.e164 === b.read.e164;
  return a.keys.some((k) => b.keys.includes(k));
}

export function sameNumber(a: string, b: string, country: CountryCode): boolean {
  if (a.trim() === b.trim()) return true;
  return sameReadCaller(readCaller(a, country), readCaller(b, country));
}

/**
 * The one key a caller is grouped under: E.164 when readable, else its last digits, else the text; null for a
 * caller without a digit (withheld: "anonymous", "unknown"), which is no caller identity (two such calls at
 * once are not one call).
 */
export function callerKey(raw: string, country: CountryCode): string | null {
  const n = readNumber(raw, country);
  if (n.digits === '') return null;
  return keysOf(n)[0] ?? `raw:${raw.trim()}`;
}
