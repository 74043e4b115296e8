/**
 * The tracker's calls in Redis: one hash per session (`v` version, `json` document) written only by a Lua
 * compare-and-set, a set of the sessions not yet done, and short-lived grouping keys. Events noted on the
 * ringing path are fields of their own in the same hash (`e:<event id>`), beside the document, so noting one
 * is a single HSET: no read, no rewrite of the document, no version. So is `a`, noteUnlisted's flag.
 */
import type { Redis } from 'ioredis';
import type { EventType } from '../core/event.js';
import type { AppendClaim, AppendNote } from '../core/ports.js';
import { defineLuaScript } from '../store/lua.js';
import type { CallSession, SentEvent } from './model.js';
import { dueAt, withNotes, withUnlisted, type CallStateStore, type VersionedSession } from './store.js';

const NOTE_PREFIX = 'e:';
/** The hash field noteUnlisted sets: read as observed.absentBeforeSeen. */
const UNLISTED_FIELD = 'a';

/**
 * KEYS: session hash, due index (zset), recordings set. ARGV: expected version, session json, due time (''
 * when done), id, ttl ms, 1 when it waits for a recording.
 */
const CAS_SCRIPT = defineLuaScript(
  'hbCallSessionCas',
  `
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', v + 1, 'json', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if ARGV[3] == '' then redis.call('ZREM', KEYS[2], ARGV[4]) else redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4]) end
if ARGV[6] == '1' then redis.call('SADD', KEYS[3], ARGV[4]) else redis.call('SREM', KEYS[3], ARGV[4]) end
return 1`,
  3,
);

/**
 * Claims a batch (the claims of one loop turn) in one call, in order, each as its own atomic step would.
 * Per claim i: KEYS[3i + 1] group key, KEYS[3i + 2] candidate's session hash, KEYS[3i + 3] due index;
 * ARGV[5i + 1..5] candidate id, group ttl ms, stale id ('' for none), candidate json, session ttl ms.
 * Claims the key and writes the candidate as version 1 together; answers per claim the group's session id.
 */
const CLAIM_SCRIPT = defineLuaScript(
  'hbCallGroupClaimBatch',
  `
local out = {}
for i = 0, #KEYS / 3 - 1 do
  local k = i * 3
  local a = i * 5
  local cur = redis.call('GET', KEYS[k + 1])
  if cur and cur ~= ARGV[a + 3] then
    out[#out + 1] = cur
  else
    redis.call('SET', KEYS[k + 1], ARGV[a + 1], 'PX', ARGV[a + 2])
    if redis.call('EXISTS', KEYS[k + 2]) == 0 then
      redis.call('HSET', KEYS[k + 2], 'v', 1, 'json', ARGV[a + 4])
      redis.call('PEXPIRE', KEYS[k + 2], ARGV[a + 5])
      redis.call('ZADD', KEYS[k + 3], 0, ARGV[a + 1])
    end
    out[#out + 1] = ARGV[a + 1]
  end
end
return out`,
  undefined,
  { batchesItself: true },
);

/** The most claims sent in one script call; more in one loop turn go in further calls. */
const MAX_CLAIM_BATCH = 128;

interface QueuedClaim {
  keys: [string, string, string];
  args: [string, string, string, string, string];
  resolve: (sessionId: string) => void;
  reject: (err: unknown) => void;
}

/** KEYS: session hash. ARGV: field (`e:<id>`), note json. Only on a session that exists (it has its ttl). */
const NOTE_SCRIPT = defineLuaScript(
  'hbCallSessionNote',
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`,
  1,
);

/** KEYS: session hashes. Sets the unlisted flag on each that exists (one call for a whole poll round). */
const UNLISTED_SCRIPT = defineLuaScript(
  'hbCallSessionUnlisted',
  `
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('HSET', key, '${UNLISTED_FIELD}', '1') end
end
return 1`,
  undefined,
  { batchesItself: true },
);

/** A stored document with the unlisted flag folded in. */
function sessionOf(json: string, unlisted: string | null | undefined): CallSession {
  return withUnlisted(JSON.parse(json) as CallSession, unlisted === '1');
}

function noteJson(event: Omit<SentEvent, 'id'>): string {
  return JSON.stringify({ type: event.type, extension: event.extension, timestamp: event.timestamp });
}

/** A session's document outlives the call long enough for late lookups (the recording may take an hour). */
const SESSION_TTL_MS = 8 * 24 * 3600 * 1000;

export class RedisCallStateStore implements CallStateStore {
  private readonly dueKey: string;
  private readonly recordingsKey: string;
  /** Where the last limited due() stopped, as an offset into the due index (rounds take turns). */
  private dueOffset = 0;
  /** Claims of this loop turn, sent together from setImmediate (see claimGroup). */
  private claims: QueuedClaim[] = [];

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.dueKey = `${prefix}calls:due`;
    this.recordingsKey = `${prefix}calls:recordings-pending`;
  }

  private sessionKey(id: string): string {
    return `${this.prefix}calls:session:${id}`;
  }

  async read(sessionId: string): Promise<VersionedSession | null> {
    const fields = await this.redis.hgetall(this.sessionKey(sessionId));
    const v = fields['v'];
    const json = fields['json'];
    if (!v || !json) return null;
    const session = sessionOf(json, fields[UNLISTED_FIELD]);
    const notes: SentEvent[] = [];
    for (const [name, value] of Object.entries(fields)) {
      if (!name.startsWith(NOTE_PREFIX)) continue;
      const n = JSON.parse(value) as { type: EventType; extension: string; timestamp: string };
      notes.push({ id: name.slice(NOTE_PREFIX.length), type: n.type, extension: n.extension, timestamp: n.timestamp });
    }
    return { session: notes.length > 0 ? withNotes(session, notes) : session, version: Number(v) };
  }

  async readMany(sessionIds: readonly string[]): Promise<Array<VersionedSession | null>> {
    if (sessionIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of sessionIds) pipeline.hmget(this.sessionKey(id), 'v', 'json', UNLISTED_FIELD);
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, reply]) => {
      if (err) throw err;
      const [v, json, unlisted] = reply as Array<string | null>;
      return v && json ? { session: sessionOf(json, unlisted), version: Number(v) } : null;
    });
  }

  async compareAndSet(session: CallSession, expected: number): Promise<boolean> {
    const due = dueAt(session);
    const r = await CAS_SCRIPT.run(
      this.redis,
      [this.sessionKey(session.sessionId), this.dueKey, this.recordingsKey],
      [
        String(expected),
        JSON.stringify(session),
        due === null ? '' : String(due),
        session.sessionId,
        String(SESSION_TTL_MS),
        session.phase === 'completed' ? '1' : '0',
      ],
    );
    return r === 1;
  }

  async remove(sessionId: string): Promise<void> {
    await this.redis.multi().del(this.sessionKey(sessionId)).zrem(this.dueKey, sessionId).srem(this.recordingsKey, sessionId).exec();
  }

  async due(now: number, limit = Infinity): Promise<string[]> {
    if (!Number.isFinite(limit)) return this.redis.zrangebyscore(this.dueKey, '-inf', String(now));
    // Turns by offset (this instance's own: a new lease holder starts from the first), from the first again
    // once past the end; a session is answered once per call even when fewer than `limit` are due.
    const from = this.dueOffset;
    const ids = await this.redis.zrangebyscore(this.dueKey, '-inf', String(now), 'LIMIT', from, limit);
    if (ids.length === limit) {
      this.dueOffset = from + limit;
    } else if (from === 0) {
      this.dueOffset = 0;
    } else {
      const answered = new Set(ids);
      const fromStart = await this.redis.zrangebyscore(this.dueKey, '-inf', String(now), 'LIMIT', 0, limit - ids.length);
      const more = fromStart.filter((id) => !answered.has(id));
      this.dueOffset = more.length;
      ids.push(...more);
    }
    return ids;
  }

  async counts(): Promise<{ active: number; recordingsPending: number }> {
    const [active, recordingsPending] = await Promise.all([this.redis.zcard(this.dueKey), this.redis.scard(this.recordingsKey)]);
    return { active, recordingsPending };
  }

  async openCount(): Promise<number> {
    return this.redis.zcount(this.dueKey, 0, 0);
  }

  /**
   * Claims made in one turn of the event loop (the callbacks read in one poll) go to Redis as one script
   * call: one command, one write and one reply instead of one each; each still claims on its own.
   */
  claimGroup(key: string, candidate: CallSession, ttlMs: number, stale: string | null): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.claims.push({
        keys: [`${this.prefix}calls:group:${key}`, this.sessionKey(candidate.sessionId), this.dueKey],
        args: [candidate.sessionId, String(Math.max(1, ttlMs)), stale ?? '', JSON.stringify(candidate), String(SESSION_TTL_MS)],
        resolve,
        reject,
      });
      if (this.claims.length === 1) setImmediate(() => this.sendClaims());
    });
  }

  /** The same claim, for the event log's append script to make with the call's first event. */
  claimForAppend(key: string, candidate: CallSession, ttlMs: number, stale: string | null): AppendClaim {
    return {
      groupKey: `${this.prefix}calls:group:${key}`,
      owner: candidate.sessionId,
      groupTtlMs: Math.max(1, ttlMs),
      stale,
      recordKey: this.sessionKey(candidate.sessionId),
      recordJson: JSON.stringify(candidate),
      recordTtlMs: SESSION_TTL_MS,
      indexKey: this.dueKey,
    };
  }

  private sendClaims(): void {
    const all = this.claims;
    this.claims = [];
    for (let start = 0; start < all.length; start += MAX_CLAIM_BATCH) {
      const batch = all.slice(start, start + MAX_CLAIM_BATCH);
      const keys: string[] = [];
      const args: string[] = [];
      for (const c of batch) {
        keys.push(...c.keys);
        args.push(...c.args);
      }
      CLAIM_SCRIPT.run(this.redis, keys, args).then(
        (reply) => {
          if (!Array.isArray(reply) || reply.length !== batch.length) {
            const err = new Error('unexpected reply from the claim script');
            for (const c of batch) c.reject(err);
            return;
          }
          batch.forEach((c, i) => c.resolve(String(reply[i])));
        },
        (err: unknown) => {
          for (const c of batch) c.reject(err);
        },
      );
    }
  }

  async group(key: string): Promise<string | null> {
    return this.redis.get(`${this.prefix}calls:group:${key}`);
  }

  async noteEvent(sessionId: string, event: SentEvent): Promise<void> {
    await NOTE_SCRIPT.run(this.redis, [this.sessionKey(sessionId)], [NOTE_PREFIX + event.id, noteJson(event)]);
  }

  async noteUnlisted(sessionIds: readonly string[]): Promise<void> {
    if (sessionIds.length === 0) return;
    await UNLISTED_SCRIPT.run(this.redis, sessionIds.map((id) => this.sessionKey(id)), []);
  }

  /** The same field noteEvent writes, for the event log's append script to write once it has the id. */
  noteWithAppend(sessionId: string, event: Omit<SentEvent, 'id'>): AppendNote {
    return { key: this.sessionKey(sessionId), fieldPrefix: NOTE_PREFIX, value: noteJson(event) };
  }

  async getFlag(name: string): Promise<string | null> {
    return this.redis.get(`${this.prefix}calls:flag:${name}`);
  }

  async setFlag(name: string, value: string): Promise<void> {
    await this.redis.set(`${this.prefix}calls:flag:${name}`, value);
  }

  /** The connection belongs to the bridge's stores. */
  async close(): Promise<void> {}
}
