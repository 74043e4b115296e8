/**
 * The bound on open calls (CALLBACK_MAX_OPEN_CALLS): past it a ringing callback is answered 503 with
 * Retry-After (the PBX retries it) instead of opening one more call for the tracker to poll; state callbacks,
 * which end calls, are still taken; and once calls end, ringing callbacks are taken again.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { createHarness, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';

const SECRET = SECRETS.callbackSecret;

describe.each([
  ['memory', false],
  ['redis', true],
] as const)('the open-call bound (%s mode)', (_mode, redis) => {
  let h: Harness;
  let bridge: Bridge;
  beforeAll(async () => {
    h = await createHarness();
    const env: Record<string, string> = { CALLBACK_MAX_OPEN_CALLS: '3', CALL_GROUP_WINDOW_S: '0' };
    if (redis) env['REDIS_URL'] = inject('redisUrl');
    bridge = await h.startBridge(env, redis ? { redisPrefix: uniquePrefix('open-calls') } : {});
  });
  afterAll(async () => {
    await h.close();
  });

  const post = (body: Record<string, string>) =>
    fetch(`${bridge.url}/pbx/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-callback-secret': SECRET },
      body: JSON.stringify({ extension: '101', caller: '+14155550132', ...body }),
    });

  it('when as many calls are open as allowed, then a new ringing callback is refused with 503, an ended one is taken, and new calls are taken again', async () => {
    for (const id of ['open-1', 'open-2', 'open-3']) expect((await post({ call_id: id })).status).toBe(200);

    const refused = await post({ call_id: 'open-4' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toEqual({ status: 'FAILED', message: 'Temporarily unable to accept callbacks.' });

    // Ending calls is what frees the bound, so state callbacks are never refused by it.
    for (const id of ['open-1', 'open-2']) {
      expect((await post({ call_id: id, event: 'answered' })).status).toBe(200);
      expect((await post({ call_id: id, event: 'ended' })).status).toBe(200);
    }

    // The count is refreshed from the call state in the background: the PBX's retry gets through once it has been.
    await eventually(async () => (await post({ call_id: 'open-4' })).status === 200, 5000, 'the retried ringing callback to be taken');

    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    expect(metrics).toMatch(/bridge_callbacks_refused_total\{reason="open_calls"\} [1-9]/);
  });
});
