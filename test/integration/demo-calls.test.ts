/**
 * Demo mode's "Simulate a call": each press plays a whole call on the built-in simulator (rings, is
 * answered by the agent's extension, ends), every 4th a missed one; close() cancels what is still to come.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startRecordingServer } from '../helpers/recording-server.js';
import { eventually, eventuallyValue } from '../helpers/wait.js';
import { startDemoPbx, type DemoPbx } from '../../src/demo.js';
import { createLogger } from '../../src/logger.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const FAST = { answerAfterMs: 50, talkMs: 50, missedAfterMs: 50, missedEvery: 4 };

interface SimCall {
  callId: string;
  phase: string;
  answeredBy: string | null;
}

async function json(url: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await request(url, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await res.body.json()) as Record<string, unknown>;
}

describe('demo mode plays whole calls', () => {
  let demo: DemoPbx | null = null;
  afterEach(async () => {
    await demo?.close();
    demo = null;
  });

  async function start(timing = FAST): Promise<{ demo: DemoPbx; calls: () => Promise<SimCall[]>; callbacks: () => Array<Record<string, unknown>> }> {
    const d = await startDemoPbx({ pbxPasswordFormat: 'md5', pbxTimeoutMs: 2000 }, createLogger('silent'), timing);
    demo = d;
    const api = d.pbxConfig.baseUrl;
    const origin = new URL(api).origin;
    const receiver = await startRecordingServer((_req, res) => res.end('{"status":"SUCCESS"}'));
    d.setCallbackUrl(`${receiver.origin}/pbx/callback`);
    const ext = d.agentCredentials.extension;
    const sub = await json(`${api}/info/crmSubscribe`, {
      token_id: d.pbxConfig.token,
      extension_number: ext,
      extension_password: md5(DEMO_EXTENSIONS[ext] ?? ''),
    });
    expect(sub.status).toBe('SUCCESS');
    return {
      demo: d,
      calls: async () => (await json(`${origin}/_sim/calls`)).calls as SimCall[],
      callbacks: () => receiver.requests.map((r) => JSON.parse(r.body) as Record<string, unknown>),
    };
  }

  it('three calls are answered by the agent and end; the fourth is missed', async () => {
    const { demo: d, calls } = await start();
    const ext = d.agentCredentials.extension;
    const outcomes: unknown[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await d.ring(ext);
      expect(r).toMatchObject({ delivered: true, callId: expect.any(String) });
      outcomes.push(r.outcome);
    }
    expect(outcomes).toEqual(['answered', 'answered', 'answered', 'missed']);
    const done = await eventuallyValue(calls, (list) => list.length === 4 && list.every((c) => c.phase === 'ended' || c.phase === 'missed'));
    expect(done.map((c) => [c.phase, c.answeredBy])).toEqual([
      ['ended', ext],
      ['ended', ext],
      ['ended', ext],
      ['missed', null],
    ]);
  });

  it('the third call rings through the agent\'s ring group, and its callback names the group', async () => {
    const { demo: d, callbacks } = await start();
    const ext = d.agentCredentials.extension;
    for (let i = 0; i < 3; i++) expect(await d.ring(ext)).toMatchObject({ delivered: true });
    const ringing = callbacks().filter((b) => b.event === 'ringing');
    // Only the third names Sales (5000): the other two rang the extension itself.
    expect(ringing.map((b) => [b.extension_number, b.ring_group ?? null])).toEqual([
      [ext, null],
      [ext, null],
      [ext, '5000'],
    ]);
  });

  it('a call to an extension that is not subscribed is not played', async () => {
    const { demo: d, calls } = await start();
    expect(await d.ring('105')).toMatchObject({ delivered: false, reason: 'not_subscribed' });
    expect(await d.ring('999')).toMatchObject({ delivered: false, reason: 'unknown_extension' });
    expect((await calls()).map((c) => c.phase)).toEqual(['missed']);
  });

  it('close() cancels the steps still to come', async () => {
    const { demo: d, calls } = await start({ ...FAST, answerAfterMs: 60_000 });
    await d.ring(d.agentCredentials.extension);
    await eventually(async () => (await calls()).length === 1, 2000, 'the call');
    const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timeouts();
    await d.close();
    demo = null;
    // The 60 s answer step no longer holds the process.
    expect(timeouts()).toBeLessThan(before);
  });
});
