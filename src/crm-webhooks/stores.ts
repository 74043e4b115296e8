/**
 * Endpoint and delivery-history stores, in Redis (shared by every instance) and in memory (one process).
 *
 * Redis keys (all under the instance prefix):
 * - `webhooks:endpoints`                   hash endpointId -> endpoint JSON
 * - `webhooks:deliveries:<endpointId>`     hash deliveryId -> delivery record JSON
 * - `webhooks:delivery-order:<endpointId>` sorted set of delivery ids by creation time; trimmed to the newest N
 */
import type { Redis } from 'ioredis';
import type { DeliveryRecord, DeliveryStatus, DeliveryStore, EndpointStore, WebhookEndpoint } from './types.js';
import { defineLuaScript } from '../store/lua.js';

export const DEFAULT_MAX_DELIVERIES_PER_ENDPOINT = 1000;

function parseJson<T>(raw: string | null | undefined): T | null {
  if (!raw) return null;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return null;
  }
}

export class MemoryEndpointStore implements EndpointStore {
  private readonly endpoints = new Map<string, WebhookEndpoint>();
  constructor(private readonly deliveries?: DeliveryStore) {}

  async create(e: WebhookEndpoint): Promise<void> {
    this.endpoints.set(e.id, structuredClone(e));
  }
  async get(id: string): Promise<WebhookEndpoint | null> {
    const e = this.endpoints.get(id);
    return e ? structuredClone(e) : null;
  }
  async list(): Promise<WebhookEndpoint[]> {
    return [...this.endpoints.values()].map((e) => structuredClone(e)).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }
  async delete(id: string): Promise<boolean> {
    const existed = this.endpoints.delete(id);
    await this.deliveries?.removeEndpoint(id);
    return existed;
  }
  async update(e: WebhookEndpoint): Promise<boolean> {
    if (!this.endpoints.has(e.id)) return false;
    this.endpoints.set(e.id, structuredClone(e));
    return true;
  }
}

export class MemoryDeliveryStore implements DeliveryStore {
  /** endpointId -> deliveryId -> record, in insertion order (oldest first). */
  private readonly byEndpoint = new Map<string, Map<string, DeliveryRecord>>();
  constructor(private readonly maxPerEndpoint: number = DEFAULT_MAX_DELIVERIES_PER_ENDPOINT) {}

  async createIfAbsent(record: DeliveryRecord): Promise<DeliveryRecord | null> {
    let m = this.byEndpoint.get(record.endpointId);
    if (!m) this.byEndpoint.set(record.endpointId, (m = new Map()));
    const existing = m.get(record.id);
    if (existing) return structuredClone(existing);
    m.set(record.id, structuredClone(record));
    while (m.size > this.maxPerEndpoint) {
      const oldest = m.keys().next().value;
      if (oldest === undefined) break;
      m.delete(oldest);
    }
    return null;
  }
  async get(endpointId: string, deliveryId: string): Promise<DeliveryRecord | null> {
    const r = this.byEndpoint.get(endpointId)?.get(deliveryId);
    return r ? structuredClone(r) : null;
  }
  async update(record: DeliveryRecord): Promise<boolean> {
    const m = this.byEndpoint.get(record.endpointId);
    if (!m?.has(record.id)) return false;
    m.set(record.id, structuredClone(record));
    return true;
  }
  async replaceIfStatus(record: DeliveryRecord, expected: DeliveryStatus): Promise<boolean> {
    const current = this.byEndpoint.get(record.endpointId)?.get(record.id);
    if (current?.status !== expected) return false;
    return this.update(record);
  }
  async list(endpointId: string, status: DeliveryStatus | null, limit: number): Promise<DeliveryRecord[]> {
    const all = [...(this.byEndpoint.get(endpointId)?.values() ?? [])].reverse();
    return all.filter((r) => status === null || r.status === status).slice(0, limit).map((r) => structuredClone(r));
  }
  async removeEndpoint(endpointId: string): Promise<void> {
    this.byEndpoint.delete(endpointId);
  }
}

export class RedisEndpointStore implements EndpointStore {
  private readonly key: string;
  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly deliveries?: DeliveryStore,
  ) {
    this.key = `${prefix}webhooks:endpoints`;
  }

  async create(e: WebhookEndpoint): Promise<void> {
    await this.redis.hset(this.key, e.id, JSON.stringify(e));
  }
  async get(id: string): Promise<WebhookEndpoint | null> {
    return parseJson<WebhookEndpoint>(await this.redis.hget(this.key, id));
  }
  async list(): Promise<WebhookEndpoint[]> {
    const all = await this.redis.hvals(this.key);
    return all
      .map((raw) => parseJson<WebhookEndpoint>(raw))
      .filter((e): e is WebhookEndpoint => e !== null)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }
  async delete(id: string): Promise<boolean> {
    const n = await this.redis.hdel(this.key, id);
    await this.deliveries?.removeEndpoint(id);
    return n > 0;
  }
  async update(e: WebhookEndpoint): Promise<boolean> {
    const r = await UPDATE_IF_EXISTS.run(this.redis, [this.key], [e.id, JSON.stringify(e)]);
    return r === 1;
  }
}

/** KEYS[1] hash; ARGV id, json */
const UPDATE_IF_EXISTS = defineLuaScript(
  'hbHashUpdateIfExists',
  `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end
return 0`,
  1,
);

/** KEYS[1] hash, KEYS[2] order zset; ARGV id, json, score, max. Returns the existing JSON, or false when created. */
const CREATE_IF_ABSENT = defineLuaScript(
  'hbDeliveryCreateIfAbsent',
  `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then return existing end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if excess > 0 then
  local old = redis.call('ZRANGE', KEYS[2], 0, excess - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
  redis.call('HDEL', KEYS[1], unpack(old))
end
return false`,
  2,
);

/** KEYS[1] hash; ARGV id, expected status, json. 1 replaced, 0 other status, -1 missing. */
const REPLACE_IF_STATUS = defineLuaScript(
  'hbDeliveryReplaceIfStatus',
  `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return -1 end
local ok, rec = pcall(cjson.decode, cur)
if not ok or rec['status'] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`,
  1,
);

export class RedisDeliveryStore implements DeliveryStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly maxPerEndpoint: number = DEFAULT_MAX_DELIVERIES_PER_ENDPOINT,
  ) {}

  private hashKey(endpointId: string): string {
    return `${this.prefix}webhooks:deliveries:${endpointId}`;
  }
  private orderKey(endpointId: string): string {
    return `${this.prefix}webhooks:delivery-order:${endpointId}`;
  }

  async createIfAbsent(record: DeliveryRecord): Promise<DeliveryRecord | null> {
    const existing = await CREATE_IF_ABSENT.run(
      this.redis,
      [this.hashKey(record.endpointId), this.orderKey(record.endpointId)],
      [record.id, JSON.stringify(record), String(Date.parse(record.createdAt) || Date.now()), String(this.maxPerEndpoint)],
    );
    return typeof existing === 'string' ? parseJson<DeliveryRecord>(existing) : null;
  }
  async get(endpointId: string, deliveryId: string): Promise<DeliveryRecord | null> {
    return parseJson<DeliveryRecord>(await this.redis.hget(this.hashKey(endpointId), deliveryId));
  }
  async update(record: DeliveryRecord): Promise<boolean> {
    const r = await UPDATE_IF_EXISTS.run(this.redis, [this.hashKey(record.endpointId)], [record.id, JSON.stringify(record)]);
    return r === 1;
  }
  async replaceIfStatus(record: DeliveryRecord, expected: DeliveryStatus): Promise<boolean> {
    const r = await REPLACE_IF_STATUS.run(this.redis, [this.hashKey(record.endpointId)], [record.id, expected, JSON.stringify(record)]);
    return r === 1;
  }
  async list(endpointId: string, status: DeliveryStatus | null, limit: number): Promise<DeliveryRecord[]> {
    const ids = await this.redis.zrevrange(this.orderKey(endpointId), 0, -1);
    if (ids.length === 0) return [];
    const out: DeliveryRecord[] = [];
    // In pages, so a status filter over the whole history stays cheap.
    for (let i = 0; i < ids.length && out.length < limit; i += 200) {
      const page = ids.slice(i, i + 200);
      const raws = await this.redis.hmget(this.hashKey(endpointId), ...page);
      for (const raw of raws) {
        const r = parseJson<DeliveryRecord>(raw);
        if (r && (status === null || r.status === status)) out.push(r);
        if (out.length >= limit) break;
      }
    }
    return out;
  }
  async removeEndpoint(endpointId: string): Promise<void> {
    await this.redis.del(this.hashKey(endpointId), this.orderKey(endpointId));
  }
}
