/**
 * One activeCalls listing, read once per poll (docs/calls.md, "Cost"): each row's caller is normalized once
 * and the rows are indexed by their callers' keys, so finding one open call's rows is a few map lookups
 * instead of normalizing every row again for every open call (200 calls x 600 rows was 240,000 number
 * parses a second).
 */
import type { CountryCode } from '../core/phone-number.js';
import type { PbxActiveCall } from '../core/ports.js';
import { readCaller, sameReadCaller, type ReadCaller } from './numbers.js';

/** Callers read before, kept across polls (an open call is polled every round); cleared past this many. */
const MAX_CACHED_CALLERS = 10_000;

export class CallerCache {
  private readonly cache = new Map<string, ReadCaller>();
  constructor(private readonly country: CountryCode) {}

  read(raw: string): ReadCaller {
    let r = this.cache.get(raw);
    if (r === undefined) {
      if (this.cache.size >= MAX_CACHED_CALLERS) this.cache.clear();
      r = readCaller(raw, this.country);
      this.cache.set(raw, r);
    }
    return r;
  }
}

export class ActiveCallIndex {
  private readonly callers: ReadCaller[];
  /** Text and keys -> indexes of the rows whose caller has it, ascending. */
  private readonly byKey = new Map<string, number[]>();

  constructor(
    private readonly rows: readonly PbxActiveCall[],
    callers: CallerCache,
  ) {
    this.callers = rows.map((r) => callers.read(r.callerNumber));
    this.callers.forEach((c, i) => {
      for (const k of [`text:${c.text}`, ...c.keys]) {
        const list = this.byKey.get(k);
        if (list === undefined) this.byKey.set(k, [i]);
        else if (list[list.length - 1] !== i) list.push(i);
      }
    });
  }

  /** The rows of this caller, in listing order: the rows sameNumber() matches, found by key. */
  rowsOf(caller: ReadCaller): PbxActiveCall[] {
    const found = new Set<number>();
    for (const k of [`text:${caller.text}`, ...caller.keys]) for (const i of this.byKey.get(k) ?? []) found.add(i);
    if (found.size === 0) return [];
    const out: PbxActiveCall[] = [];
    for (const i of [...found].sort((a, b) => a - b)) {
      const row = this.rows[i];
      const c = this.callers[i];
      if (row !== undefined && c !== undefined && sameReadCaller(c, caller)) out.push(row);
    }
    return out;
  }
}
