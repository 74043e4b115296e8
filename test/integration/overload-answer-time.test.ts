/**
 * The answer-time signal (CALLBACK_MAX_ANSWER_MS): a Redis made slow for real (a loopback proxy holding its
 * bytes) under callbacks over a fixed set of keep-alive connections keeps every answer slow while the loop is
 * not busy and the callbacks in flight stay at the connection count, so only this signal sees it. The bridge
 * must start answering 503, and every callback it answered 200 must reach the agent's socket exactly once. A
 * healthy steady load over the same kind of connections gets no 503 with the signal on.
 */
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { admin, createHarness, postJson, type Harness } from '../helpers/bridge-harness.js';
import { callIdCounts, sender } from '../helpers/callback-sender.js';
import { spawnBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../helpers/redis-server.js';
import { startSlowTcpProxy, type SlowTcpProxy } from '../helpers/slow-tcp-proxy.js';
import { eventually } from '../helpers/wait.js';
import { openAgentSocket, type AgentSocket } from '../helpers/ws-client.js';

const EXTENSION = '101';
/** Keep-alive connections the "PBX" sends over: the bridge never has more callbacks in flight than this. */
const CONNECTIONS = 64;

describe('the answer-time signal (Redis mode, a Redis made slow by a proxy)', () => {
  let redis: RedisServerHandle;
  let proxy: SlowTcpProxy;
  let h: Harness;
  let bridge: Bridge;
  let agent: AgentSocket;
  let pool: Pool;

  beforeAll(async () => {
    // A redis-server of its own: the proxy slows only this test's bridge.
    redis = await startRedisServer();
    proxy = await startSlowTcpProxy({ host: '127.0.0.1', port: redis.port });
    h = await createHarness();
    bridge = await h.startBridge(
      {
        REDIS_URL: `redis://127.0.0.1:${proxy.port}/0`,
        LOG_LEVEL: 'info',
        // Only the answer time judges here: the loop stays cool while it waits on Redis.
        CALLBACK_MAX_ANSWER_MS: '25',
        CALLBACK_MAX_EVENT_LOOP_UTILIZATION: '0',
        CALLBACK_MAX_EVENT_LOOP_DELAY_MS: '0',
        CALLBACK_MAX_IN_FLIGHT: '0',
        CALLBACK_MAX_OPEN_CALLS: '0',
      },
      { redisPrefix: uniquePrefix('answer-time') },
    );
    const minted = await postJson(`${bridge.url}/api/tokens`, { extension: EXTENSION, role: 'agent', ttlSeconds: 600 }, admin);
    agent = await openAgentSocket(bridge.url, String(minted.body['token']));
    await agent.waitFor((frames) => frames.some((f) => f.type === 'ready'));
    pool = new Pool(bridge.url, { connections: CONNECTIONS, pipelining: 1 });
  }, 30_000);

  afterAll(async () => {
    agent?.close();
    await pool?.close();
    await h?.close();
    await proxy?.close();
    await redis?.stop();
  });

  it('when Redis answers every append late under callbacks over a fixed set of connections, then the bridge answers some 503 and every callback answered 200 reaches the agent once', async () => {
    // 30 ms each way: every append waits at least 60 ms, so even the quickest answer of each sample is slow.
    proxy.setDelay(30);
    const load = sender(pool, 'slow', { extension: EXTENSION, workers: CONNECTIONS * 2 });
    try {
      await eventually(() => load.status(503) >= 20 && load.accepted.length >= 100, 30_000, 'the bridge to refuse callbacks while Redis is slow');
    } finally {
      await load.stop();
      proxy.setDelay(0);
    }
    expect([...load.statuses.keys()].sort()).toEqual([200, 503]);

    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    expect(metrics).toMatch(/bridge_callbacks_refused_total\{reason="answer_time"\} [1-9]/);
    expect(metrics).toMatch(/bridge_callbacks_refused_total\{reason="event_loop"\} 0\b/);

    await eventually(() => load.accepted.every((id) => callIdCounts(agent).has(id)), 20_000, 'every accepted callback to reach the agent');
    const counts = callIdCounts(agent);
    const notOnce = load.accepted.filter((id) => counts.get(id) !== 1);
    expect(notOnce).toEqual([]);
    // Nothing refused reached the agent either.
    expect([...counts.keys()].filter((id) => id.startsWith('slow-')).length).toBe(load.accepted.length);
  }, 60_000);

});

describe('the answer-time signal under a healthy steady load', () => {
  let redis: RedisServerHandle;
  let h: Harness;
  let bridge: BridgeProcess;
  let agent: AgentSocket;
  let pool: Pool;

  beforeAll(async () => {
    // A bridge process of its own (the test's sender does not share its event loop) judged by answer time alone.
    // 25 ms, not the default 10: on a test machine shared with other jobs (load 5+ on 2 cores) a CPU wait alone
    // can keep a sample's quickest answer over 10 ms (docs/performance.md, "Overload: slow answers").
    redis = await startRedisServer();
    h = await createHarness();
    bridge = await spawnBridge({
      pbxApi: h.simulatorApi,
      redisUrl: redis.url,
      env: { CALLBACK_MAX_ANSWER_MS: '25', CALLBACK_MAX_EVENT_LOOP_UTILIZATION: '0', CALLBACK_MAX_EVENT_LOOP_DELAY_MS: '0' },
    });
    const minted = await postJson(`${bridge.url}/api/tokens`, { extension: EXTENSION, role: 'agent', ttlSeconds: 600 }, admin);
    agent = await openAgentSocket(bridge.url, String(minted.body['token']));
    await agent.waitFor((frames) => frames.some((f) => f.type === 'ready'));
    pool = new Pool(bridge.url, { connections: CONNECTIONS, pipelining: 1 });
  }, 60_000);

  afterAll(async () => {
    agent?.close();
    await pool?.close();
    bridge?.kill('SIGTERM');
    await bridge?.exited;
    await h?.close();
    await redis?.stop();
  });

  it('when callbacks come at a steady 600/s over keep-alive connections, then none is refused and every one reaches the agent', async () => {
    // 600/s: over MIN_ARRIVALS_PER_SAMPLE per 100 ms, so the signal judges these samples.
    const load = sender(pool, 'steady', { extension: EXTENSION, ratePerS: 600 });
    await eventually(() => load.accepted.length >= 1800, 30_000, 'the steady load to be taken');
    await load.stop();
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    const refusals = metrics.split('\n').filter((l) => l.startsWith('bridge_callbacks_refused_total{') || l.startsWith('bridge_callbacks_answer_min_seconds_bucket'));
    expect([...load.statuses.keys()], refusals.join('; ')).toEqual([200]);
    await eventually(() => load.accepted.every((id) => callIdCounts(agent).has(id)), 20_000, 'every steady callback to reach the agent');
  }, 60_000);
});
