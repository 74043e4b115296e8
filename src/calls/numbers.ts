/** Whether two written numbers are the same number, by the phonebook's matching rules (src/core/phone-number.ts). */
import { keysOf, readNumber, type CountryCode } from '../core/phone-number.js';

export function sameNumber(a: string, b: string, country: CountryCode): boolean {
  if (a.trim() === b.trim()) return true;
  const na = readNumber(a, country);
  const nb = readNumber(b, country);
  if (na.digits === '' || nb.digits === '') return false;
  if (na.e164 && nb.e164) return na.e164 === nb.e164;
  const kb = new Set(keysOf(nb));
  return keysOf(na).some((k) => kb.has(k));
}

/** The one key a caller is grouped under: E.164 when readable, else its last digits, else the text. */
export function callerKey(raw: string, country: CountryCode): string {
  const n = readNumber(raw, country);
  return keysOf(n)[0] ?? `raw:${raw.trim()}`;
}
