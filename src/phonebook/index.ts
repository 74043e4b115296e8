/**
 * The in-memory number index: from every number of every contact (see number-fields.ts) to the contacts
 * carrying it. Lookups are synchronous, touch no network, and cost a constant number of map reads (one per
 * key kind, at most three). Matching rules: docs/phonebook.md.
 *
 * Compactness (100,000 contacts in well under 100 MB): each contact is held once, as one compact string
 * (compact-contact.ts) decoded only when it matches. Every number a contact carries gets an integer id; per
 * number id, typed arrays hold its contact, the rank of its field and how it was written. The maps go from
 * integer keys (E.164 digits, last 8 digits) or short-number text to number ids, never to objects.
 */
import type { Contact, ContactSummary, PhonebookContact } from '../core/event.js';
import type { PbxContact, PbxCustomField, PbxExtension } from '../core/ports.js';
import { TimeSlice } from '../core/time-slice.js';
import {
  extractDigits,
  fromOf,
  readWritten,
  tailMayMatch,
  type CountryCode,
} from '../core/phone-number.js';
import { decodeContact, encodeContact } from './compact-contact.js';
import { EntryStore, NumberKeyMap, resized, type Refs } from './compact-store.js';
import { NumberFieldClassifier } from './number-fields.js';
import { freeBuffers } from './release-memory.js';
import { ExpiringMap } from '../store/expiring-map.js';
import { EXPLICIT, matchOf, RANK_BITS, TAIL_PENALTY, toReading, topByScore, VALID, WHOLE, type Reading } from './ranking.js';

export { comparePhonebookIds } from './ranking.js';

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
/** Distinct caller strings whose lookup result an index keeps (the oldest goes first when full). */
export const LOOKUP_CACHE_SIZE = 10_000;
/** Longer caller strings (no real number is) are looked up every time, so the cache stays small. */
const MAX_CACHED_RAW_LENGTH = 64;
/**
 * Distinct written numbers whose reading a build keeps (then starts over): enough for a company's switchboard
 * repeated across its staff. Small, so that its readings die young: 20,000 of them outlived the young
 * generation, and each generation of the cache was tens of MB of old-space garbage per refresh.
 */
const BUILD_CACHE_SIZE = 1_000;

/** What addRef needs of a key map: NumberKeyMap, or a Map for short numbers. */
interface KeyMap<K> {
  get(key: K): Refs | undefined;
  set(key: K, refs: Refs): void;
}

export class PhonebookIndex {
  /** Raw caller string -> result; cleared when a contact is added. */
  /** Repeat callers; bounded, oldest first out (src/store/expiring-map.ts: a Map trimmed from the front slows down). */
  private readonly cache = new ExpiringMap<PhonebookMatch>({ maxKeys: LOOKUP_CACHE_SIZE });
  private readonly fields: NumberFieldClassifier;

  /** One compact string per contact, and its phonebookId (compared on ties without decoding). */
  private readonly entries = new EntryStore();
  private readonly ids: string[] = [];

  /** Per number id: its contact, its info bits, its country calling code. Grown by doubling. */
  private numContact = new Int32Array(1024);
  private numInfo = new Uint8Array(1024);
  private numCc = new Uint16Array(1024);
  private numbers = 0;

  private readonly exact: NumberKeyMap;
  private readonly tails: NumberKeyMap;
  private readonly shorts = new Map<string, Refs>();

  private wasReleased = false;

  /** Only while building: each distinct written number is parsed once (a company's switchboard repeats). */
  private buildCache: Map<string, Reading> | null = null;

  private constructor(
    private readonly country: CountryCode,
    readonly extensions: readonly PbxExtension[],
    readonly customFields: readonly PbxCustomField[],
    private readonly extensionNumbers: ReadonlySet<string>,
    expectedContacts = 0,
  ) {
    this.fields = new NumberFieldClassifier(customFields);
    // About two numbers per contact (phone and cell), each under one E.164 and one last-digits key.
    this.exact = new NumberKeyMap(expectedContacts * 2);
    this.tails = new NumberKeyMap(expectedContacts * 2);
  }

  static empty(country: CountryCode): PhonebookIndex {
    return new PhonebookIndex(country, [], [], new Set());
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
    const index = PhonebookIndex.builder(extensions, customFields, country, contacts.length);
    await index.addMany(contacts, opts);
    index.finishBuild();
    return index;
  }

  /**
   * An empty index to fill with addMany (e.g. chunk by chunk from the snapshot), then finishBuild.
   * `expectedContacts` sizes its maps up front, so that they never rehash 100,000 contacts' keys in one go.
   */
  static builder(
    extensions: readonly PbxExtension[],
    customFields: readonly PbxCustomField[],
    country: CountryCode,
    expectedContacts = 0,
  ): PhonebookIndex {
    const numbers = new Set<string>();
    for (const e of extensions) {
      const n = e.number.trim();
      if (n) numbers.add(n);
    }
    const index = new PhonebookIndex(country, extensions, customFields, numbers, expectedContacts);
    index.buildCache = new Map();
    return index;
  }

  /** Adds contacts in slices (see build). */
  addMany(contacts: readonly PhonebookContact[], opts: BuildOptions = {}): Promise<void> {
    return this.addManyOf(contacts, (c) => c, opts);
  }

  /**
   * Adds what `toContact` makes of each item, one at a time, in slices (see build). A contact object then
   * lives only while it is added: a batch of them made first outlived young collections across the
   * slices, V8 then allocated every later one straight in the old generation (allocation-site
   * pretenuring), and each snapshot reload left ~30 MB there for a full collection to find.
   */
  async addManyOf<T>(items: readonly T[], toContact: (item: T) => PhonebookContact | null, opts: BuildOptions = {}): Promise<void> {
    const slice = new TimeSlice(opts.sliceMs);
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const contact = item === undefined ? null : toContact(item);
      if (contact !== null) this.addOne(contact);
      // The clock after every contact: one costs ~20 µs warm, but milliseconds while libphonenumber is cold
      // (its patterns are compiled on first use), and 16 of them in a row blocked for 90 ms.
      if (slice.due()) await slice.yield();
    }
  }

  /** Drops what only the build needed and trims the per-number arrays to size. */
  finishBuild(): void {
    this.buildCache = null;
    this.entries.trim();
    const untrimmed = [this.numContact.buffer, this.numInfo.buffer, this.numCc.buffer];
    const size = Math.max(this.numbers, 16);
    this.numContact = resized(this.numContact, size);
    this.numInfo = resized(this.numInfo, size);
    this.numCc = resized(this.numCc, size);
    freeBuffers(untrimmed);
  }

  /**
   * Frees the index's buffers now, once a newer index has replaced it (release-memory.ts): it is empty
   * afterwards. Only for an index nothing looks up any more.
   */
  release(): void {
    this.wasReleased = true;
    const buffers = [...this.entries.release(), ...this.exact.release(), ...this.tails.release(), this.numContact.buffer, this.numInfo.buffer, this.numCc.buffer];
    this.numContact = new Int32Array(16);
    this.numInfo = new Uint8Array(16);
    this.numCc = new Uint16Array(16);
    this.numbers = 0;
    this.ids.length = 0;
    this.shorts.clear();
    this.cache.clear();
    freeBuffers(buffers);
  }

  /** True once release() ran: whatever is read from it now is empty, not the phonebook. */
  get released(): boolean {
    return this.wasReleased;
  }

  /** Adds one contact to a live index (a contact just created): callers see it from the next lookup. */
  add(contact: PhonebookContact): void {
    this.addOne(contact);
    this.cache.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  /** Number of distinct keys (for status and measurements). */
  get keyCount(): number {
    return this.exact.size + this.tails.size + this.shorts.size;
  }

  /** The compact entries, in order (for the shared snapshot). */
  entriesSlice(start: number, end: number): string[] {
    const out: string[] = [];
    for (let i = start; i < Math.min(end, this.entries.size); i++) out.push(this.entries.get(i));
    return out;
  }

  /** True when the number is one of the tenant's extensions (the call is then internal). */
  isExtension(number: string): boolean {
    const { plus, digits } = extractDigits(number);
    return !plus && digits !== '' && this.extensionNumbers.has(digits);
  }

  /**
   * True when the index holds this contact already: the same phonebookId, or (for a contact whose id the
   * PBX did not give) the same first and last name on one of its numbers.
   */
  holds(contact: PhonebookContact): boolean {
    for (const { value } of this.fields.numbersOf(contact)) {
      const r = this.read(value);
      const found = (refs: Refs | undefined): boolean => {
        if (refs === undefined) return false;
        for (const ref of typeof refs === 'number' ? [refs] : refs) {
          const i = this.numContact[ref] ?? -1;
          if (contact.phonebookId !== '' && this.ids[i] === contact.phonebookId) return true;
          if (contact.phonebookId === '' || this.ids[i] === '') {
            const other = decodeContact(this.entries.get(i));
            if (other && other.firstName === contact.firstName && other.lastName === contact.lastName) return true;
          }
        }
        return false;
      };
      if (r.exactKey !== null && found(this.exact.get(r.exactKey))) return true;
      if (r.tailKey !== null && found(this.tails.get(r.tailKey))) return true;
      if (r.shortKey !== null && found(this.shorts.get(r.shortKey))) return true;
    }
    return false;
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
      this.cache.set(raw, match, null);
    }
    // A copy per caller: the cached result itself is never handed out.
    return { from: match.from, contact: match.contact, otherContacts: match.otherContacts.slice() };
  }

  // --- building ------------------------------------------------------------------------------------------

  private addOne(contact: PhonebookContact): void {
    const contactIndex = this.entries.size;
    this.entries.push(encodeContact(contact));
    this.ids.push(contact.phonebookId);
    for (const { value, rank } of this.fields.numbersOf(contact)) {
      const r = this.read(value);
      const info = rank | (r.valid ? VALID : 0) | (r.explicit ? EXPLICIT : 0) | (r.whole ? WHOLE : 0);
      const id = this.addNumber(contactIndex, info, r.callingCode);
      if (r.exactKey !== null) this.addRef(this.exact, r.exactKey, id);
      if (r.tailKey !== null) this.addRef(this.tails, r.tailKey, id);
      if (r.shortKey !== null) this.addRef(this.shorts, r.shortKey, id);
    }
  }

  private read(value: string): Reading {
    const { plus, digits } = extractDigits(value);
    const cacheKey = plus ? `+${digits}` : digits;
    const cached = this.buildCache?.get(cacheKey);
    if (cached !== undefined) return cached;
    const reading = toReading(readWritten(plus, digits, this.country));
    if (this.buildCache) {
      if (this.buildCache.size >= BUILD_CACHE_SIZE) this.buildCache.clear();
      this.buildCache.set(cacheKey, reading);
    }
    return reading;
  }

  private addNumber(contactIndex: number, info: number, callingCode: number): number {
    if (this.numbers === this.numContact.length) {
      const outgrown = [this.numContact.buffer, this.numInfo.buffer, this.numCc.buffer];
      this.numContact = resized(this.numContact, this.numbers * 2);
      this.numInfo = resized(this.numInfo, this.numbers * 2);
      this.numCc = resized(this.numCc, this.numbers * 2);
      freeBuffers(outgrown); // at once: a full collection would be needed to find them dead
    }
    const id = this.numbers++;
    this.numContact[id] = contactIndex;
    this.numInfo[id] = info;
    this.numCc[id] = callingCode;
    return id;
  }

  /**
   * Adds a number id under a key. The same contact's number again under the same key, written the same way
   * (phone and cell alike), is kept once: the first, from the better-ranked field.
   */
  private addRef<K>(map: KeyMap<K>, key: K, id: number): void {
    const existing = map.get(key);
    if (existing === undefined) {
      map.set(key, id);
      return;
    }
    const last = typeof existing === 'number' ? existing : existing[existing.length - 1];
    if (
      last !== undefined &&
      this.numContact[last] === this.numContact[id] &&
      ((this.numInfo[last] ?? 0) & ~RANK_BITS) === ((this.numInfo[id] ?? 0) & ~RANK_BITS) &&
      this.numCc[last] === this.numCc[id]
    ) {
      return;
    }
    if (typeof existing === 'number') map.set(key, [existing, id]);
    else existing.push(id);
  }

  // --- lookups -------------------------------------------------------------------------------------------

  /** Each number's contact under a key, with its best score so far (a method, not a closure per lookup). */
  private collect(scores: Map<number, number>, r: Reading, refs: Refs | undefined, penalty: number, checkTail: boolean): void {
    if (refs === undefined) return;
    if (typeof refs === 'number') {
      this.score(scores, r, refs, penalty, checkTail);
      return;
    }
    for (const ref of refs) this.score(scores, r, ref, penalty, checkTail);
  }

  private score(scores: Map<number, number>, r: Reading, ref: number, penalty: number, checkTail: boolean): void {
    const info = this.numInfo[ref] ?? 0;
    let base = penalty;
    if (checkTail) {
      if (!tailMayMatch(r, { valid: (info & VALID) !== 0, explicit: (info & EXPLICIT) !== 0, callingCode: this.numCc[ref] ?? 0 })) return;
      if (r.whole && (info & WHOLE) !== 0) base = 0;
    }
    const contactIndex = this.numContact[ref] ?? -1;
    const score = base + (info & RANK_BITS);
    const prev = scores.get(contactIndex);
    if (prev === undefined || score < prev) scores.set(contactIndex, score);
  }

  private lookupUncached(raw: string): PhonebookMatch {
    const { plus, digits } = extractDigits(raw);
    // An extension of the tenant stays as dialled: "1001103" must not turn into some country's E.164.
    const isExt = !plus && digits !== '' && this.extensionNumbers.has(digits);
    const n = isExt ? { plus, digits, e164: null, explicit: false, callingCode: 0 } : readWritten(plus, digits, this.country);
    const from = fromOf(raw, n);
    if (digits === '') return { from, contact: null, otherContacts: [] };
    const r = toReading(n);

    const scores = new Map<number, number>();
    if (r.exactKey !== null) this.collect(scores, r, this.exact.get(r.exactKey), 0, false);
    if (r.tailKey !== null) this.collect(scores, r, this.tails.get(r.tailKey), TAIL_PENALTY, true);
    if (r.shortKey !== null) this.collect(scores, r, this.shorts.get(r.shortKey), 0, false);
    if (scores.size === 0) return { from, contact: null, otherContacts: [] };

    const best: Contact[] = [];
    for (const { index, score } of topByScore(scores, this.ids, MAX_OTHER_CONTACTS + 1)) {
      const c = decodeContact(this.entries.get(index));
      // match goes last, as a spread would put it, without copying the freshly decoded contact.
      if (c) best.push(Object.assign(c, { match: matchOf(score) }));
    }
    const [first, ...others] = best;
    return {
      from,
      contact: first ?? null,
      otherContacts: others.map((c) => ({ phonebookId: c.phonebookId, displayName: c.displayName, match: c.match })),
    };
  }
}
