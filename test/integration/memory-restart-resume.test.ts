/**
 * Memory mode across a restart: a client resuming with an id it got from the previous process must get every
 * event of the new one (or `resumed: false`), never `resumed: true` with only the events numbered above its
 * old id (the new process's first calls would never pop). The ids are `<process start ms>-<seq>`
 * (src/events/memory-event-log.ts), so they keep growing across a restart.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryEventLog } from '../../src/events/memory-event-log.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { createHarness, login, postJson, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { openAgentSocket, type Frame } from '../helpers/ws-client.js';

const ringing = (f: Frame, caller: string): boolean =>
  f.type === 'call.ringing' && (f as { data?: { call?: { fromRaw?: string } } }).data?.call?.fromRaw === caller;

describe('memory mode: resuming across a restart', () => {
  let h: Harness | null = null;
  afterAll(async () => {
    await h?.close();
  });

  it('when a client resumes with an id from before the restart, then it gets every call of the new process, or resumed:false', async () => {
    h = await createHarness();
    const first = await h.startBridge();
    const token = await login(first.url, '101', DEMO_EXTENSIONS['101'] ?? '');
    const ring = (url: string, caller: string) =>
      postJson(`${url}/pbx/callback?secret=${SECRETS.callbackSecret}`, { extension: '101', caller, call_id: randomUUID() });

    const before = await openAgentSocket(first.url, token);
    for (const caller of ['5550101', '5550102', '5550103']) expect((await ring(first.url, caller)).status).toBe(200);
    await before.waitFor((frames) => frames.some((f) => ringing(f, '5550103')));
    const lastEventId = before.events().at(-1)?.id;
    expect(lastEventId).toBeTypeOf('string');
    before.close();
    await before.closed;
    await first.close();

    // The restarted bridge (same secrets, so the token is still good) takes calls while the agent is away.
    const second = await h.startBridge();
    const away = ['5550201', '5550202', '5550203', '5550204', '5550205'];
    for (const caller of away) expect((await ring(second.url, caller)).status).toBe(200);

    const after = await openAgentSocket(second.url, token, lastEventId);
    await after.waitFor((frames) => frames.some((f) => f.type === 'ready'));
    const ready = after.frames.find((f) => f.type === 'ready') as { resumed?: boolean };
    if (ready.resumed === true) {
      // Told the replay is complete: then it must hold every call that rang meanwhile.
      await after.waitFor((frames) => frames.some((f) => ringing(f, '5550205')));
      const got = away.filter((caller) => after.frames.some((f) => ringing(f, caller)));
      after.close();
      expect(got).toEqual(away);
    } else {
      after.close();
    }
  });

  it('ids are <epoch>-<seq>: an id of an earlier process (smaller epoch, any seq) is followed by every event', async () => {
    const log = new MemoryEventLog({ epoch: 5000, maxEvents: 10 });
    expect(await log.lastId()).toBeNull();
    expect(await log.readAfter('0000000004000-900000', 100)).toEqual({ events: [], complete: true });
    const event = (extension: string) => ({
      type: 'call.ringing' as const,
      timestamp: new Date().toISOString(),
      data: { extension, call: { id: null, from: '1', fromRaw: '1', fromName: null, to: extension, direction: 'inbound' as const, sessionId: 's' }, contact: null, otherContacts: [], links: {} },
    });
    const first = await log.append(event('101'), null);
    await log.append(event('102'), null);
    expect(first.id).toBe('0000000005000-1');
    // The earlier process issued far more events than this one: its last id's seq is larger, its epoch smaller.
    const replay = await log.readAfter('0000000004000-900000', 100);
    expect(replay.complete).toBe(true);
    expect(replay.events.map((e) => e.id)).toEqual(['0000000005000-1', '0000000005000-2']);
    expect((await log.readAfter('0000000005000-1', 100)).events.map((e) => e.id)).toEqual(['0000000005000-2']);
    // Newer than anything issued: nothing to vouch for.
    expect(await log.readAfter('0000000005000-3', 100)).toEqual({ events: [], complete: false });
    // Past the ring, an earlier process's id cannot be vouched for either.
    for (let i = 0; i < 10; i++) await log.append(event('103'), null);
    expect((await log.readAfter('0000000004000-900000', 100)).complete).toBe(false);
    await log.close();
  });
});
