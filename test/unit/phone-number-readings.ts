/**
 * What the phone-number tests share: a deterministic generator, the comparison of readWritten's fast path
 * with the full parse, libphonenumber's own reading (the authority), and the prefixes a country's metadata
 * allows.
 */
import { expect } from 'vitest';
import { Metadata, parsePhoneNumberFromString } from 'libphonenumber-js/min';
import { readWritten, readWrittenByParse, toE164, type CountryCode } from '../../src/core/phone-number.js';

/** A small deterministic generator (the same inputs every run). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export const DEFAULTS: CountryCode[] = ['IN', 'US', 'GB', 'DE', 'AR', 'RU', 'BR', 'MX', 'FR', 'CN', 'CA', 'JE', 'KZ', 'AG'];

/** readWritten's fast path reads the number as the full parse does, with each default country. */
export function expectSameReading(plus: boolean, digits: string, countries: readonly CountryCode[] = DEFAULTS): void {
  for (const country of countries) {
    const fast = readWritten(plus, digits, country);
    const full = readWrittenByParse(plus, digits, country);
    if (fast.e164 !== full.e164 || fast.explicit !== full.explicit || fast.callingCode !== full.callingCode) {
      expect({ country, ...fast }).toEqual({ country, ...full });
    }
  }
}

/**
 * The E.164 form by libphonenumber's parse with the default country alone; where it refuses the number, the
 * digits after a leading `00` read as an international number (docs/phonebook.md, "How a number is read").
 */
export function authorityE164(plus: boolean, digits: string, country: CountryCode): string | null {
  if (digits.length < 3) return null;
  const parsed = parsePhoneNumberFromString(plus ? `+${digits}` : digits, { defaultCountry: country, extract: false });
  if (parsed?.isValid()) return parsed.number;
  if (plus || !digits.startsWith('00')) return null;
  const after00 = parsePhoneNumberFromString(`+${digits.slice(2)}`, { extract: false });
  return after00?.isValid() ? after00.number : null;
}

/**
 * One reading everywhere: toE164 (`call.from`), the fast path and the full parse give the authority's E.164
 * form, the fast path the full parse's whole reading, and a number with an E.164 form is in that form's
 * calling code.
 */
export function expectOneReading(plus: boolean, digits: string, country: CountryCode): void {
  const expected = authorityE164(plus, digits, country);
  const fast = readWritten(plus, digits, country);
  const full = readWrittenByParse(plus, digits, country);
  const e164 = toE164(plus, digits, country);
  const callingCode = full.e164 === null ? full.callingCode : Number(parsePhoneNumberFromString(full.e164)?.countryCallingCode ?? 0);
  if (
    full.e164 !== expected ||
    e164 !== expected ||
    fast.e164 !== full.e164 ||
    fast.explicit !== full.explicit ||
    fast.callingCode !== full.callingCode ||
    full.callingCode !== callingCode
  ) {
    expect({ country, plus, digits, toE164: e164, fast, full: { ...full, e164CallingCode: callingCode } }).toEqual({
      country,
      plus,
      digits,
      toE164: expected,
      fast: { ...full, e164: expected },
      full: { ...full, e164: expected, e164CallingCode: full.callingCode },
    });
  }
}

/**
 * Every digit string a metadata pattern matches (the patterns of international and national prefixes are
 * finite: digits, classes, `\d`, groups, `|` and `?`). A run of `\d` with a count (`\d{10,11}`, the national
 * number in Brazil's national prefix) and `$` match nothing here, so what comes out is the prefix alone.
 */
export function prefixesOf(pattern: string): string[] {
  let i = 0;
  const alternatives = (): string[] => {
    let out = sequence();
    while (pattern[i] === '|') {
      i++;
      out = out.concat(sequence());
    }
    return out;
  };
  const sequence = (): string[] => {
    let acc = [''];
    while (i < pattern.length && pattern[i] !== '|' && pattern[i] !== ')') {
      let atom: string[];
      const ch = pattern[i] ?? '';
      if (ch === '(') {
        i += pattern.startsWith('(?:', i) ? 3 : 1;
        atom = alternatives();
        i++; // ')'
      } else if (ch === '[') {
        const end = pattern.indexOf(']', i);
        const body = pattern.slice(i + 1, end);
        i = end + 1;
        atom = [];
        for (let k = 0; k < body.length; k++) {
          if (body[k + 1] === '-') {
            for (let d = Number(body[k]); d <= Number(body[k + 2]); d++) atom.push(String(d));
            k += 2;
          } else {
            atom.push(body[k] ?? '');
          }
        }
      } else if (pattern.startsWith('\\d', i)) {
        i += 2;
        atom = [...'0123456789'];
      } else if (ch === '$') {
        i++;
        atom = [''];
      } else {
        i++;
        atom = [ch];
      }
      if (pattern[i] === '{') {
        i = pattern.indexOf('}', i) + 1;
        atom = [''];
      }
      if (pattern[i] === '?') {
        i++;
        atom = ['', ...atom];
      }
      acc = acc.flatMap((a) => atom.map((b) => a + b));
    }
    return acc;
  };
  return [...new Set(alternatives())];
}

/** The numbering plan's methods the tests read that libphonenumber-js does not declare in its types. */
interface PlanPatterns {
  IDDPrefix(): string;
  nationalPrefixForParsing(): string | number | undefined;
}

function planOf(country: CountryCode): PlanPatterns {
  const metadata = new Metadata();
  metadata.selectNumberingPlan(country);
  return metadata.numberingPlan as unknown as PlanPatterns;
}

/** The country's international prefix pattern (`011`, or `00(?:1[245]|2[1-35]|…)` for Brazil). */
export const iddPattern = (country: CountryCode): string => planOf(country).IDDPrefix();

/** Every international prefix the country's metadata allows: `0014`, `0015`, `0021` … for Brazil. */
export const iddPrefixes = (country: CountryCode): string[] => prefixesOf(iddPattern(country));

/** The country's national prefix pattern for parsing, which may carry a carrier code (Brazil, Colombia, Korea). */
export function nationalPrefixPattern(country: CountryCode): string | undefined {
  const pattern = planOf(country).nationalPrefixForParsing();
  // The metadata keeps a prefix of digits alone as a number.
  return pattern === undefined ? undefined : String(pattern);
}
