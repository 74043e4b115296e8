/**
 * The sign-in limit cannot be raced: a burst of parallel wrong passwords for one extension lets at most 10
 * guesses through to the PBX, in memory and in Redis mode; a correct password from a shared address is not
 * counted against that address.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { createHarness, postJson, type Harness } from '../helpers/bridge-harness.js';
import { uniquePrefix } from '../helpers/redis-server.js';

const modes = [
  ['memory', () => ({})],
  ['redis', () => ({ REDIS_URL: inject('redisUrl') })],
] as const;

describe.each(modes)('sign-in limit in %s mode', (mode, env) => {
  let h: Harness;
  let bridge: Bridge;
  const pbxSubscribes = () => h.simulator.requestCounts().crmSubscribe ?? 0;
  const signIn = (extension: string, password: string, address: string) =>
    postJson(`${bridge.url}/api/agents/login`, { extension, password }, { 'x-forwarded-for': address });

  beforeAll(async () => {
    h = await createHarness();
    bridge = await h.startBridge({ ...env(), LOG_LEVEL: 'warn' }, { redisPrefix: uniquePrefix(`sec-login-${mode}`) });
  });
  afterAll(async () => {
    await h.close();
  });

  it('when 60 wrong passwords for one extension arrive at once, then at most 10 reach the PBX and the rest get 429', async () => {
    const before = pbxSubscribes();
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => signIn('104', `guess-${i}`, `10.44.${Math.floor(i / 250)}.${i % 250}`)));
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(50);
    expect(answers.filter((a) => a.status === 429).every((a) => a.body.error === 'too_many_attempts')).toBe(true);
    expect(pbxSubscribes() - before).toBeLessThanOrEqual(10);

    // Going on one at a time: the budget of 10 a minute holds across bursts, and even the right password waits.
    for (let i = 0; i < 15; i++) await signIn('104', `more-${i}`, `10.45.0.${i}`);
    const right = await signIn('104', DEMO_EXTENSIONS['104'] ?? '', '10.46.0.1');
    expect(right.status).toBe(429);
    expect(pbxSubscribes() - before).toBeLessThanOrEqual(10);
  });

  it('when agents behind one address sign in successfully, then their sign-ins do not use up the address budget', async () => {
    const office = '10.47.0.1';
    for (let round = 0; round < 3; round++) {
      for (const ext of ['101', '102', '103', '105', '106']) {
        const r = await signIn(ext, DEMO_EXTENSIONS[ext] ?? '', office);
        expect(r.status).toBe(200);
      }
    }
    // 15 successful sign-ins later, wrong passwords from that address still have their own 10.
    for (let i = 0; i < 10; i++) expect((await signIn('107', `bad-${i}`, office)).status).toBe(401);
    expect((await signIn('108', 'bad', office)).status).toBe(429);
  });
});
