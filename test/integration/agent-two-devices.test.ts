/**
 * An agent signed in on two devices (two sign-ins, two tokens) who signs out
 * on one keeps getting pops on the other, and the signed-out device's socket is closed with 4001; the extension
 * stays subscribed at the PBX while the other device's socket is open. Memory and Redis mode.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { createHarness, login, postJson, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { letTimePass } from '../helpers/wait.js';
import { openAgentSocket } from '../helpers/ws-client.js';

const modes = [
  ['memory', () => ({})],
  ['redis', () => ({ REDIS_URL: inject('redisUrl') })],
] as const;

describe.each(modes)('two devices in %s mode', (mode, env) => {
  let h: Harness;
  let bridge: Bridge;
  beforeAll(async () => {
    h = await createHarness();
    bridge = await h.startBridge({ ...env(), UNSUBSCRIBE_GRACE_S: '1' }, { redisPrefix: uniquePrefix(`two-devices-${mode}`) });
  });
  afterAll(async () => {
    await h.close();
  });

  it('when the agent signs out on one device, then the other still pops and stays subscribed', async () => {
    const password = DEMO_EXTENSIONS['101'] ?? '';
    const [tokenA, tokenB] = [await login(bridge.url, '101', password), await login(bridge.url, '101', password)];
    const a = await openAgentSocket(bridge.url, tokenA);
    const b = await openAgentSocket(bridge.url, tokenB);
    await a.waitFor((f) => f.some((x) => x.type === 'ready'));
    await b.waitFor((f) => f.some((x) => x.type === 'ready'));

    const out = await fetch(`${bridge.url}/api/agents/logout`, { method: 'POST', headers: { authorization: `Bearer ${tokenA}` } });
    expect(out.status).toBe(204);
    expect((await a.closed).code).toBe(4001);

    // Well past the grace: the other device's open socket keeps the extension subscribed.
    await letTimePass(2500);
    const ext = await fetch(`${bridge.url}/api/extensions`, { headers: { authorization: `Bearer ${SECRETS.adminApiKey}` } });
    const view = ((await ext.json()) as { extensions: Array<{ extension: string; desired: boolean; state: string }> }).extensions.find((e) => e.extension === '101');
    expect(view).toMatchObject({ desired: true, state: 'subscribed' });

    const r = await postJson(`${bridge.url}/pbx/callback?secret=${SECRETS.callbackSecret}`, { extension: '101', caller: '5550301', call_id: randomUUID() });
    expect(r.status).toBe(200);
    await b.waitFor((f) => f.some((x) => x.type === 'call.ringing'));
    b.close();
  });
});
