/**
 * Reading caller numbers and phonebook numbers so that the +91 / 0 / 00 / national forms of one number meet.
 *
 * Metadata: libphonenumber-js "min". Measured on this machine (parse + isValid, 100k numbers): min ~17 us,
 * max ~22 us. On random digit strings the two agree for US, GB and AU; where they differ (IN, DE, FR, AE) min
 * accepts numbers that max rejects because max also checks per-type (mobile, fixed line) ranges. For turning a
 * national number into E.164 the general pattern plus the length check is the right strictness: a number in a
 * newly opened range should still become E.164, and we never need getType(). Min is also half the size.
 *
 * Matching rules (the keys returned by numberKeys):
 *  - `e:<E.164>`  when the number is valid read with the default country (national, `+`, the country's own
 *    international prefix, which may carry a carrier code, e.g. Brazil's 0014), or else, when it starts with
 *    `00`, valid read as an international number after the `00` (US 011; Brazil's `00 1 212 …`, which the
 *    parse reads as carrier 12). readWritten says which; the same reading gives `call.from`.
 *  - `t:<last 8 digits>` for numbers of 8 digits or more. Prefixes (`+`, `00`, `0`, country code) are only ever
 *    at the front, so the tail of the digit string is the same for every written form of the number, including
 *    forms that cannot be parsed (unknown country, 8-digit local numbers like the manual's "98988778").
 *    8 is the shortest subscriber number the PBX manual shows. A tail match is weaker than an E.164 match and is
 *    only accepted when at least one side has no E.164 form: two valid numbers with different E.164 forms are
 *    different numbers even when their last 8 digits agree.
 *  - `x:<digits>` for numbers of fewer than 8 digits (extensions, short codes): exact digits only.
 *
 * The phonebook index (src/phonebook/index.ts) applies the fuller rules of docs/phonebook.md on top of these:
 * an exact match wins; with none, the last digits decide unless the two readings rule it out (see
 * `tailMayMatch`), which needs to know whether a number was written with its country (`readWritten`).
 */
import { getCountryCallingCode, Metadata, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/min';
import minMetadata from 'libphonenumber-js/min/metadata';

export type { CountryCode };

/** Digits compared by the last-digits fallback; also the length from which a number is no longer "short". */
export const TAIL_DIGITS = 8;

export interface ReadNumber {
  /** The input had a leading `+`. */
  plus: boolean;
  /** Every digit of the input, in order (no `+`). */
  digits: string;
  /** E.164 when the number is valid read with the default country, else null. */
  e164: string | null;
}

export interface NormalizedCaller {
  /** E.164 when readable with the default country, else the digits as received (with their leading `+`). */
  from: string;
  /** Every digit as received, without `+` or formatting. */
  digits: string;
}

/**
 * The `+` and digits of a raw number. A `sip:`/`tel:` scheme and an `@host` part are dropped first, so the
 * digits of a host name never end up in the number.
 */
export function extractDigits(raw: string): { plus: boolean; digits: string } {
  let s = raw.trim();
  const at = s.indexOf('@');
  if (at >= 0) s = s.slice(0, at);
  const colon = s.indexOf(':');
  if (colon >= 0 && /^(sips?|tel)$/i.test(s.slice(0, colon))) s = s.slice(colon + 1);
  s = s.trim();
  return { plus: s.startsWith('+'), digits: s.replace(/\D+/g, '') };
}

/**
 * E.164 of the number when it is valid read with `country`, else null: readWritten's reading (one reading for
 * `call.from`, the phonebook and the call journal alike).
 */
export function toE164(plus: boolean, digits: string, country: CountryCode): string | null {
  return readWritten(plus, digits, country).e164;
}

export function readNumber(raw: string, country: CountryCode): ReadNumber {
  const { plus, digits } = extractDigits(raw);
  return { plus, digits, e164: toE164(plus, digits, country) };
}

/**
 * The caller as the event shows it (CONTRACT section 2, `call.from`). A number without any digit (e.g.
 * "anonymous") is returned trimmed as it came.
 */
export function normalizeCaller(raw: string, country: CountryCode): NormalizedCaller {
  const n = readNumber(raw, country);
  return { from: fromOf(raw, n), digits: n.digits };
}

/** `call.from` for an already read number. */
export function fromOf(raw: string, n: ReadNumber): string {
  if (n.digits === '') return raw.trim();
  return n.e164 ?? (n.plus ? `+${n.digits}` : n.digits);
}

/** The index keys of a phonebook number (see the matching rules at the top of this file). */
export function numberKeys(raw: string, country: CountryCode): string[] {
  return keysOf(readNumber(raw, country));
}

export function keysOf(n: ReadNumber): string[] {
  if (n.digits === '') return [];
  const keys: string[] = [];
  if (n.e164) keys.push(`e:${n.e164}`);
  keys.push(n.digits.length >= TAIL_DIGITS ? `t:${n.digits.slice(-TAIL_DIGITS)}` : `x:${n.digits}`);
  return keys;
}

/** How many digits a phone-number-looking text holds, or -1 when it holds anything but phone punctuation. */
export function phoneLikeDigitCount(text: string): number {
  const s = text.trim();
  if (!/^\+?[\d\s\-.()]+$/.test(s)) return -1;
  return s.replace(/\D+/g, '').length;
}

/** A number as written: its E.164 reading, and whether its country was written or guessed. */
export interface WrittenNumber extends ReadNumber {
  /** Written with its country (`+`, `00`, or the default country's international prefix): not a guess. */
  explicit: boolean;
  /** The country calling code as written, or the default country's for a national number; 0 when unknown. */
  callingCode: number;
}

const iddPrefixes = new Map<CountryCode, RegExp>();

/** The default country's international (IDD) prefix as an anchored pattern, e.g. `^(?:011)` for US. */
function iddPrefixOf(country: CountryCode): RegExp {
  let re = iddPrefixes.get(country);
  if (re === undefined) {
    const metadata = new Metadata();
    metadata.selectNumberingPlan(country);
    const idd = metadata.numberingPlan?.IDDPrefix() ?? '00';
    re = new RegExp(`^(?:${idd})`);
    iddPrefixes.set(country, re);
  }
  return re;
}

/**
 * Reads a number and tells a written country from a guessed one (docs/phonebook.md, "How a number is read").
 * readWrittenByParse says what the reading is; this gives the same without libphonenumber's parse where it
 * can (a parse is ~10-50 us, most of a caller's lookup): a number written internationally (`+`, the default
 * country's own international prefix, or `00`) in a calling code of one country, and a national number
 * (with its national prefix and any carrier code in it). Anything else takes the parse.
 */
export function readWritten(plus: boolean, digits: string, country: CountryCode): WrittenNumber {
  const home = homeCallingCode(country);
  if (digits.length < 3) return { plus, digits, e164: null, explicit: false, callingCode: home };
  if (plus) {
    const intl = readInternational(digits);
    if (intl !== null) return { plus, digits, e164: intl.e164, explicit: true, callingCode: intl.callingCode };
  } else {
    // The default country's own international prefix: the parse strips it and reads the rest as after a `+`
    // (readInternational gives up where a 0 follows, which the parse would read nationally).
    const own = iddPrefixOf(country).exec(digits)?.[0] ?? '';
    if (own !== '') {
      const intl = readInternational(digits.slice(own.length));
      // A prefix of more than `00` that starts with it (Brazil's 0014, Australia's 0011): where the parse
      // refuses what follows the prefix, the digits after `00` are read instead.
      if (intl !== null && (intl.e164 !== null || own === '00' || !digits.startsWith('00'))) {
        return { plus, digits, e164: intl.e164, explicit: true, callingCode: intl.callingCode };
      }
      const after00 = intl === null ? null : readInternational(digits.slice(2));
      if (intl !== null && after00 !== null) {
        const read = after00.e164 !== null ? after00 : intl;
        return { plus, digits, e164: read.e164, explicit: true, callingCode: read.callingCode };
      }
    }
  }
  if (!plus) {
    const national = readNational(digits, country);
    if (national !== undefined && (national !== null || !digits.startsWith('00'))) {
      return { plus, digits, e164: national, explicit: false, callingCode: home };
    }
    // `00` that is not the country's prefix, and no national number either: the digits after `00`.
    const after00 = national === null ? readInternational(digits.slice(2)) : null;
    if (after00 !== null) return { plus, digits, e164: after00.e164, explicit: true, callingCode: after00.callingCode };
  }
  return readWrittenByParse(plus, digits, country);
}

/**
 * The reading of a number, by libphonenumber's full parse with the default country (the reference the fast
 * path is tested against):
 * - the parse finds it valid: its E.164 form. It was written with its country when it had a `+` or when the
 *   parse read the default country's international prefix (which may carry a carrier code: Brazil's
 *   `0014`); a number the parse read as national is a guess, whatever its first digits (in Japan, whose
 *   prefix is `010`, the parse reads `0044 …` as a Japanese number);
 * - it does not, and the digits start with `00`: the digits after `00` as an international number (`00` is
 *   the international prefix in most of the world, and what a caller from abroad may have kept); the number
 *   counts as written with its country either way;
 * - otherwise it is not valid: written with its country (the one the parse read, 0 when none) after a `+` or
 *   the international prefix, a guess in the default country else.
 */
export function readWrittenByParse(plus: boolean, digits: string, country: CountryCode): WrittenNumber {
  const home = homeCallingCode(country);
  if (digits.length < 3) return { plus, digits, e164: null, explicit: false, callingCode: home };
  const parsed = parsePhoneNumberFromString(plus ? `+${digits}` : digits, { defaultCountry: country, extract: false });
  const parsedCode = parsed ? Number(parsed.countryCallingCode) : 0;
  const international = plus || readsInternationalPrefix(digits, country);
  if (parsed?.isValid()) return { plus, digits, e164: parsed.number, explicit: international, callingCode: parsedCode };
  if (!plus && digits.startsWith('00')) {
    const after00 = parsePhoneNumberFromString(`+${digits.slice(2)}`, { extract: false });
    if (after00?.isValid() || !international) {
      return { plus, digits, e164: after00?.isValid() ? after00.number : null, explicit: true, callingCode: after00 ? Number(after00.countryCallingCode) : 0 };
    }
  }
  return { plus, digits, e164: null, explicit: international, callingCode: international ? parsedCode : home };
}

/** Whether the parse reads the digits after the default country's international prefix as after a `+`. */
function readsInternationalPrefix(digits: string, country: CountryCode): boolean {
  const idd = iddPrefixOf(country).exec(digits)?.[0];
  // The parse's own rule (stripIddPrefix): no calling code starts with 0, so then the number is national.
  return idd !== undefined && digits.length > idd.length && digits[idd.length] !== '0';
}

/**
 * Whether two numbers whose last TAIL_DIGITS digits agree (and whose E.164 forms, if any, differ) may be
 * the same number:
 * - not when both are valid in the same country: two different numbers of one numbering plan;
 * - not when both were written with their country and the countries differ;
 * - otherwise yes: at least one side's country is a guess (a national number read with DEFAULT_COUNTRY), or
 *   cannot be read at all, so the last digits decide.
 */
export function tailMayMatch(
  a: { valid: boolean; explicit: boolean; callingCode: number },
  b: { valid: boolean; explicit: boolean; callingCode: number },
): boolean {
  const known = a.callingCode !== 0 && b.callingCode !== 0;
  if (known && a.callingCode === b.callingCode && a.valid && b.valid) return false;
  if (known && a.explicit && b.explicit && a.callingCode !== b.callingCode) return false;
  return true;
}

const homeCodes = new Map<CountryCode, number>();

function homeCallingCode(country: CountryCode): number {
  let cc = homeCodes.get(country);
  if (cc === undefined) {
    cc = Number(getCountryCallingCode(country));
    homeCodes.set(country, cc);
  }
  return cc;
}

/**
 * What the fast paths need of a numbering plan, as the parse applies it: the national prefix the parse would
 * try to strip, how it tells the country, and what isValid() then checks. For a calling code of one country
 * the country is that one. For a shared one (+1, +44, +7 ...) the parse takes the first country of the code
 * (metadata order) whose leading digits start the national number or, for a country without leading digits,
 * whose number types the number is one of; with none, it keeps the plan it started from.
 */
interface PlanRules {
  /** `^(?:national prefix for parsing)` of the plan the parse starts from; null when it has none. */
  nationalPrefix: RegExp | null;
  /**
   * What the national number is when the national prefix captured a carrier code (Brazil's `$2`: the digits
   * after `0` + carrier); undefined: the prefix and carrier are stripped.
   */
  transform: string | undefined;
  /** The plan the parse starts from (used when no country is picked). */
  start: CountryPlan;
  /** The countries of a shared calling code, in the metadata's order; empty for a code of one country. */
  countries: CountryPlan[];
}

interface CountryPlan {
  /** `^(?:leading digits)`, or null when the country has none. */
  leading: RegExp | null;
  check: PlanCheck;
  /** The plan's possible national number lengths (what checkNumberLength() reads), if any. */
  lengths: readonly number[] | undefined;
}

/** isValid() in one plan: the general pattern and, where the metadata has number types, one of them. */
interface PlanCheck {
  general: RegExp;
  /** null: the metadata has no types for this plan (then the general pattern is all). */
  types: Array<{ pattern: RegExp; lengths: readonly number[] }> | null;
}

/** The numbering plan methods libphonenumber-js has but does not declare in its types. */
interface PlanInternals {
  nationalPrefixForParsing(): string | undefined;
  nationalPrefixTransformRule(): string | undefined;
  nationalNumberPattern(): string | undefined;
  leadingDigits(): string | number | undefined;
  possibleLengths(): number[] | undefined;
  hasTypes(): boolean;
  type(name: string): { pattern(): string | undefined; possibleLengths(): number[] | undefined } | undefined;
}

/** The types getNumberType() tries, in its order; any one makes the number valid. */
const NUMBER_TYPES = ['FIXED_LINE', 'MOBILE', 'PREMIUM_RATE', 'TOLL_FREE', 'SHARED_COST', 'VOIP', 'PERSONAL_NUMBER', 'PAGER', 'UAN', 'VOICEMAIL'];

const entirely = (pattern: string): RegExp => new RegExp(`^(?:${pattern})$`);

function planOf(country: string): { plan: PlanInternals; country: CountryPlan } | null {
  const metadata = new Metadata();
  try {
    metadata.selectNumberingPlan(country as CountryCode);
  } catch {
    // A country the metadata does not know: only the parse may read its numbers (it ignores such a country).
    return null;
  }
  const plan = metadata.numberingPlan as unknown as PlanInternals | undefined;
  const general = plan?.nationalNumberPattern();
  if (plan === undefined || general === undefined) return null;
  let types: PlanCheck['types'] = null;
  if (plan.hasTypes()) {
    types = [];
    for (const name of NUMBER_TYPES) {
      const t = plan.type(name);
      const pattern = t?.pattern();
      const lengths = t?.possibleLengths();
      if (!pattern) continue;
      if (lengths === undefined) return null;
      types.push({ pattern: entirely(pattern), lengths });
    }
  }
  const leading = plan.leadingDigits();
  return {
    plan,
    country: {
      leading: typeof leading === 'string' && leading !== '' ? new RegExp(`^(?:${leading})`) : null,
      check: { general: entirely(general), types },
      lengths: plan.possibleLengths(),
    },
  };
}

function validIn(check: PlanCheck, national: string): boolean {
  if (!check.general.test(national)) return false;
  if (check.types === null) return true;
  for (const t of check.types) if (t.lengths.includes(national.length) && t.pattern.test(national)) return true;
  return false;
}

/** The country the parse picks for a national number of a shared calling code (getCountryByNationalNumber). */
function pickedPlan(rules: PlanRules, national: string): CountryPlan {
  for (const c of rules.countries) {
    if (c.leading !== null) {
      if (c.leading.test(national)) return c;
    } else if (c.check.types !== null && validIn(c.check, national)) {
      return c;
    }
  }
  return rules.start;
}

/** Whether the parse would find the national number valid, starting from these rules. */
function validFrom(rules: PlanRules, national: string): boolean {
  return validIn(pickedPlan(rules, national).check, national);
}

/** checkNumberLength() is neither TOO_SHORT nor INVALID_LENGTH (its own steps, for no number type). */
function possibleLength(lengths: readonly number[] | undefined, n: number): boolean {
  if (!lengths) return true;
  const min = lengths[0];
  if (min === n) return true;
  if (min !== undefined && min > n) return false;
  const max = lengths[lengths.length - 1];
  if (max !== undefined && max < n) return true; // TOO_LONG counts as possible here
  return lengths.indexOf(n, 1) >= 0;
}

/** Per country the parse starts from: its rules, or null when only a full parse may read its numbers. */
const planRules = new Map<string, PlanRules | null>();

function planRulesOf(country: string): PlanRules | null {
  const known = planRules.get(country);
  if (known !== undefined) return known;
  planRules.set(country, null);
  const start = planOf(country);
  const callingCode = start === null ? undefined : getCountryCallingCode(country as CountryCode);
  const codeCountries: readonly string[] | undefined = callingCode === undefined ? undefined : minMetadata.country_calling_codes[callingCode];
  if (start === null || codeCountries === undefined || codeCountries.includes('001')) return null;
  const countries: CountryPlan[] = [];
  if (codeCountries.length > 1) {
    for (const c of codeCountries) {
      const other = planOf(c);
      if (other === null) return null;
      countries.push(other.country);
    }
  }
  const prefix = start.plan.nationalPrefixForParsing();
  const rules: PlanRules = {
    nationalPrefix: prefix ? new RegExp(`^(?:${prefix})`) : null,
    transform: start.plan.nationalPrefixTransformRule() || undefined,
    start: start.country,
    countries,
  };
  planRules.set(country, rules);
  return rules;
}

/**
 * The reading of `+<digits>` without a full libphonenumber parse, for the common case; null when only the
 * parse can tell (then readWritten parses). These are the parse's own steps: the calling code is the first
 * 1-3 digits that are one (calling codes are prefix-free) and the parse starts from its main country's plan;
 * the rest is the national number as it stands unless it starts with that plan's national prefix (the parse
 * would try to strip it); validity as validFrom says. test/unit/phone-number-fast.test.ts compares it with the
 * full parse.
 */
function readInternational(digits: string): { e164: string | null; callingCode: number } | null {
  if (digits.startsWith('0')) return null;
  for (let i = 1; i <= 3 && i < digits.length; i++) {
    const cc = digits.slice(0, i);
    // Non-geographic codes (+800, +882 ...) are calling codes too, read by their own plan: full parse.
    if (minMetadata.nonGeographic[cc] !== undefined) return null;
    const main = minMetadata.country_calling_codes[cc]?.[0];
    if (main === undefined) continue;
    const rules = planRulesOf(main);
    if (rules === null) return null;
    const national = digits.slice(i);
    // The parse refuses national numbers outside 2-17 digits.
    if (national.length < 2 || national.length > 17) return null;
    if (rules.nationalPrefix?.test(national)) return null;
    return { e164: validFrom(rules, national) ? `+${digits}` : null, callingCode: Number(cc) };
  }
  return null;
}

/**
 * The E.164 form (null: not valid) of digits written nationally, as the parse with the default country reads
 * them; undefined when only the parse can tell: the digits start with the country's international prefix or
 * with its own calling code (the parse may read them as international without `+`). The national prefix is
 * stripped as the parse strips it (extractNationalNumber): with the carrier code it may carry (Brazil's
 * `0 15 11 …`), or, where the plan says so, turned into the national number by its transform rule; unless
 * the digits matched the plan's pattern and would not without it, or what is left has no possible length.
 * The parse starts from the default country's plan.
 */
function readNational(digits: string, country: CountryCode): string | null | undefined {
  if (iddPrefixOf(country).test(digits)) return undefined;
  const home = String(homeCallingCode(country));
  if (digits.startsWith(home)) return undefined;
  const rules = planRulesOf(country);
  if (rules === null) return undefined;
  let national = digits;
  const prefix = rules.nationalPrefix?.exec(digits);
  if (prefix && rules.nationalPrefix) {
    const groups = prefix.length - 1;
    const carrier = groups > 0 && Boolean(prefix[groups]);
    const stripped = carrier && rules.transform !== undefined ? digits.replace(rules.nationalPrefix, rules.transform) : digits.slice(prefix[0].length);
    if (stripped !== digits) {
      const general = rules.start.check.general;
      const keep =
        (general.test(digits) && !general.test(stripped)) ||
        (rules.start.lengths !== undefined && !possibleLength(pickedPlan(rules, stripped).lengths, stripped.length));
      if (!keep) national = stripped;
    }
  }
  if (national.length < 2 || national.length > 17) return undefined;
  return validFrom(rules, national) ? `+${home}${national}` : null;
}
