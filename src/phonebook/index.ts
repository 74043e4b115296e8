/**
 * The in-memory number index: from every key of every number a contact carries (see core/phone-number.ts) to
 * the contacts carrying it. Lookups are synchronous and touch no network.
 *
 * Compactness: one Map from key to a "ref" number, or to an array of refs when several contacts share a key.
 * A ref packs the contact's position, the rank of the field the number came from and whether that number had
 * an E.164 form: ref = contactIndex * 8 + fieldRank * 2 + hasE164.
 */
import type { Contact, ContactSummary } from '../core/event.js';
import type { PbxContact, PbxCustomField, PbxExtension } from '../core/ports.js';
import { extractDigits, fromOf, keysOf, toE164, TAIL_DIGITS, type CountryCode } from '../core/phone-number.js';
import { NumberFieldClassifier } from './number-fields.js';

export interface PhonebookMatch {
  /** The caller as the event shows it (E.164 where readable, else the digits as received). */
  from: string;
  contact: Contact | null;
  /** Up to MAX_OTHER_CONTACTS more contacts carrying the same number, best first. */
  otherContacts: ContactSummary[];
}

export interface BuildOptions {
  /** Work done between two yields to the event loop, in ms. */
  sliceMs?: number;
}

export const MAX_OTHER_CONTACTS = 5;
const DEFAULT_SLICE_MS = 5;
/** How often (in contacts) the build looks at the clock. */
const CLOCK_CHECK_EVERY = 16;
/** Distinct caller strings whose lookup result an index keeps (the oldest goes first when full). */
export const LOOKUP_CACHE_SIZE = 10_000;
/** Longer caller strings (no real number is) are looked up every time, so the cache stays small. */
const MAX_CACHED_RAW_LENGTH = 64;
/** An exact (E.164 or short-number) match beats a last-digits match whatever the field. */
const TAIL_PENALTY = 8;

type Refs = number | number[];

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class PhonebookIndex {
  /**
   * Raw caller string -> result. Parsing the number (libphonenumber) is most of a lookup's cost and the same
   * callers ring again and again. The index never changes once built, so entries never go stale; a refresh
   * builds a new index, with an empty cache.
   */
  private readonly cache = new Map<string, PhonebookMatch>();

  private constructor(
    private readonly country: CountryCode,
    private readonly contacts: readonly Contact[],
    private readonly keys: Map<string, Refs>,
    private readonly extensions: ReadonlySet<string>,
  ) {}

  static empty(country: CountryCode): PhonebookIndex {
    return new PhonebookIndex(country, [], new Map(), new Set());
  }

  /**
   * Builds the index in slices of about `sliceMs`, yielding to the event loop between them, so that a large
   * phonebook never stalls callbacks and sockets for long.
   */
  static async build(
    contacts: readonly PbxContact[],
    extensions: readonly PbxExtension[],
    customFields: readonly PbxCustomField[],
    country: CountryCode,
    opts: BuildOptions = {},
  ): Promise<PhonebookIndex> {
    const sliceMs = opts.sliceMs ?? DEFAULT_SLICE_MS;
    const fields = new NumberFieldClassifier(customFields);
    const keys = new Map<string, Refs>();
    // Many contacts share numbers (a company's switchboard): parse each distinct number once per build.
    // Parsing (~20 us) is nearly all of the build's cost.
    const keyCache = new Map<string, { keys: string[]; hasE164: boolean }>();
    let sliceStart = performance.now();

    for (let i = 0; i < contacts.length; i++) {
      const contact = contacts[i];
      if (contact === undefined) continue;
      for (const { value, rank } of fields.numbersOf(contact)) {
        const { plus, digits } = extractDigits(value);
        const cacheKey = plus ? `+${digits}` : digits;
        let read = keyCache.get(cacheKey);
        if (read === undefined) {
          const e164 = toE164(plus, digits, country);
          read = { keys: keysOf({ plus, digits, e164 }), hasE164: e164 !== null };
          keyCache.set(cacheKey, read);
        }
        const ref = i * 8 + rank * 2 + (read.hasE164 ? 1 : 0);
        for (const key of read.keys) addRef(keys, key, ref);
      }
      if (i % CLOCK_CHECK_EVERY === 0 && performance.now() - sliceStart >= sliceMs) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }

    const extensionNumbers = new Set<string>();
    for (const e of extensions) {
      const n = e.number.trim();
      if (n) extensionNumbers.add(n);
    }
    return new PhonebookIndex(country, contacts, keys, extensionNumbers);
  }

  get size(): number {
    return this.contacts.length;
  }

  /** Number of distinct keys (for status and measurements). */
  get keyCount(): number {
    return this.keys.size;
  }

  /** True when the number is one of the tenant's extensions (the call is then internal). */
  isExtension(number: string): boolean {
    const { plus, digits } = extractDigits(number);
    return !plus && digits !== '' && this.extensions.has(digits);
  }

  /**
   * The best contact for a caller and up to 5 others carrying the same number. Order: exact (E.164 or short
   * number) before last-digits matches, then Phone/Cell before Extension before custom fields, then the lowest
   * phonebookId.
   */
  lookup(raw: string): PhonebookMatch {
    let match = this.cache.get(raw);
    if (match === undefined) {
      match = this.lookupUncached(raw);
      if (raw.length > MAX_CACHED_RAW_LENGTH) return match;
      if (this.cache.size >= LOOKUP_CACHE_SIZE) {
        const oldest = this.cache.keys().next();
        if (oldest.done !== true) this.cache.delete(oldest.value);
      }
      this.cache.set(raw, match);
    }
    // A copy per caller: the cached result itself is never handed out.
    return { from: match.from, contact: match.contact, otherContacts: match.otherContacts.slice() };
  }

  private lookupUncached(raw: string): PhonebookMatch {
    const { plus, digits } = extractDigits(raw);
    // An extension of the tenant stays as dialled: "1001103" must not turn into some country's E.164.
    const isExt = !plus && digits !== '' && this.extensions.has(digits);
    const n = { plus, digits, e164: isExt ? null : toE164(plus, digits, this.country) };
    const from = fromOf(raw, n);
    if (digits === '') return { from, contact: null, otherContacts: [] };

    const scores = new Map<number, number>();
    const collect = (refs: Refs | undefined, penalty: number, skipWithE164: boolean): void => {
      if (refs === undefined) return;
      for (const ref of typeof refs === 'number' ? [refs] : refs) {
        if (skipWithE164 && ref % 2 === 1) continue;
        const contactIndex = Math.floor(ref / 8);
        const score = penalty + ((ref % 8) >> 1);
        const prev = scores.get(contactIndex);
        if (prev === undefined || score < prev) scores.set(contactIndex, score);
      }
    };
    if (n.e164) collect(this.keys.get(`e:${n.e164}`), 0, false);
    if (digits.length >= TAIL_DIGITS) {
      // Two valid numbers with different E.164 forms are different numbers, whatever their last digits.
      collect(this.keys.get(`t:${digits.slice(-TAIL_DIGITS)}`), TAIL_PENALTY, n.e164 !== null);
    } else {
      collect(this.keys.get(`x:${digits}`), 0, false);
    }
    if (scores.size === 0) return { from, contact: null, otherContacts: [] };

    const best = this.topContacts(scores, MAX_OTHER_CONTACTS + 1);
    const [first, ...others] = best;
    return {
      from,
      contact: first ?? null,
      otherContacts: others.map((c) => ({ phonebookId: c.phonebookId, displayName: c.displayName })),
    };
  }

  /** The `limit` best contacts by score, then phonebookId; a partial selection, as a shared number may match thousands. */
  private topContacts(scores: Map<number, number>, limit: number): Contact[] {
    const top: { contact: Contact; score: number }[] = [];
    for (const [index, score] of scores) {
      const contact = this.contacts[index];
      if (contact === undefined) continue;
      const entry = { contact, score };
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
    return top.map((t) => t.contact);
  }
}

function addRef(keys: Map<string, Refs>, key: string, ref: number): void {
  const existing = keys.get(key);
  if (existing === undefined) {
    keys.set(key, ref);
    return;
  }
  const contactIndex = Math.floor(ref / 8);
  if (typeof existing === 'number') {
    // The same contact carrying the number twice (phone and cell): keep the better ref only.
    if (Math.floor(existing / 8) === contactIndex) keys.set(key, Math.min(existing, ref));
    else keys.set(key, [existing, ref]);
    return;
  }
  const last = existing[existing.length - 1];
  if (last !== undefined && Math.floor(last / 8) === contactIndex) existing[existing.length - 1] = Math.min(last, ref);
  else existing.push(ref);
}

function compareEntries(a: { contact: Contact; score: number }, b: { contact: Contact; score: number }): number {
  if (a.score !== b.score) return a.score - b.score;
  return comparePhonebookIds(a.contact.phonebookId, b.contact.phonebookId);
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
