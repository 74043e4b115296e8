/**
 * The subscription store on Redis, shared by every instance:
 * - `<prefix>subs:known`: SET of extension numbers;
 * - `<prefix>subs:ext:<number>`: HASH, one field per ExtensionRecord field (the password sealed);
 * - `<prefix>subs:presence:<number>`: ZSET of instance ids with open agent sockets, scored by heartbeat expiry.
 * Intent changes and conditional outcomes are Lua scripts, so concurrent writers never lose each other's fields.
 */
import type { Redis } from 'ioredis';
import { defineLuaScript } from '../store/lua.js';
import { emptyRecord, SUBSCRIPTION_STATES, type ExtensionRecord, type PresenceReading, type RecordPatch, type RecordRaise, type SubscriptionState, type SubscriptionStore } from './store.js';

const SET_FIELDS = `
local set = cjson.decode(ARGV[1])
for k, v in pairs(set) do redis.call('hset', KEYS[1], k, v) end
local del = cjson.decode(ARGV[2])
for _, k in ipairs(del) do redis.call('hdel', KEYS[1], k) end
`;

/** KEYS: hash, known set. ARGV: set json, del json, raise json, create flag, extension, now. */
const UPDATE_SCRIPT = defineLuaScript(
  'hbSubscriptionUpdate',
  `
if redis.call('exists', KEYS[1]) == 0 then
  if ARGV[4] ~= '1' then return 0 end
  redis.call('hset', KEYS[1], 'state', 'unsubscribed', 'updatedAt', ARGV[6], 'rev', '0')
end
${SET_FIELDS}
local raise = cjson.decode(ARGV[3])
for k, v in pairs(raise) do
  local cur = tonumber(redis.call('hget', KEYS[1], k) or '0') or 0
  if tonumber(v) > cur then redis.call('hset', KEYS[1], k, v) end
end
redis.call('hincrby', KEYS[1], 'rev', 1)
redis.call('sadd', KEYS[2], ARGV[5])
return 1
`,
  2,
);

/** KEYS: hash. ARGV: set json, del json, expected rev. */
const COMMIT_SCRIPT = defineLuaScript(
  'hbSubscriptionCommit',
  `
local rev = redis.call('hget', KEYS[1], 'rev')
if (not rev) or rev ~= ARGV[3] then return 0 end
${SET_FIELDS}
return 1
`,
  1,
);

/** KEYS: presence zset. ARGV: now. Returns {live count, latest lapsed expiry or ''}. */
const TAKE_STALE_SCRIPT = defineLuaScript(
  'hbPresenceTakeStale',
  `
local stale = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1], 'WITHSCORES')
local best = ''
local bestN = -1
for i = 2, #stale, 2 do
  local n = tonumber(stale[i])
  if n > bestN then bestN = n; best = stale[i] end
end
if #stale > 0 then redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1]) end
local live = redis.call('zcount', KEYS[1], '(' .. ARGV[1], '+inf')
return {live, best}
`,
  1,
);

function encodePatch(patch: RecordPatch): { set: Record<string, string>; del: string[] } {
  const set: Record<string, string> = {};
  const del: string[] = [];
  if (patch.admin !== undefined) set.admin = patch.admin ? '1' : '0';
  if (patch.secret !== undefined) {
    if (patch.secret === null) del.push('secret');
    else set.secret = patch.secret;
  }
  if (patch.state !== undefined) set.state = patch.state;
  if (patch.lastError !== undefined) {
    if (patch.lastError === null) del.push('lastError');
    else set.lastError = patch.lastError;
  }
  if (patch.nextRetryAt !== undefined) {
    if (patch.nextRetryAt === null) del.push('nextRetryAt');
    else set.nextRetryAt = String(patch.nextRetryAt);
  }
  if (patch.updatedAt !== undefined) set.updatedAt = String(patch.updatedAt);
  return { set, del };
}

/** cjson turns an empty Lua table into `{}`, and reads `[]` and `{}` alike: both are safe here. */
function json(value: object): string {
  return JSON.stringify(value);
}

function num(value: string | undefined): number {
  const n = Number(value ?? 0);
  return Number.isFinite(n) ? n : 0;
}

function decodeRecord(extension: string, h: Record<string, string>): ExtensionRecord {
  const base = emptyRecord(extension, 0);
  const state = SUBSCRIPTION_STATES.find((s) => s === h.state);
  return {
    ...base,
    admin: h.admin === '1',
    agentTokenExp: num(h.agentTokenExp),
    agentUntil: num(h.agentUntil),
    secret: h.secret ?? null,
    state: (state ?? 'unsubscribed') as SubscriptionState,
    lastError: h.lastError ?? null,
    nextRetryAt: h.nextRetryAt === undefined ? null : num(h.nextRetryAt),
    updatedAt: num(h.updatedAt),
    rev: num(h.rev),
  };
}

export class RedisSubscriptionStore implements SubscriptionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  private recordKey(extension: string): string {
    return `${this.prefix}subs:ext:${extension}`;
  }
  private presenceKey(extension: string): string {
    return `${this.prefix}subs:presence:${extension}`;
  }
  private get knownKey(): string {
    return `${this.prefix}subs:known`;
  }

  async get(extension: string): Promise<ExtensionRecord | null> {
    const h = await this.redis.hgetall(this.recordKey(extension));
    return Object.keys(h).length === 0 ? null : decodeRecord(extension, h);
  }

  async list(): Promise<string[]> {
    return this.redis.smembers(this.knownKey);
  }

  async update(extension: string, patch: RecordPatch, raise: RecordRaise = {}, create = true): Promise<boolean> {
    const { set, del } = encodePatch(patch);
    const raised: Record<string, string> = {};
    if (raise.agentTokenExp !== undefined) raised.agentTokenExp = String(raise.agentTokenExp);
    if (raise.agentUntil !== undefined) raised.agentUntil = String(raise.agentUntil);
    const r = await UPDATE_SCRIPT.run(
      this.redis,
      [this.recordKey(extension), this.knownKey],
      [json(set), json(del), json(raised), create ? '1' : '0', extension, String(this.now())],
    );
    return r === 1;
  }

  async commit(extension: string, rev: number, patch: RecordPatch): Promise<boolean> {
    const { set, del } = encodePatch(patch);
    const r = await COMMIT_SCRIPT.run(this.redis, [this.recordKey(extension)], [json(set), json(del), String(rev)]);
    return r === 1;
  }

  async touchPresence(instanceId: string, extensions: readonly string[], expiresAt: number): Promise<void> {
    if (extensions.length === 0) return;
    // The key itself outlives the heartbeat generously, so a dead instance's entry is still there for the
    // leader to notice (and start the grace period from), yet nothing lingers for ever.
    const keyTtlMs = Math.max(0, expiresAt - this.now()) * 4 + 600_000;
    const multi = this.redis.multi();
    for (const ext of extensions) {
      multi.zadd(this.presenceKey(ext), expiresAt, instanceId).pexpire(this.presenceKey(ext), keyTtlMs);
    }
    const results = (await multi.exec()) ?? [];
    for (const [err] of results) if (err) throw err;
  }

  async dropPresence(instanceId: string, extension: string): Promise<void> {
    await this.redis.zrem(this.presenceKey(extension), instanceId);
  }

  async readPresence(extension: string, now: number): Promise<PresenceReading> {
    const live = await this.redis.zcount(this.presenceKey(extension), `(${now}`, '+inf');
    return { present: live > 0, staleUntil: null };
  }

  async takeStalePresence(extension: string, now: number): Promise<PresenceReading> {
    const r = await TAKE_STALE_SCRIPT.run(this.redis, [this.presenceKey(extension)], [String(now)]);
    if (!Array.isArray(r)) return { present: false, staleUntil: null };
    const [live, stale] = r as [unknown, unknown];
    return {
      present: Number(live) > 0,
      staleUntil: typeof stale === 'string' && stale !== '' ? Number(stale) : null,
    };
  }
}
