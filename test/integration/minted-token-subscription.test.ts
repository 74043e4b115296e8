/**
 * Review finding: docs/agents.md tells a CRM to embed `client.js` with a token from `POST /api/tokens`. Such
 * a token makes nothing desired at the PBX (docs/subscriptions.md: only operator registrations and agent
 * sign-ins are), and the bridge has no password to subscribe with, so unless the extension was registered
 * (`PUT /api/extensions/:number`) or an agent signed in on it, the PBX never calls back and the embedded client
 * never pops. Nothing in the answer or the docs of `POST /api/tokens` says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { admin, createHarness, postJson, type Harness } from '../helpers/bridge-harness.js';
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

  it.fails('when the PBX rings its extension, then the client pops', async () => {
    const minted = await postJson(`${bridge.url}/api/tokens`, { extension: '104', role: 'agent' }, admin);
    expect(minted.status).toBe(200);
    const socket = await openAgentSocket(bridge.url, String(minted.body.token));
    try {
      await socket.waitFor((f) => f.some((x) => x.type === 'ready'));
      const rang = await h.simulator.ring({ extension: '104', from: '09824740472' });
      expect(rang).toMatchObject({ delivered: true });
      await socket.waitFor((f) => f.some((x) => x.type === 'call.ringing'));
    } finally {
      socket.close();
    }
  });
});
