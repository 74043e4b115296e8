/**
 * Closing a bridge in Redis mode while redis-server is stopped: close() resolves well inside the process's
 * 10 s shutdown deadline (src/main.ts), and leaves nothing behind that would keep the process alive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE_DEADLINE_MS } from '../../src/lifecycle.js';
import { createHarness, type Harness } from '../helpers/bridge-harness.js';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';

/** The handles that keep a process alive: sockets and servers (timers the bridge leaves are unref'd or cleared). */
function liveHandles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP') || r === 'PipeWrap' || r === 'ProcessWrap');
}

describe('when the bridge is closed while Redis is down', () => {
  let h: Harness;
  let redis: RedisServerHandle;

  beforeAll(async () => {
    redis = await startRedisServer();
    h = await createHarness();
  });
  afterAll(async () => {
    await h?.close();
    await redis?.stop();
  });

  it('then close() resolves within the close deadline and no socket of the bridge is left open', async () => {
    const before = liveHandles().length;
    const bridge = await h.startBridge({ REDIS_URL: redis.url, LOG_LEVEL: 'info' }, { redisPrefix: uniquePrefix('close-down') });
    await redis.stop();
    await eventually(async () => (await fetch(`${bridge.url}/readyz`, { headers: { connection: 'close' } })).status === 503, 10_000, '/readyz 503');

    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      bridge.close().then(() => 'closed'),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still closing'), CLOSE_DEADLINE_MS + 1000))),
    ]);
    clearTimeout(timer);
    expect(outcome).toBe('closed');
    // The redis-server child is gone too (stopped above); what is left is the harness's simulator and vitest's own.
    await eventually(() => liveHandles().length <= before, 5000, `open handles back to ${before}: ${liveHandles().join(', ')}`);
    const logs = h.logs.parsed();
    expect(logs.filter((l) => l.msg === 'error while closing')).toEqual([]);
  }, 30_000);

  it('when Redis hangs (SIGSTOP) instead, then close() still resolves within the close deadline', async () => {
    await redis.restart();
    const bridge = await h.startBridge({ REDIS_URL: redis.url, LOG_LEVEL: 'info' }, { redisPrefix: uniquePrefix('close-hung') });
    const thaw = redis.hang();
    try {
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        bridge.close().then(() => 'closed'),
        new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still closing'), CLOSE_DEADLINE_MS + 3000))),
      ]);
      clearTimeout(timer);
      // Whatever did not close in time is named in one line.
      const abandoned = h.logs.parsed().filter((l) => String(l.msg).startsWith('closed with parts abandoned'));
      expect(abandoned.length).toBeLessThanOrEqual(1);
      for (const line of abandoned) expect(line.abandoned).toEqual(expect.any(Array));
      expect(outcome).toBe('closed');
    } finally {
      thaw();
    }
  }, 30_000);
});
