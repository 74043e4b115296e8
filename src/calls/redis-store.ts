/**
 * The tracker's calls in Redis: one hash per session (`v` version, `json` document) written only by a Lua
 * compare-and-set, a set of the sessions not yet done, and short-lived grouping keys. Events noted on the
 * ringing path are fields of their own in the same hash (`e:<event id>`), beside the document, so noting one
 * is a single HSET: no read, no rewrite of the document, no version.
 */
import type { Redis } from 'ioredis';
import type { EventType } from '../core/event.js';
import type { AppendNote } from '../core/ports.js';
import { defineLuaScript } from '../store/lua.js';
import type { CallSession, SentEvent } from './model.js';
import { dueAt, withNotes, type CallStateStore, type VersionedSession } from './store.js';

const NOTE_PREFIX = 'e:';

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
 * KEYS: group key, candidate's session hash, due index. ARGV: candidate id, group ttl ms, stale id ('' for
 * none), candidate json, session ttl ms. Claims the key and writes the candidate as version 1 together.
 */
const CLAIM_SCRIPT = defineLuaScript(
  'hbCallGroupClaim',
  `
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[3] then return cur end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], 'v', 1, 'json', ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  redis.call('ZADD', KEYS[3], 0, ARGV[1])
end
return ARGV[1]`,
  3,
);

/** KEYS: session hash. ARGV: field (`e:<id>`), note json. Only on a session that exists (it has its ttl). */
const NOTE_SCRIPT = defineLuaScript(
  'hbCallSessionNote',
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`,
  1,
);

function noteJson(event: Omit<SentEvent, 'id'>): string {
  return JSON.stringify({ type: event.type, extension: event.extension, timestamp: event.timestamp });
}

/** A session's document outlives the call long enough for late lookups (the recording may take an hour). */
const SESSION_TTL_MS = 8 * 24 * 3600 * 1000;

export class RedisCallStateStore implements CallStateStore {
  private readonly dueKey: string;
  private readonly recordingsKey: string;

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
    const session = JSON.parse(json) as CallSession;
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
    for (const id of sessionIds) pipeline.hmget(this.sessionKey(id), 'v', 'json');
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, reply]) => {
      if (err) throw err;
      const [v, json] = reply as Array<string | null>;
      return v && json ? { session: JSON.parse(json) as CallSession, version: Number(v) } : null;
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

  async due(now: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.dueKey, '-inf', String(now));
  }

  async counts(): Promise<{ active: number; recordingsPending: number }> {
    const [active, recordingsPending] = await Promise.all([this.redis.zcard(this.dueKey), this.redis.scard(this.recordingsKey)]);
    return { active, recordingsPending };
  }

  async openCount(): Promise<number> {
    return this.redis.zcount(this.dueKey, 0, 0);
  }

  async claimGroup(key: string, candidate: CallSession, ttlMs: number, stale: string | null): Promise<string> {
    const r = await CLAIM_SCRIPT.run(
      this.redis,
      [`${this.prefix}calls:group:${key}`, this.sessionKey(candidate.sessionId), this.dueKey],
      [candidate.sessionId, String(Math.max(1, ttlMs)), stale ?? '', JSON.stringify(candidate), String(SESSION_TTL_MS)],
    );
    return String(r);
  }

  async group(key: string): Promise<string | null> {
    return this.redis.get(`${this.prefix}calls:group:${key}`);
  }

  async noteEvent(sessionId: string, event: SentEvent): Promise<void> {
    await NOTE_SCRIPT.run(this.redis, [this.sessionKey(sessionId)], [NOTE_PREFIX + event.id, noteJson(event)]);
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
