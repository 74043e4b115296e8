/**
 * The composition root of one bridge instance: builds its parts from a parsed Config in dependency order and
 * passes each what it needs. Each part registers its own metrics and /readyz fields; the HTTP server owns
 * listening and the graceful close; the parts close in reverse order. main.ts adds process concerns (env,
 * signals, exit); tests start whole bridges in-process through this.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Registry } from 'prom-client';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { EventLog } from './core/ports.js';
import { Lifecycle } from './lifecycle.js';
import { bridgeSecrets } from './secrets.js';
import { createRegistry } from './metrics.js';
import { openStores } from './stores.js';
import { DEFAULT_KEY_PREFIX } from './store/redis.js';
import { readinessDetail } from './ops/readiness.js';
import { PbxHealth } from './ops/pbx-health.js';
import { createPbxClient } from './pbx/client.js';
import { startDemoPbx, type DemoPbx } from './demo.js';
import { openPhonebook } from './phonebook/open.js';
import { openAuth } from './auth/open.js';
import { startSubscriptions } from './subscriptions/index.js';
import { startWebhookService } from './crm-webhooks/service.js';
import { startCallTracker, type CallTracker } from './calls/index.js';
import { createApp } from './http/app.js';
import { createHttpServer } from './http/server.js';
import { createRouters } from './http/routes.js';
import { createCallbackPath } from './http/callback-path.js';
import { RecentCallbacks } from './http/recent-callbacks.js';
import { createWsHub } from './ws/hub.js';

export interface BridgeOptions {
  /** Key prefix in Redis; tests give each bridge group its own. */
  redisPrefix?: string;
  publicDir?: string;
  /** This instance's id (subscription presence, event-log origin tags). Default: made here, once per bridge. */
  instanceId?: string;
}

export interface Bridge {
  server: Server;
  /** The Express app behind `server` (tests compare its routes with the OpenAPI document). */
  app: Express;
  /** http://host:port the bridge listens on. */
  url: string;
  port: number;
  config: Config;
  instanceId: string;
  /** Every metric of this bridge (GET /metrics). */
  registry: Registry;
  eventLog: EventLog;
  demo: DemoPbx | null;
  /** The call tracker (docs/calls.md). */
  calls: CallTracker;
  /** Secrets generated in demo mode, for the startup log. */
  generated: { adminApiKey?: string; callbackSecret?: string };
  /** Stops accepting, lets in-flight requests finish, closes sockets with 1001, then every part in reverse order. */
  close(): Promise<void>;
}

export async function startBridge(config: Config, logger: Logger, options: BridgeOptions = {}): Promise<Bridge> {
  // 48 random bits: unique among a deployment's instances, and short, since every event in the stream carries it.
  const instanceId = options.instanceId ?? randomBytes(6).toString('hex');
  const prefix = options.redisPrefix ?? DEFAULT_KEY_PREFIX;
  const registry = createRegistry();
  const parts = new Lifecycle(logger);
  try {
    const secrets = bridgeSecrets(config);
    // Demo mode: the in-process simulator stands in for the PBX.
    const demo = config.demo ? parts.own(await startDemoPbx(config, logger), 'demo PBX') : null;
    const pbxConfig = demo?.pbxConfig ?? config.pbx;
    if (!pbxConfig) throw new Error('PBX configuration missing');

    const stores = parts.own(await openStores({ redisUrl: config.redisUrl, prefix, instanceId, logger, registry }), 'stores');
    const { kv, lock, eventLog, redis } = stores;
    const pbxHealth = new PbxHealth(logger, registry);
    const pbx = parts.own(createPbxClient({ ...pbxConfig, maxResponseBytes: config.pbxMaxResponseBytes, onRequest: pbxHealth.record }), 'PBX client');

    const phonebook = parts.own(
      await openPhonebook({ pbx, kv, lock, redis, country: config.defaultCountry, refreshIntervalMs: config.phonebookRefreshS * 1000, logger, registry }),
      'phonebook',
    );
    const { tokens, revocations } = parts.own(await openAuth({ sessionSecret: secrets.sessionSecret, kv, redis, logger }), 'auth');
    // With Redis other instances list this instance's callbacks too: written at most 250 ms late. In memory
    // only this instance reads them, so they are built when listed. Closed after the HTTP server: writes what waits.
    const recentCallbacks = parts.own(new RecentCallbacks(kv, 50, { flushMs: redis ? 250 : null }));

    const subscriptions = parts.own(
      await startSubscriptions({
        pbx, lock, redis, logger, instanceId, registry, credentialsKey: secrets.credentialsKey,
        graceS: config.unsubscribeGraceS, resubscribeIntervalS: config.resubscribeIntervalS,
      }),
      'subscriptions',
    );
    const webhooks = parts.own(
      await startWebhookService({
        logger, eventLog, sharedLog: stores.shared, sharedLater: stores.resilient, kv, lock, redis: redis?.client ?? null, redisUrl: config.redisUrl, prefix, registry,
        allowPrivate: config.webhookAllowPrivate, retryScheduleS: config.webhookRetryScheduleS, timeoutMs: config.webhookTimeoutMs,
      }),
      'webhooks',
    );
    // Ringing callbacks open legs (the event carries the session id); state callbacks move them at once (docs/calls.md).
    const calls = parts.own(
      startCallTracker({
        pbx, eventLog, lock, redis, logger, registry, storeAvailable: stores.available, directory: phonebook.directory,
        config: config.calls, eventOptions: { crmLinkTemplate: config.crmLinkTemplate }, country: config.defaultCountry,
      }),
      'call tracker',
    );

    // The callback route is answered before Express, and refused past the bridge's limit (docs/performance.md).
    const callbacks = parts.own(
      createCallbackPath({ config, secret: secrets.callbackSecret, accept: (cb) => calls.tracker.accept(cb), openCalls: () => calls.tracker.openCalls(), recent: recentCallbacks, logger, registry }),
      'callback route',
    );

    const app = createApp({
      logger,
      publicDir: options.publicDir,
      trustProxy: config.trustProxy,
      routers: createRouters({
        config, adminApiKey: secrets.adminApiKey, logger, registry, kv, lock, pbx, tokens, recentCallbacks, subscriptions, webhooks, calls, demo,
        callbackHandler: callbacks.handler,
        phonebook: phonebook.service,
        readiness: [stores, pbxHealth, phonebook.readiness, calls.readiness, readinessDetail('demo', () => config.demo)],
        storeAvailable: stores.available,
      }),
    });

    // Agents' sockets: a revoked token's sockets close on every instance; an agent's open socket keeps its extension subscribed.
    const hub = createWsHub({
      verifyToken: tokens.verify, revocations, eventLog, logger, registry,
      maxSockets: config.wsMaxSockets, maxSocketsPerToken: config.wsMaxSocketsPerToken,
      onAgentConnected: (claims) => subscriptions.socketOpened(claims),
      onAgentDisconnected: (claims) => subscriptions.socketClosed(claims),
    });

    // The callback route first (no Express stack for the hot path); everything else, and the callback route's
    // rare forms, through Express. Closed first: it closes the hub's sockets while requests finish.
    const http = parts.own(createHttpServer({ handle: (req, res) => callbacks.handler.handle(req, res) || app(req, res), upgrades: hub }), 'HTTP server');
    const { port, url } = await http.listen(config.port, config.host);

    demo?.setCallbackUrl(`${url}/pbx/callback/${encodeURIComponent(secrets.callbackSecret)}`);
    await phonebook.service.start();

    return {
      server: http.server,
      app,
      url,
      port,
      config,
      instanceId,
      registry,
      eventLog,
      demo,
      calls: calls.tracker,
      generated: secrets.generated,
      close: () => parts.close(),
    };
  } catch (err) {
    await parts.close();
    throw err;
  }
}
