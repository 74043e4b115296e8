/**
 * Wires one bridge instance from a parsed Config: stores, PBX client (or the demo simulator), phonebook,
 * event log, HTTP routes and the WebSocket hub. main.ts adds process concerns (env, signals, exit);
 * tests start whole bridges in-process through this.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { Router } from 'express';
import type { AgentClaims } from './core/agent.js';
import type { Config, PbxConfig } from './config.js';
import type { Logger } from './logger.js';
import type { EventLog, KeyValueStore, Lock } from './core/ports.js';
import type { NormalizedCallback } from './core/callback.js';
import { eventTypeForState } from './core/event.js';
import { MemoryKeyValueStore, MemoryLock } from './store/memory.js';
import { createRedisClient, DEFAULT_KEY_PREFIX, RedisKeyValueStore, RedisLock } from './store/redis.js';
import { MemoryEventLog } from './events/memory-event-log.js';
import { RedisEventLog } from './events/redis-event-log.js';
import { ResilientEventLog } from './events/resilient-event-log.js';
import { createPbxClient } from './pbx/client.js';
import { PhonebookService } from './phonebook/service.js';
import { TokenService } from './auth/tokens.js';
import { LoginRateLimiter } from './auth/login-rate-limit.js';
import { createApp } from './http/app.js';
import { callbackRouterFor, createCallbackHandler } from './http/callback-route.js';
import { OverloadGuard } from './http/overload-guard.js';
import { RecentCallbacks } from './http/recent-callbacks.js';
import { createAgentRouter, type AgentSessionHooks } from './http/agent-routes.js';
import { createAdminRouter } from './http/admin-routes.js';
import { createOpsRouter, type Readiness } from './http/ops-routes.js';
import { createDemoRouter } from './http/demo-routes.js';
import { createExtensionRouter } from './http/extension-routes.js';
import { startSubscriptions } from './subscriptions/index.js';
import { createWsHub, type WsHub } from './ws/hub.js';
import { createMetrics, type BridgeMetrics } from './metrics.js';
import { PbxHealth } from './ops/pbx-health.js';
import { startDemoPbx, type DemoPbx } from './demo.js';
import { startWebhookService } from './crm-webhooks/service.js';
import { createWebhookRouter } from './http/webhook-routes.js';
import { MemoryRevocationBus, RedisRevocationBus, type RevocationBus } from './auth/revocation-bus.js';
import { createContactRouter } from './http/contact-routes.js';
import { RedisAddedContactsBus } from './phonebook/added-bus.js';
import { startCallTracker, type CallTracker } from './calls/index.js';
import { createCallRouter } from './http/call-routes.js';

export interface BridgeOptions {
  /** Key prefix in Redis; tests give each bridge group its own. */
  redisPrefix?: string;
  publicDir?: string;
}

export interface Bridge {
  server: Server;
  /** http://host:port the bridge listens on. */
  url: string;
  port: number;
  config: Config;
  metrics: BridgeMetrics;
  eventLog: EventLog;
  demo: DemoPbx | null;
  /** The call tracker (docs/calls.md). */
  calls: CallTracker;
  /** Secrets generated in demo mode, for the startup log. */
  generated: { adminApiKey?: string; callbackSecret?: string };
  /** Stops accepting, lets in-flight requests finish, closes sockets with 1001, then every client in reverse order. */
  close(): Promise<void>;
}

interface Stores {
  kv: KeyValueStore;
  lock: Lock;
  eventLog: EventLog;
  redis: Redis | null;
  /** The Redis event log with its outage mode; null in memory mode. */
  resilient: ResilientEventLog | null;
  close(): Promise<void>;
}

async function openStores(config: Config, logger: Logger, prefix: string): Promise<Stores> {
  if (!config.redisUrl) {
    const eventLog = new MemoryEventLog({ logger });
    return { kv: new MemoryKeyValueStore(), lock: new MemoryLock(), eventLog, redis: null, resilient: null, close: () => eventLog.close() };
  }
  // Commands issued in the same tick (appends, records, counters of concurrent callbacks) share one write.
  const redis = createRedisClient(config.redisUrl, 'bridge-commands', { enableAutoPipelining: true });
  const tail = createRedisClient(config.redisUrl, 'bridge-event-tail', { maxRetriesPerRequest: null });
  let redisDown = false;
  redis.on('error', (err: Error) => {
    if (!redisDown) logger.warn({ err: err.message }, 'Redis connection error');
    redisDown = true;
  });
  redis.on('ready', () => {
    if (redisDown) logger.info('Redis connection restored');
    redisDown = false;
  });
  tail.on('error', () => undefined);
  const shared = new RedisEventLog({ redis, subscriberRedis: tail, prefix, logger });
  // While Redis is unreachable it accepts events locally and shares them when Redis is back (docs/operations.md: "Redis is unreachable").
  const eventLog = new ResilientEventLog({ inner: shared, redis, logger });
  await eventLog.start();
  return {
    kv: new RedisKeyValueStore(redis, prefix),
    lock: new RedisLock(redis, prefix),
    eventLog,
    redis,
    resilient: eventLog,
    async close() {
      await eventLog.close();
      await shared.close();
      tail.disconnect();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

export async function startBridge(config: Config, logger: Logger, options: BridgeOptions = {}): Promise<Bridge> {
  const metrics = createMetrics();
  const generated: Bridge['generated'] = {};
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) {
      await close().catch((err: unknown) => logger.warn({ err }, 'error while closing'));
    }
  };

  try {
    // Demo mode: secrets are generated per run and the in-process simulator stands in for the PBX.
    const callbackSecret = config.callbackSecret ?? (generated.callbackSecret = randomBytes(18).toString('base64url'));
    const adminApiKey = config.adminApiKey ?? (config.demo ? (generated.adminApiKey = randomBytes(24).toString('base64url')) : null);
    const sessionSecret = config.sessionSecret ?? randomBytes(32).toString('base64url');

    let demo: DemoPbx | null = null;
    let pbxConfig: PbxConfig | null = config.pbx;
    if (config.demo) {
      demo = await startDemoPbx(config, logger);
      closers.push(() => demo?.close() ?? Promise.resolve());
      pbxConfig = demo.pbxConfig;
    }
    if (!pbxConfig) throw new Error('PBX configuration missing');

    const stores = await openStores(config, logger, options.redisPrefix ?? DEFAULT_KEY_PREFIX);
    closers.push(() => stores.close());

    const pbxHealth = new PbxHealth(logger);
    const pbx = createPbxClient({
      ...pbxConfig,
      maxResponseBytes: config.pbxMaxResponseBytes,
      onRequest: (endpoint, outcome, durationMs) => {
        pbxHealth.record(endpoint, outcome);
        metrics.pbxRequests.inc({ endpoint, outcome });
        metrics.pbxLatency.observe({ endpoint }, durationMs / 1000);
      },
    });
    closers.push(() => pbx.close());

    // Contacts created from the pop reach the other instances over pub/sub (docs/phonebook.md).
    const addedBus = stores.redis && config.redisUrl
      ? new RedisAddedContactsBus(stores.redis, createRedisClient(config.redisUrl, 'bridge-phonebook-added', { maxRetriesPerRequest: null }), options.redisPrefix ?? DEFAULT_KEY_PREFIX, logger)
      : null;
    if (addedBus) {
      closers.push(() => addedBus.close());
      await addedBus.start();
    }
    const phonebook = new PhonebookService({
      pbx,
      kv: stores.kv,
      lock: stores.lock,
      country: config.defaultCountry,
      refreshIntervalMs: config.phonebookRefreshS * 1000,
      logger,
      // One process alone has nobody to share the snapshot with.
      shareSnapshot: stores.redis !== null,
      ...(addedBus ? { bus: addedBus } : {}),
    });
    closers.push(() => phonebook.close());
    metrics.addGauge('bridge_phonebook_contacts', 'Contacts in the phonebook index', () => phonebook.status().contacts);
    metrics.addGauge('bridge_phonebook_age_seconds', 'Age of the phonebook snapshot', () => phonebook.status().ageSeconds ?? -1);

    // ── security wiring: a revoked token's sockets close on every instance (docs/security.md) ──
    let revocations: RevocationBus = new MemoryRevocationBus();
    if (stores.redis && config.redisUrl) {
      const bus = new RedisRevocationBus(
        stores.redis,
        createRedisClient(config.redisUrl, 'bridge-token-revocations', { maxRetriesPerRequest: null }),
        options.redisPrefix ?? DEFAULT_KEY_PREFIX,
        logger,
      );
      revocations = bus;
      closers.push(() => bus.close());
      await bus.start();
    }
    const revocationBus = revocations;
    const tokens = new TokenService(sessionSecret, stores.kv, Date.now, (jti) =>
      revocationBus.publish(jti).catch((err: unknown) => {
        // The revocation itself is stored: other instances refuse the token, and re-check open sockets on reconnect.
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not tell other instances about a revoked token');
      }),
    );
    // With Redis other instances list this instance's callbacks too: written at most 250 ms late. In memory
    // only this instance reads them, so they are built when listed.
    const recentCallbacks = new RecentCallbacks(stores.kv, 50, { flushMs: stores.redis ? 250 : null });
    // Closed after the HTTP server (closers run in reverse) and before the stores: writes what waits.
    closers.push(() => recentCallbacks.close());
    const countedDirectory = {
      lookup: (raw: string) => {
        const match = phonebook.lookup(raw);
        metrics.phonebookLookups.inc({ result: match.contact ? 'hit' : 'miss' });
        return match;
      },
      isExtension: (number: string) => phonebook.isExtension(number),
    };

    // Feature modules add their routers here, and hook into agent sessions (sign-in, sockets).
    const featureRouters: Router[] = [];
    const agentHooks: AgentSessionHooks = {};
    const socketHooks: { onAgentConnected?: (c: AgentClaims) => void; onAgentDisconnected?: (c: AgentClaims) => void } = {};

    // ── feature wiring: subscription manager ──
    // Demo mode has no CREDENTIALS_KEY: a random key per run (passwords stored by an earlier run then read as
    // undecryptable and show up as `failed` until the extension is registered or signed in again).
    const subscriptions = await startSubscriptions({
      pbx,
      lock: stores.lock,
      redis:
        stores.redis && config.redisUrl
          ? { client: stores.redis, url: config.redisUrl, prefix: options.redisPrefix ?? DEFAULT_KEY_PREFIX }
          : null,
      credentialsKey: config.credentialsKey ?? randomBytes(32),
      graceS: config.unsubscribeGraceS,
      resubscribeIntervalS: config.resubscribeIntervalS,
      logger,
    });
    closers.push(() => subscriptions.close());
    agentHooks.onLogin = (claims, password) => subscriptions.agentSignedIn(claims, password);
    agentHooks.onLogout = (claims) => subscriptions.agentSignedOut(claims);
    socketHooks.onAgentConnected = (claims) => subscriptions.socketOpened(claims);
    socketHooks.onAgentDisconnected = (claims) => subscriptions.socketClosed(claims);
    featureRouters.push(createExtensionRouter({ adminApiKey, subscriptions }));
    metrics.addGauge('bridge_subscriptions_leader', '1 when this instance leads subscriptions', () => (subscriptions.status().leader ? 1 : 0));
    metrics.addGauge('bridge_subscriptions_desired', 'Extensions that should be subscribed', () => subscriptions.status().desired);
    for (const state of ['subscribed', 'pending', 'failed', 'unsubscribed'] as const) {
      metrics.addGauge(`bridge_subscriptions_${state}`, `Known extensions in state ${state}`, () => subscriptions.status().byState[state]);
    }

    // ── feature wiring: CRM webhooks ──
    const webhooks = await startWebhookService({
      logger,
      eventLog: stores.eventLog,
      kv: stores.kv,
      lock: stores.lock,
      redis: stores.redis,
      redisUrl: config.redisUrl,
      prefix: options.redisPrefix ?? DEFAULT_KEY_PREFIX,
      allowPrivate: config.webhookAllowPrivate,
      retryScheduleS: config.webhookRetryScheduleS,
      timeoutMs: config.webhookTimeoutMs,
      registry: metrics.registry,
    });
    closers.push(() => webhooks.close());
    featureRouters.push(createWebhookRouter({ adminApiKey, webhooks }));

    // ── feature wiring: call tracker and journal (docs/calls.md) ──
    // Ringing callbacks open legs (the event carries the session id); state callbacks move them at once.
    const calls = startCallTracker({
      config: config.calls,
      pbx,
      eventLog: stores.eventLog,
      lock: stores.lock,
      redis: stores.redis ? { client: stores.redis, prefix: options.redisPrefix ?? DEFAULT_KEY_PREFIX } : null,
      directory: countedDirectory,
      eventOptions: { crmLinkTemplate: config.crmLinkTemplate },
      country: config.defaultCountry,
      logger,
      registry: metrics.registry,
      storeAvailable: () => stores.redis === null || stores.redis.status === 'ready',
    });
    closers.push(() => calls.close());
    const acceptCall = (cb: NormalizedCallback) => calls.tracker.accept(cb);
    featureRouters.push(
      createCallRouter({ adminApiKey, verify: tokens.verify, journal: calls.journal, session: (id) => calls.tracker.session(id) }),
    );

    // ── perf wiring: the callback route is answered before Express, and refused past the bridge's limit
    // (docs/performance.md) ──
    const overload = new OverloadGuard({
      maxInFlight: config.callbackMaxInFlight,
      maxDelayMs: config.callbackMaxEventLoopDelayMs,
      maxUtilization: config.callbackMaxEventLoopUtilization,
      maxOpenCalls: config.callbackMaxOpenCalls,
      openCalls: () => calls.tracker.openCalls(),
    });
    const callbackHandler = createCallbackHandler({
      secret: callbackSecret,
      fieldNames: config.callbackFields,
      accept: async (cb) => {
        const started = performance.now();
        const result = await acceptCall(cb);
        metrics.callbackToPublish.observe((performance.now() - started) / 1000);
        metrics.callbacks.inc({ result: result.duplicate ? 'duplicate' : 'accepted' });
        if (!result.duplicate) metrics.eventsPublished.inc({ type: eventTypeForState(cb.state) });
        return result;
      },
      recent: recentCallbacks,
      logger,
      overload,
    });
    closers.push(async () => {
      callbackHandler.close();
      overload.close();
    });
    metrics.addLabelledCounter('bridge_callbacks_refused_total', 'Callbacks answered 503 because the bridge was past its limit, by reason (in_flight, event_loop, open_calls)', ['reason'], () =>
      Object.entries(overload.stats().refused).map(([reason, value]) => ({ labels: { reason }, value })),
    );
    metrics.addGauge('bridge_callbacks_in_flight', 'Callbacks authenticated and not yet answered', () => overload.stats().inFlight);
    metrics.addGauge('bridge_callbacks_refuse_share', 'Share of callbacks refused now for event-loop load (0..1)', () => overload.stats().refuseShare);
    // ── feature wiring: contacts from the pop (docs/phonebook.md) ──
    featureRouters.push(createContactRouter({ pbx, directory: phonebook, adminApiKey, verifyToken: tokens.verify, logger }));

    const routers = [
      callbackRouterFor(callbackHandler),
      createAgentRouter({
        pbx,
        tokens,
        limiter: new LoginRateLimiter(stores.kv, stores.lock, { logger, inFlightTtlMs: config.pbxTimeoutMs + 5000 }),
        tokenTtlS: config.agentTokenTtlS,
        logger,
        hooks: agentHooks,
      }),
      createAdminRouter({ adminApiKey, tokens, defaultTokenTtlS: config.agentTokenTtlS, phonebook, recentCallbacks }),
      createOpsRouter({
        registry: metrics.registry,
        metricsToken: config.metricsToken,
        readiness: async (): Promise<Readiness> => {
          const reasons: string[] = [];
          let redis = 'not_configured';
          if (stores.redis) {
            redis = stores.redis.status === 'ready' ? 'ok' : 'unreachable';
            if (redis !== 'ok') reasons.push('Redis is unreachable');
          }
          const log = stores.resilient?.stats();
          const eventLog = log ? log.mode : 'memory';
          if (log && log.mode === 'degraded') {
            reasons.push(
              `event log degraded since ${log.degradedSince ?? 'now'}: callbacks reach this instance's agents only` +
                (log.buffered > 0 ? `; ${log.buffered} events wait to be shared` : ''),
            );
          }
          return {
            ready: reasons.length === 0,
            reasons,
            redis,
            eventLog,
            ...(log ? { eventLogBuffered: log.buffered } : {}),
            pbx: pbxHealth.status(),
            phonebook: phonebook.status(),
            calls: calls.tracker.status(),
            demo: config.demo,
          };
        },
      }),
    ];
    routers.push(...featureRouters);
    if (demo) routers.push(createDemoRouter({ verify: tokens.verify, ringer: demo }));

    const app = createApp({ logger, routers, publicDir: options.publicDir, trustProxy: config.trustProxy });
    // The callback route first (no Express stack for the hot path); everything else, and the callback route's
    // rare forms, through Express.
    const server = createServer((req, res) => {
      if (!callbackHandler.handle(req, res)) app(req, res);
    });
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    let hub: WsHub | null = null;
    hub = createWsHub({
      server,
      verifyToken: tokens.verify,
      eventLog: stores.eventLog,
      logger,
      onAgentConnected: (c) => socketHooks.onAgentConnected?.(c),
      onAgentDisconnected: (c) => socketHooks.onAgentDisconnected?.(c),
      maxSockets: config.wsMaxSockets,
      maxSocketsPerToken: config.wsMaxSocketsPerToken,
    });
    revocationBus.onRevoked((jti) => hub?.closeToken(jti));
    revocationBus.onResync(() => void hub?.recheckTokens());
    metrics.addLabelledCounter('bridge_ws_upgrades_refused_total', 'WebSocket upgrades refused by a socket cap (token: 429, process: 503)', ['limit'], () => {
      const st = hub?.stats();
      return [
        { labels: { limit: 'token' }, value: st?.refusedTokenLimit ?? 0 },
        { labels: { limit: 'process' }, value: st?.refusedProcessLimit ?? 0 },
      ];
    });
    metrics.addCounter('bridge_ws_revoked_closes_total', 'Sockets closed because their token was revoked', () => hub?.stats().revokedCloses ?? 0);
    metrics.addGauge('bridge_ws_sockets', 'Open agent WebSockets', () => hub?.stats().sockets ?? 0);
    metrics.addCounter('bridge_ws_frames_sent_total', 'Frames sent to agent WebSockets', () => hub?.stats().framesSent ?? 0);
    metrics.addCounter('bridge_ws_frames_dropped_total', 'Frames not sent (socket closing, or backlog over the limit)', () => hub?.stats().framesDropped ?? 0);
    metrics.addCounter('bridge_ws_slow_reader_closes_total', 'Sockets closed with 1013 because they read too slowly', () => hub?.stats().slowReaderCloses ?? 0);
    if (stores.redis) {
      const redisClient = stores.redis;
      const resilient = stores.resilient;
      metrics.addGauge('bridge_redis_up', '1 while the Redis command connection is ready', () => (redisClient.status === 'ready' ? 1 : 0));
      if (resilient) {
        metrics.addGauge('bridge_event_log_degraded', '1 while the event log runs without Redis (local delivery only)', () => (resilient.mode() === 'degraded' ? 1 : 0));
        metrics.addGauge('bridge_event_log_buffered', 'Events accepted during a Redis outage, not yet in the shared log', () => resilient.stats().buffered);
        metrics.addCounter('bridge_events_degraded_total', 'Events accepted while Redis was unreachable (delivered locally, shared later)', () => resilient.stats().degradedEvents);
        metrics.addCounter('bridge_events_degraded_refused_total', 'Callbacks refused (503) because the outage buffer was full', () => resilient.stats().refused);
        metrics.addLabelledCounter('bridge_events_degraded_shared_total', 'Events from an outage handed to the shared log, by outcome (shared: added under a new id; duplicate: already there)', ['outcome'], () =>
          Object.entries(resilient.stats().flushed).map(([outcome, value]) => ({ labels: { outcome }, value })),
        );
      }
    }

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

    closers.push(async () => {
      // Stop accepting; in-flight requests finish; WebSockets get 1001; stragglers are cut after 8 s.
      // Requests already on a kept-alive connection are still answered, with `Connection: close`, so a busy
      // client (the PBX under load) cannot hold the server open by sending the next request on the same socket.
      server.on('request', (_req, res: ServerResponse) => {
        if (!res.headersSent) res.setHeader('Connection', 'close');
      });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const idleSweep = setInterval(() => server.closeIdleConnections(), 100);
      await hub?.close();
      const force = setTimeout(() => server.closeAllConnections(), 8000);
      await closed;
      clearTimeout(force);
      clearInterval(idleSweep);
    });

    if (demo) demo.setCallbackUrl(`${url}/pbx/callback/${encodeURIComponent(callbackSecret)}`);
    await phonebook.start();

    return {
      server,
      url,
      port,
      config,
      metrics,
      eventLog: stores.eventLog,
      demo,
      calls: calls.tracker,
      generated,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
