/**
 * Where the tracker keeps its calls: the Redis form (any number of instances; a restart loses nothing) and
 * the memory form (one instance). Both offer one primitive for transitions, a compare-and-set on the whole
 * session, and `update` builds on it: read, change a copy, write only if nobody wrote in between, else retry.
 *
 * The ringing path writes once per callback (docs/performance.md): a new call is claimed and written in one
 * step, and the ringing event's id is then noted beside the document (`noteEvent`: no read, no version, no
 * retry), since nothing is decided by it; `read` folds the notes into `events`.
 */
import { compareEventIds } from '../core/event.js';
import type { AppendClaim, AppendNote } from '../core/ports.js';
import { ExpiringMap, flatString } from '../store/expiring-map.js';
import type { CallSession, SentEvent } from './model.js';
import { sessionOfRingingEvent } from './ringing-session.js';

export interface VersionedSession {
  session: CallSession;
  version: number;
}

export interface CallStateStore {
  /** True when the state is in this process (it answers or throws, it never hangs): no wait is timed. */
  readonly inProcess?: boolean;
  read(sessionId: string): Promise<VersionedSession | null>;
  /** read() of many sessions in one round trip (a poll round reads every due session). */
  readMany(sessionIds: readonly string[]): Promise<Array<VersionedSession | null>>;
  /**
   * Writes the session if its stored version is still `expected` (0: it must not exist yet), and files it
   * under when it next needs work (dueAt); a session that is `done` leaves that index. False when someone
   * else wrote first.
   */
  compareAndSet(session: CallSession, expected: number): Promise<boolean>;
  remove(sessionId: string): Promise<void>;
  /**
   * Sessions that need work by `now` (open calls always do), in no order, at most `limit` of them (default:
   * all). When more are due, successive calls take turns: each goes on after the ones the previous call
   * answered, so every due session comes up in time, and a round never lists every open call.
   */
  due(now: number, limit?: number): Promise<string[]>;
  /** Sessions not yet done, and of those the ones waiting for a recording. */
  counts(): Promise<{ active: number; recordingsPending: number }>;
  /** Sessions due at every poll: open calls (and any whose events are still to be sent). */
  openCount(): Promise<number>;
  /**
   * The session a grouping key points to; when none (or only `stale`), points it to `candidate` for ttlMs
   * and writes `candidate` as a new session, in the same atomic step: two instances opening one call at
   * once get the same answer, and a claimed key never points to a session not yet written.
   */
  claimGroup(key: string, candidate: CallSession, ttlMs: number, stale: string | null): Promise<string>;
  /** claimGroup as a claim the event log makes with the append (when log and store share one Redis). */
  claimForAppend?(key: string, candidate: CallSession, ttlMs: number, stale: string | null): AppendClaim;
  group(key: string): Promise<string | null>;
  /**
   * Notes an event of the session already in the event log, beside the session's document: one write, no
   * compare-and-set (it decides nothing), idempotent per event id; nothing when the session is gone. `read`
   * lists it in `events`, in the log's order.
   */
  noteEvent(sessionId: string, event: SentEvent): Promise<void>;
  /**
   * noteEvent for the ringing event of a session claimGroup has just created, with that event as the log
   * serialized it (AppendResult.json): an in-process store may keep the session as that event until it is
   * first rewritten, since the session is a function of it (src/calls/ringing-session.ts).
   */
  noteRinging?(sessionId: string, event: SentEvent, json: string): void;
  /** noteEvent as a note the event log writes with the append, when log and store share one Redis. */
  noteWithAppend?(sessionId: string, event: Omit<SentEvent, 'id'>): AppendNote;
  /**
   * Notes, for each of these sessions, that a successful poll listed no row of its call before any was seen
   * (`observed.absentBeforeSeen`): beside the document, as noteEvent does, with no rewrite and no version,
   * since the flag only ever turns on; `read` and `readMany` fold it in. Sessions that are gone are skipped.
   * A PBX that never lists ringing calls makes this every call's first judgement (docs/performance.md).
   */
  noteUnlisted(sessionIds: readonly string[]): Promise<void>;
  /** A small shared flag (what the PBX's listing was seen to show). */
  getFlag(name: string): Promise<string | null>;
  setFlag(name: string, value: string): Promise<void>;
  close(): Promise<void>;
}

const MAX_ATTEMPTS = 20;

/** When a session next needs work: open calls at every poll, later ones when their lookup is due. */
export function dueAt(s: CallSession): number | null {
  if (s.phase === 'done') return null;
  if (s.outbox.length > 0 || s.phase === 'open') return 0;
  if (s.phase === 'over') return s.callLog.nextAt;
  return s.recording?.nextAt ?? 0;
}

/** The session's events with the notes not yet in them, in the event log's order. */
export function withNotes(session: CallSession, notes: Iterable<SentEvent>): CallSession {
  let added = false;
  for (const n of notes) {
    if (session.events.some((e) => e.id === n.id)) continue;
    session.events.push(n);
    added = true;
  }
  // Stable: events already in order stay as they are; ids the log did not shape like stream ids stay put.
  if (added) session.events.sort((a, b) => compareEventIds(a.id, b.id));
  return session;
}

/** The session with noteUnlisted's flag folded in (it only ever turns on). */
export function withUnlisted(session: CallSession, unlisted: boolean): CallSession {
  if (unlisted) session.observed.absentBeforeSeen = true;
  return session;
}

/**
 * Applies `change` to the stored session atomically. `change` gets a fresh copy each attempt and returns
 * false when there is nothing to do. Answers the session as written, or null when nothing changed.
 */
export async function updateSession(
  store: CallStateStore,
  sessionId: string,
  change: (s: CallSession) => boolean,
): Promise<CallSession | null> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await store.read(sessionId);
    if (!current) return null;
    const copy = structuredClone(current.session);
    if (!change(copy)) return null;
    if (await store.compareAndSet(copy, current.version)) return copy;
  }
  throw new Error(`call session ${sessionId}: too many concurrent writers`);
}

/**
 * One session as the memory store keeps it (docs/performance.md, "Memory mode: what a call keeps"): UTF-8
 * JSON in a Buffer (every read is a fresh copy; the bytes live outside the JS heap, in Node's shared 8 KiB
 * pool slabs, so the collector neither copies nor compacts them: with tens of thousands of open calls a full
 * collection took a third of the time it took with the same documents as strings), its version, and the notes
 * not yet folded into it. One class, so every entry has the same shape; every field a reference or a small
 * integer, so an entry is one object for the collector (a time stamp in a field would be a boxed number more).
 *
 * The bytes are one of two things. A session's document (`start` -1), or, for a call opened by a ringing
 * callback and not rewritten since, a record in a slab shared with other such calls (`RingingSlabs`),
 * doc[start, end): when it rang (8 bytes, a float64), then that callback's event as the log serialized it. The
 * session is rebuilt from them on read, so the ringing path writes no document of its own (docs/performance.md,
 * "Memory mode: the cost of one callback"). Between claimGroup and the event's append the new session is
 * `pending`: the object itself, turned into a document if anyone reads or writes it first.
 */
class StoredSession {
  constructor(
    public doc: Buffer | null,
    public version: number,
    /** null while there are none: most sessions get one note, and an empty array would cost more than it. */
    public notes: SentEvent[] | null,
    /** The grouping key claimGroup pointed to this session: forgotten with it, not kept for its 12 h. */
    public groupKey: string | null = null,
    /** The new session claimGroup wrote, until its ringing event is appended (doc is null meanwhile). */
    public pending: CallSession | null = null,
    /** -1: doc is the session's document; else where its ringing record starts in doc, and `end` where it ends. */
    public start = -1,
    public end = 0,
    /** noteUnlisted: a poll listed no row of this call before any was seen (read sets absentBeforeSeen). */
    public unlisted = false,
  ) {}
}

/** Bytes of a ringing record before the event's JSON: when it rang, as a float64. */
const RINGING_AT_BYTES = 8;
const SLAB_BYTES = 16 * 1024;

/**
 * The ringing records, packed one after another into shared 16 KiB slabs: a Buffer of its own per call would
 * be one more heap object per open call (a slab is one per ~20 calls). A slab is freed once no session points
 * into it (each is rewritten as a document or removed); one session still ringing keeps its slab alive, as a
 * Buffer from Node's own pool keeps its 8 KiB.
 */
class RingingSlabs {
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private used = 0;

  /** Writes when it rang and the event's JSON, and points the entry to them. */
  put(e: StoredSession, ringingAt: number, json: string): void {
    const length = RINGING_AT_BYTES + Buffer.byteLength(json, 'utf8');
    let into = this.slab;
    let at = this.used;
    if (length > SLAB_BYTES / 4) {
      // An unusually large event (a contact with many fields): bytes of its own rather than a slab's tail.
      into = Buffer.allocUnsafe(length);
      at = 0;
    } else {
      if (length > SLAB_BYTES - this.used) {
        this.slab = into = Buffer.allocUnsafeSlow(SLAB_BYTES);
        this.used = at = 0;
      }
      this.used += length;
    }
    into.writeDoubleLE(ringingAt, at);
    into.write(json, at + RINGING_AT_BYTES, 'utf8');
    e.doc = into;
    e.start = at;
    e.end = at + length;
  }
}

/** A session as a document. JSON.stringify never leaves a lone surrogate, so the bytes read back to the same text. */
function documentOf(session: CallSession): Buffer {
  return Buffer.from(JSON.stringify(session), 'utf8');
}

export class MemoryCallStateStore implements CallStateStore {
  readonly inProcess = true;
  private readonly sessions = new Map<string, StoredSession>();
  /** Session id -> when it is next due; done sessions are not in it. */
  private readonly dueIndex = new Map<string, number>();
  private readonly recordingsPending = new Set<string>();
  /** Where the last limited due() stopped in dueIndex (rounds take turns). */
  private dueCursor: MapIterator<[string, number]> | null = null;
  /** Entries of dueIndex due at every poll (dueAt 0), kept as they change rather than counted. */
  private everyPoll = 0;
  /** Grouping key -> session id, for CALL_GROUP_WINDOW_S; bounded and swept like every in-process table. */
  private readonly groups: ExpiringMap<string>;
  private readonly flags = new Map<string, string>();
  private readonly ringingSlabs = new RingingSlabs();
  /** Finished sessions kept for lookups by id; the oldest go first. */
  private readonly maxSessions: number;

  constructor(opts: { maxSessions?: number; now?: () => number } = {}) {
    this.maxSessions = opts.maxSessions ?? 20_000;
    this.now = opts.now ?? Date.now;
    this.groups = new ExpiringMap<string>({ maxKeys: 100_000, now: this.now });
  }

  private readonly now: () => number;

  async read(sessionId: string): Promise<VersionedSession | null> {
    const e = this.sessions.get(sessionId);
    if (!e) return null;
    const session = this.decode(e);
    return { session: e.notes ? withNotes(session, e.notes) : session, version: e.version };
  }

  /** A fresh copy of the stored session, without the notes. */
  private decode(e: StoredSession): CallSession {
    if (e.pending !== null) {
      // Read before its event was appended (another leg of the call, at once): from now on a document.
      e.doc = documentOf(e.pending);
      e.pending = null;
    }
    const doc = e.doc as Buffer;
    const session =
      e.start >= 0
        ? sessionOfRingingEvent(doc.toString('utf8', e.start + RINGING_AT_BYTES, e.end), doc.readDoubleLE(e.start))
        : (JSON.parse(doc.toString('utf8')) as CallSession);
    return withUnlisted(session, e.unlisted);
  }

  async readMany(sessionIds: readonly string[]): Promise<Array<VersionedSession | null>> {
    return Promise.all(sessionIds.map((id) => this.read(id)));
  }

  async compareAndSet(session: CallSession, expected: number): Promise<boolean> {
    return this.write(session, expected);
  }

  /** compareAndSet without the promise: claimGroup writes a new call's session in the same step. */
  private write(session: CallSession, expected: number): boolean {
    const id = session.sessionId;
    const e = this.sessions.get(id);
    if ((e?.version ?? 0) !== expected) return false;
    if (e === undefined) {
      this.sessions.set(id, new StoredSession(documentOf(session), 1, null));
    } else {
      // Rewritten sessions move to the end: the oldest finished ones are evicted first.
      this.sessions.delete(id);
      e.doc = documentOf(session);
      e.pending = null;
      e.start = -1;
      e.version = expected + 1;
      // The notes stay beside the document until it is rewritten with them in it (read folds them into events).
      if (e.notes !== null) {
        const left = e.notes.filter((n) => !session.events.some((have) => have.id === n.id));
        e.notes = left.length > 0 ? left : null;
      }
      this.sessions.set(id, e);
    }
    this.indexWritten(id, session);
    return true;
  }

  /** The indexes of a session just written: when it is due, whether it waits for a recording, the bound. */
  private indexWritten(id: string, session: CallSession): void {
    this.setDue(id, dueAt(session));
    if (session.phase === 'completed') this.recordingsPending.add(id);
    else this.recordingsPending.delete(id);
    if (this.sessions.size > this.maxSessions) this.evictFinished();
  }

  /** Past maxSessions, the oldest sessions while they are finished (a session still due is never dropped). */
  private evictFinished(): void {
    for (const oldest of this.sessions.keys()) {
      if (this.sessions.size <= this.maxSessions || this.dueIndex.has(oldest)) return;
      this.forget(oldest);
    }
  }

  /** Drops a session, and its grouping key while that still points to it (a later claim would find it stale). */
  private forget(sessionId: string): void {
    const e = this.sessions.get(sessionId);
    if (!e) return;
    this.sessions.delete(sessionId);
    if (e.groupKey !== null && this.groups.get(e.groupKey) === sessionId) this.groups.delete(e.groupKey);
  }

  async remove(sessionId: string): Promise<void> {
    this.forget(sessionId);
    this.setDue(sessionId, null);
    this.recordingsPending.delete(sessionId);
  }

  private setDue(sessionId: string, due: number | null): void {
    if (this.dueIndex.get(sessionId) === 0) this.everyPoll--;
    if (due === null) this.dueIndex.delete(sessionId);
    else this.dueIndex.set(sessionId, due);
    if (due === 0) this.everyPoll++;
  }

  async openCount(): Promise<number> {
    return this.everyPoll;
  }

  async due(now: number, limit = Infinity): Promise<string[]> {
    // The due index holds every open call (tens of thousands in a flood): no array per entry, and no pass
    // over all of them for a limited read. A Map iterator stays valid while the Map changes (entries added
    // since come later, deleted ones are skipped), so it goes on where the previous call stopped.
    const ids: string[] = [];
    const size = this.dueIndex.size;
    let cursor = this.dueCursor ?? this.dueIndex.entries();
    for (let visited = 0; visited < size && ids.length < limit; visited++) {
      let next = cursor.next();
      if (next.done === true) {
        cursor = this.dueIndex.entries();
        next = cursor.next();
        if (next.done === true) break;
      }
      const [id, at] = next.value;
      if (at <= now) ids.push(id);
    }
    this.dueCursor = cursor;
    return ids;
  }

  async counts(): Promise<{ active: number; recordingsPending: number }> {
    return { active: this.dueIndex.size, recordingsPending: this.recordingsPending.size };
  }

  async claimGroup(key: string, candidate: CallSession, ttlMs: number, stale: string | null): Promise<string> {
    const held = this.groups.get(key);
    if (held !== undefined && held !== stale) return held;
    // One flat string for the map and the entry (a joined key is a chain of strings: src/store/expiring-map.ts).
    const flatKey = flatString(key);
    // Claimed and written in one synchronous step: a claim running alongside sees both.
    this.groups.set(flatKey, candidate.sessionId, ttlMs);
    if (this.sessions.has(candidate.sessionId)) {
      this.write(candidate, 0); // refused, as a compare-and-set on an existing session is
    } else {
      // Kept as the object until its ringing event is appended (noteRinging), or read or written before that.
      this.sessions.set(candidate.sessionId, new StoredSession(null, 1, null, flatKey, candidate));
      this.indexWritten(candidate.sessionId, candidate);
    }
    return candidate.sessionId;
  }

  async group(key: string): Promise<string | null> {
    return this.groups.get(key) ?? null;
  }

  async noteEvent(sessionId: string, event: SentEvent): Promise<void> {
    const e = this.sessions.get(sessionId);
    if (!e) return;
    const note: SentEvent = { id: event.id, type: event.type, extension: event.extension, timestamp: event.timestamp };
    if (e.notes === null) e.notes = [note];
    else if (!e.notes.some((n) => n.id === event.id)) e.notes.push(note);
  }

  async noteUnlisted(sessionIds: readonly string[]): Promise<void> {
    for (const id of sessionIds) {
      const e = this.sessions.get(id);
      if (e) e.unlisted = true;
    }
  }

  noteRinging(sessionId: string, event: SentEvent, json: string): void {
    const e = this.sessions.get(sessionId);
    // Still the session claimGroup wrote, as its ringing event says it (src/calls/ringing-session.ts):
    // the event's bytes stand for it. Anything else (read or written since, via hints) gets a plain note.
    if (e !== undefined && e.pending !== null && e.pending.viaHints === undefined && e.notes === null) {
      this.ringingSlabs.put(e, e.pending.startedAt, json);
      e.pending = null;
      return;
    }
    void this.noteEvent(sessionId, event);
  }

  async getFlag(name: string): Promise<string | null> {
    return this.flags.get(name) ?? null;
  }

  async setFlag(name: string, value: string): Promise<void> {
    this.flags.set(name, value);
  }

  async close(): Promise<void> {}
}
