/**
 * A contact created from the pop on one instance reaches another whose pub/sub connection was down when it was
 * published: pub/sub keeps nothing, so when that connection is back the instance reads the shared list of
 * created contacts (`phonebook:added`), instead of waiting for its next phonebook refresh.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { PhonebookContact } from '../../src/core/event.js';
import { createLogger } from '../../src/logger.js';
import { RedisAddedContactsBus } from '../../src/phonebook/added-bus.js';
import { PhonebookService } from '../../src/phonebook/service.js';
import { createRedisClient, RedisKeyValueStore, RedisLock } from '../../src/store/redis.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';

const logger = createLogger('silent');
const clients: Redis[] = [];
const services: PhonebookService[] = [];
const buses: RedisAddedContactsBus[] = [];
afterAll(async () => {
  for (const s of services) await s.close();
  for (const b of buses) await b.close();
  clients.forEach((c) => c.disconnect());
});

const created: PhonebookContact = {
  phonebookId: '',
  displayName: 'Kavya Menon',
  firstName: 'Kavya',
  lastName: 'Menon',
  email: '',
  extension: '',
  phoneNumber: '+91 94470 11111',
  cellNumber: '',
  phoneGroup: '',
  customFields: {},
};

/** One instance's phonebook with Redis, as src/phonebook/open.ts builds it; `subscriberId` is its pub/sub connection's. */
async function instance(url: string, prefix: string, name: string) {
  const commands = createRedisClient(url, `${name}-commands`);
  const subscriber = createRedisClient(url, `${name}-added`, { maxRetriesPerRequest: null });
  clients.push(commands, subscriber);
  const subscriberId = String(await subscriber.client('ID'));
  const bus = new RedisAddedContactsBus(commands, subscriber, prefix, logger);
  buses.push(bus);
  await bus.start();
  const service = new PhonebookService({
    pbx: null,
    kv: new RedisKeyValueStore(commands, prefix),
    lock: new RedisLock(commands, prefix),
    country: 'IN',
    // No refresh and no snapshot during the test: only the bus (or the list) can bring the contact.
    refreshIntervalMs: 3_600_000,
    logger,
    bus,
  });
  services.push(service);
  await service.start();
  return { service, subscriberId };
}

describe('contacts created from the pop, with Redis', () => {
  it("when another instance's pub/sub connection was down as the contact was published, then it pops the contact once that connection is back", async () => {
    const url = inject('redisUrl');
    const prefix = uniquePrefix('added-reconnect');
    const control = createRedisClient(url, 'test-added-control');
    clients.push(control);
    const a = await instance(url, prefix, 'a');
    const b = await instance(url, prefix, 'b');
    expect(b.service.lookup('09447011111').contact).toBeNull();

    // B's subscriber connection drops; ioredis reconnects it within ~100 ms, after the publish below.
    await control.client('KILL', 'ID', b.subscriberId);
    await a.service.addContact(created);
    expect(a.service.lookup('09447011111').contact?.displayName).toBe('Kavya Menon');

    await eventually(() => b.service.lookup('09447011111').contact !== null, 5000, 'instance B to pop the created contact');
    expect(b.service.lookup('09447011111').contact?.displayName).toBe('Kavya Menon');
  });
});
