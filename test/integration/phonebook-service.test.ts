import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { PhonebookContact as Contact } from '../../src/core/event.js';
import type {
  KeyValueStore,
  Lock,
  PbxActiveCall,
  PbxApi,
  PbxCallGroup,
  PbxCallLogRow,
  PbxContact,
  PbxCustomField,
  PbxExtension,
} from '../../src/core/ports.js';
import { PbxError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { PhonebookService, type PhonebookServiceOptions } from '../../src/phonebook/service.js';
import { MemoryKeyValueStore, MemoryLock } from '../../src/store/memory.js';
import { createRedisClient, RedisKeyValueStore, RedisLock } from '../../src/store/redis.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { letTimePass } from '../helpers/wait.js';

function contact(id: string, phoneNumber: string, displayName = `Contact ${id}`): Contact {
  return {
    phonebookId: id,
    displayName,
    firstName: displayName,
    lastName: '',
    email: '',
    extension: '',
    phoneNumber,
    cellNumber: '',
    phoneGroup: '1',
    customFields: {},
  };
}

/** A PBX that counts calls, can be slowed down and made unreachable. */
class FakePbx implements PbxApi {
  contacts: PbxContact[] = [contact('41', '+91 98247 40472', 'Nisha Patel')];
  extensions: PbxExtension[] = [{ id: '485', name: '102_name-102', number: '102' }];
  customFields: PbxCustomField[] = [{ name: 'Office No', type: 'Text' }];
  calls = { getPhoneNumber: 0, getExtensions: 0, getPhonebookCustomFields: 0 };
  delayMs = 0;
  down = false;

  private async answer<T>(endpoint: keyof FakePbx['calls'], value: T): Promise<T> {
    this.calls[endpoint]++;
    // A slow PBX: what callers do while it answers is what the test looks at.
    if (this.delayMs) await letTimePass(this.delayMs);
    if (this.down) throw new PbxError('PBX_ERR_UNREACHABLE', endpoint, 'PBX unreachable');
    return structuredClone(value);
  }

  async crmSubscribe(): Promise<void> {}
  async crmUnSubscribe(): Promise<void> {}
  getPhoneNumber(): Promise<PbxContact[]> {
    return this.answer('getPhoneNumber', this.contacts);
  }
  getExtensions(): Promise<PbxExtension[]> {
    return this.answer('getExtensions', this.extensions);
  }
  getPhonebookCustomFields(): Promise<PbxCustomField[]> {
    return this.answer('getPhonebookCustomFields', this.customFields);
  }
  // The call endpoints are not used by the phonebook: a PBX with no calls.
  async activeCalls(): Promise<PbxActiveCall[]> {
    return [];
  }
  async callLog(): Promise<PbxCallLogRow[]> {
    return [];
  }
  async recordingPath(): Promise<string | null> {
    return null;
  }
  async getRingGroups(): Promise<PbxCallGroup[]> {
    return [];
  }
  async getQueues(): Promise<PbxCallGroup[]> {
    return [];
  }
  async createNumber(): Promise<{ phonebookId: string | null }> {
    return { phonebookId: null };
  }
}

interface Backend {
  /** Stores of one deployment: every call returns handles onto the same shared state. */
  stores(): { kv: KeyValueStore; lock: Lock };
}

const logger = createLogger('silent');

function suite(name: string, makeBackend: () => Promise<Backend>, cleanup: () => Promise<void>): void {
  describe(`PhonebookService over ${name}`, () => {
    let backend: Backend;
    const services: PhonebookService[] = [];

    beforeAll(async () => {
      backend = await makeBackend();
    });
    afterAll(cleanup);
    afterEach(async () => {
      await Promise.all(services.splice(0).map((s) => s.close()));
    });

    /** A fresh deployment per test: its own stores (memory) or key prefix (Redis). */
    let deployment: { kv: KeyValueStore; lock: Lock };
    const service = (pbx: PbxApi | null, extra: Partial<PhonebookServiceOptions> = {}): PhonebookService => {
      const s = new PhonebookService({
        pbx,
        ...deployment,
        country: 'IN',
        refreshIntervalMs: 60_000,
        versionPollMs: 50,
        logger,
        ...extra,
      });
      services.push(s);
      return s;
    };
    const fresh = (): void => {
      deployment = backend.stores();
    };

    it('when started with an empty store, then it reads the PBX and serves the phonebook', async () => {
      fresh();
      const pbx = new FakePbx();
      const s = service(pbx);
      await s.start();
      expect(pbx.calls.getPhoneNumber).toBe(1);
      expect(s.lookup('09824740472')).toMatchObject({ from: '+919824740472', contact: { phonebookId: '41' } });
      expect(s.isExtension('102')).toBe(true);
      const st = s.status();
      expect(st).toMatchObject({ contacts: 1, lastError: null, ageSeconds: 0 });
      expect(st.version).toEqual(expect.any(String));
      expect(st.loadedAt).toEqual(expect.any(String));
      expect(st.lastRefreshAt).toEqual(expect.any(String));
    });

    it('when a fresh snapshot is in the store, then start loads it without asking the PBX', async () => {
      fresh();
      const first = service(new FakePbx());
      await first.start();
      const pbx = new FakePbx();
      const second = service(pbx);
      await second.start();
      expect(pbx.calls.getPhoneNumber).toBe(0);
      expect(second.lookup('+919824740472').contact?.phonebookId).toBe('41');
      expect(second.status().version).toBe(first.status().version);
    });

    it('when the stored snapshot is older than the interval, then start reads the PBX again', async () => {
      fresh();
      await service(new FakePbx()).start();
      const pbx = new FakePbx();
      const later = service(pbx, { now: () => Date.now() + 120_000 });
      await later.start();
      expect(pbx.calls.getPhoneNumber).toBe(1);
      expect(later.status().ageSeconds).toBe(0);
    });

    it('when refreshed, then the new phonebook replaces the index', async () => {
      fresh();
      const pbx = new FakePbx();
      const s = service(pbx);
      await s.start();
      const v1 = s.status().version;
      pbx.contacts = [contact('77', '0 99090 12345', 'Priya Mehta')];
      const result = await s.refresh();
      expect(result).toEqual({ refreshed: true, contacts: 1 });
      expect(s.lookup('09824740472').contact).toBeNull();
      expect(s.lookup('+919909012345').contact?.phonebookId).toBe('77');
      expect(s.status().version).not.toBe(v1);
    });

    it('when the PBX is down, then the last good copy keeps serving and lastError says why', async () => {
      fresh();
      const pbx = new FakePbx();
      const s = service(pbx);
      await s.start();
      pbx.down = true;
      const result = await s.refresh();
      expect(result.refreshed).toBe(false);
      expect(result.reason).toContain('PBX_ERR_UNREACHABLE');
      expect(s.lookup('09824740472').contact?.phonebookId).toBe('41');
      expect(s.status().lastError).toContain('PBX unreachable');
      pbx.down = false;
      expect((await s.refresh()).refreshed).toBe(true);
      expect(s.status().lastError).toBeNull();
    });

    it('when the PBX is down at start, then start does not throw and serves an empty index', async () => {
      fresh();
      const pbx = new FakePbx();
      pbx.down = true;
      const s = service(pbx);
      await expect(s.start()).resolves.toBeUndefined();
      expect(s.status()).toMatchObject({ contacts: 0, version: null, loadedAt: null, ageSeconds: null });
      expect(s.status().lastError).toContain('PBX_ERR_UNREACHABLE');
      expect(s.lookup('09824740472').contact).toBeNull();
    });

    it('when two instances refresh at once, then the PBX sees one getPhoneNumber and both serve the result', async () => {
      fresh();
      const pbx = new FakePbx();
      pbx.delayMs = 150;
      const a = service(pbx);
      const b = service(pbx);
      const results = await Promise.all([a.refresh(), b.refresh(), a.refresh(), b.refresh()]);
      expect(pbx.calls.getPhoneNumber).toBe(1);
      expect(results.filter((r) => r.refreshed)).toHaveLength(2); // a's two calls share one flight
      expect(a.status().version).toBe(b.status().version);
      expect(b.lookup('09824740472').contact?.phonebookId).toBe('41');
    });

    it('when another instance refreshes, then this one picks it up through the version', async () => {
      fresh();
      const pbx = new FakePbx();
      const a = service(pbx);
      const b = service(null);
      await a.start();
      await b.start();
      expect(b.lookup('09824740472').contact?.phonebookId).toBe('41');
      pbx.contacts = [contact('88', '+44 7911 123456', 'Sam UK')];
      await a.refresh();
      await expect.poll(() => b.lookup('+447911123456').contact?.phonebookId, { timeout: 3000, interval: 20 }).toBe('88');
      expect(b.status().version).toBe(a.status().version);
      expect(pbx.calls.getPhoneNumber).toBe(2);
    });

    it('when several instances run their scheduled refreshes, then the PBX is read about once per interval', async () => {
      fresh();
      const pbx = new FakePbx();
      const all = [service(pbx, { refreshIntervalMs: 300 }), service(pbx, { refreshIntervalMs: 300 }), service(pbx, { refreshIntervalMs: 300 })];
      await Promise.all(all.map((s) => s.start()));
      expect(pbx.calls.getPhoneNumber).toBe(1);
      // About three intervals: the instances together must not read the PBX once each per interval.
      await letTimePass(1000);
      // 1 at start + one per 300 ms interval (~3), not 3 instances x 3 intervals.
      expect(pbx.calls.getPhoneNumber).toBeGreaterThanOrEqual(2);
      expect(pbx.calls.getPhoneNumber).toBeLessThanOrEqual(5);
    });

    it('with no PBX and an empty store, then it serves an empty index', async () => {
      fresh();
      const s = service(null);
      await s.start();
      expect(s.status()).toMatchObject({ contacts: 0, version: null, lastError: null });
      expect(await s.refresh()).toEqual({ refreshed: false, contacts: 0, reason: 'no PBX configured' });
    });

    it('a phonebook larger than one snapshot chunk survives the round trip, and a smaller one replaces it', async () => {
      fresh();
      const pbx = new FakePbx();
      pbx.contacts = Array.from({ length: 4500 }, (_, i) => contact(String(i + 1), `+91 9${String(800000000 + i)}`));
      const a = service(pbx);
      await a.start();
      const b = service(null);
      await b.start();
      expect(b.status().contacts).toBe(4500);
      expect(b.lookup('09800004499').contact?.phonebookId).toBe('4500');
      pbx.contacts = pbx.contacts.slice(0, 10);
      await a.refresh();
      await a.refresh();
      await expect.poll(() => b.status().contacts, { timeout: 3000, interval: 20 }).toBe(10);
      expect(b.lookup('09800004499').contact).toBeNull();
    });

    it('when closed, then no timer keeps running', async () => {
      fresh();
      const pbx = new FakePbx();
      const s = service(pbx, { refreshIntervalMs: 50 });
      await s.start();
      await s.close();
      const calls = pbx.calls.getPhoneNumber;
      // Four refresh intervals: no timer may read the PBX after close.
      await letTimePass(200);
      expect(pbx.calls.getPhoneNumber).toBe(calls);
    });

    // The PBX client answers "Data Not Found" on a list with an empty list (pbx-client.test.ts): the
    // phonebook sees no definitions, not an error.
    it('when the PBX has no custom fields and no extensions, then the contacts still load', async () => {
      fresh();
      const pbx = new FakePbx();
      pbx.customFields = [];
      pbx.extensions = [];
      const s = service(pbx);
      await s.start();
      expect(s.status()).toMatchObject({ contacts: 1, lastError: null });
      expect(s.lookup('09824740472').contact?.phonebookId).toBe('41');
      expect(s.isExtension('102')).toBe(false);
    });
  });
}

suite(
  'memory stores',
  async () => {
    return { stores: () => ({ kv: new MemoryKeyValueStore(), lock: new MemoryLock() }) };
  },
  async () => undefined,
);

let redis: Redis | undefined;
suite(
  'Redis stores',
  async () => {
    const client = createRedisClient(inject('redisUrl'), 'phonebook-test');
    redis = client;
    return {
      stores: () => {
        const prefix = uniquePrefix('phonebook');
        return { kv: new RedisKeyValueStore(client, prefix), lock: new RedisLock(client, prefix) };
      },
    };
  },
  async () => {
    await redis?.quit();
  },
);
