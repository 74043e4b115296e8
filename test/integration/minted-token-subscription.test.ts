/**
 * A CRM client on a token from `POST /api/tokens` (docs/agents.md, "The embeddable client"): such a token makes
 * nothing desired at the PBX (docs/subscriptions.md: operator registrations and agent sign-ins do; the bridge
 * has no password to subscribe with), so the extension is registered with `PUT /api/extensions/:number` for the
 * PBX to call back. Without it the PBX has no subscription and the client never pops; with it, it pops.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { admin, createHarness, postJson, type Harness } from '../helpers/bridge-harness.js';
import { eventually } from '../helpers/wait.js';
import { openAgentSocket } from '../helpers/ws-client.js';

describe('a CRM client on a token from POST /api/tokens', () => {
  let h: Harness;
  let bridge: Bridge;
  beforeAll(async () => {
    h = await createHarness();
    bridge = await h.startBridge();
  });
  afterAll(async () => {
    await h.close();
  });

  const extensionState = async (ext: string): Promise<string | undefined> => {
    const res = await fetch(`${bridge.url}/api/extensions`, { headers: admin });
    const { extensions } = (await res.json()) as { extensions: Array<{ extension: string; state: string }> };
    return extensions.find((e) => e.extension === ext)?.state;
  };

  it('when its extension is not registered, then the PBX is not asked to call back; once registered, the client pops', async () => {
    const minted = await postJson(`${bridge.url}/api/tokens`, { extension: '104', role: 'agent' }, admin);
    expect(minted.status).toBe(200);
    const socket = await openAgentSocket(bridge.url, String(minted.body.token));
    try {
      await socket.waitFor((f) => f.some((x) => x.type === 'ready'));
      expect(await extensionState('104')).not.toBe('subscribed');
      expect(await h.simulator.ring({ extension: '104', from: '09824740472' })).toMatchObject({ delivered: false });

      const put = await fetch(`${bridge.url}/api/extensions/104`, {
        method: 'PUT',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify({ password: DEMO_EXTENSIONS['104'] }),
      });
      expect(put.status).toBeLessThan(300);
      await eventually(async () => (await extensionState('104')) === 'subscribed', 10_000, 'the registration to be subscribed');
      expect(await h.simulator.ring({ extension: '104', from: '09824740472' })).toMatchObject({ delivered: true });
      await socket.waitFor((f) => f.some((x) => x.type === 'call.ringing'));
    } finally {
      socket.close();
    }
  });
});
