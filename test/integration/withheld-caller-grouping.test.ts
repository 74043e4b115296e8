/**
 * Without a PBX call id, legs are grouped by caller (docs/calls.md: "the same caller rings another extension
 * while an earlier leg of that caller is still open, within CALL_GROUP_WINDOW_S"). A withheld caller
 * (`anonymous`, accepted as any printable caller) is no caller identity: two different callers with withheld
 * numbers ringing two agents within the window must stay two calls, so when the first agent answers, the
 * second agent's card (another call, still ringing) is not told "Answered by 101".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { createHarness, login, postJson, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { openAgentSocket, type AgentSocket, type Frame } from '../helpers/ws-client.js';

interface CallFrame extends Frame {
  data?: { extension?: string; answeredBy?: string | null; call?: { sessionId?: string } };
}

describe('two calls from withheld numbers at once', () => {
  let h: Harness;
  let bridge: Bridge;
  const sockets: AgentSocket[] = [];
  beforeAll(async () => {
    h = await createHarness();
    bridge = await h.startBridge();
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await h.close();
  });

  it('when 101 answers its anonymous caller, then 102, ringing with another anonymous caller, is not told it was answered', async () => {
    const open = async (ext: string) => {
      const s = await openAgentSocket(bridge.url, await login(bridge.url, ext, DEMO_EXTENSIONS[ext] ?? ''));
      sockets.push(s);
      await s.waitFor((f) => f.some((x) => x.type === 'ready'));
      return s;
    };
    const s101 = await open('101');
    const s102 = await open('102');
    const callback = (fields: Record<string, string>) => postJson(`${bridge.url}/pbx/callback?secret=${SECRETS.callbackSecret}`, fields);

    expect((await callback({ extension: '101', caller: 'anonymous' })).status).toBe(200);
    expect((await callback({ extension: '102', caller: 'anonymous' })).status).toBe(200);
    await s102.waitFor((f) => f.some((x) => x.type === 'call.ringing'));
    expect((await callback({ extension: '101', caller: 'anonymous', event: 'answered' })).status).toBe(200);
    await s101.waitFor((f) => f.some((x) => x.type === 'call.answered'));

    const ringing101 = s101.events().find((f) => f.type === 'call.ringing') as CallFrame;
    const ringing102 = s102.events().find((f) => f.type === 'call.ringing') as CallFrame;
    expect(ringing102.data?.call?.sessionId).not.toBe(ringing101.data?.call?.sessionId);
    expect((s102.events() as CallFrame[]).filter((f) => f.type === 'call.answered').map((f) => f.data?.answeredBy)).toEqual([]);
  });
});
