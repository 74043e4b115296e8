/**
 * Every Express router of the bridge, in the order they are mounted: the callback route's rare forms, agents,
 * admin, ops, extensions, webhooks, calls, contacts, and in demo mode the demo routes. The routes themselves
 * are in the `*-routes.ts` modules (docs/api.md).
 */
import type { Router } from 'express';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { KeyValueStore, Lock, PbxApi } from '../core/ports.js';
import type { Logger } from '../logger.js';
import type { TokenService } from '../auth/tokens.js';
import { LoginRateLimiter } from '../auth/login-rate-limit.js';
import type { CallsModule } from '../calls/index.js';
import type { WebhookService } from '../crm-webhooks/service.js';
import type { DemoPbx } from '../demo.js';
import type { ReadinessPart } from '../ops/readiness.js';
import type { PhonebookService } from '../phonebook/service.js';
import type { SubscriptionManager } from '../subscriptions/index.js';
import { createAdminRouter } from './admin-routes.js';
import { createAgentRouter } from './agent-routes.js';
import { createCallRouter } from './call-routes.js';
import { callbackRouterFor, type CallbackHandler } from './callback-route.js';
import { createContactRouter } from './contact-routes.js';
import { createDemoRouter } from './demo-routes.js';
import { createExtensionRouter } from './extension-routes.js';
import { createOpsRouter } from './ops-routes.js';
import type { RecentCallbacks } from './recent-callbacks.js';
import { createWebhookRouter } from './webhook-routes.js';

export interface RouteDeps {
  config: Pick<Config, 'pbxTimeoutMs' | 'agentTokenTtlS' | 'metricsToken'>;
  adminApiKey: string | null;
  logger: Logger;
  registry: Registry;
  /** What /readyz is made of, in the order of the answer's fields. */
  readiness: readonly ReadinessPart[];
  kv: KeyValueStore;
  lock: Lock;
  pbx: PbxApi;
  tokens: TokenService;
  callbackHandler: CallbackHandler;
  recentCallbacks: RecentCallbacks;
  phonebook: PhonebookService;
  subscriptions: SubscriptionManager;
  webhooks: WebhookService;
  calls: CallsModule;
  demo: DemoPbx | null;
  /** Whether the store (Redis) can be used now; sign-in answers 503 before asking the PBX when it cannot. */
  storeAvailable?: () => boolean;
}

export function createRouters(d: RouteDeps): Router[] {
  const { adminApiKey, logger, tokens, subscriptions, calls, demo } = d;
  return [
    callbackRouterFor(d.callbackHandler),
    createAgentRouter({
      pbx: d.pbx,
      tokens,
      limiter: new LoginRateLimiter(d.kv, d.lock, { logger, inFlightTtlMs: d.config.pbxTimeoutMs + 5000 }),
      tokenTtlS: d.config.agentTokenTtlS,
      logger,
      storeAvailable: d.storeAvailable,
      hooks: { onLogin: (claims, password) => subscriptions.agentSignedIn(claims, password), onLogout: (claims) => subscriptions.agentSignedOut(claims) },
    }),
    createAdminRouter({ adminApiKey, tokens, defaultTokenTtlS: d.config.agentTokenTtlS, phonebook: d.phonebook, recentCallbacks: d.recentCallbacks }),
    createOpsRouter({ registry: d.registry, metricsToken: d.config.metricsToken, readiness: d.readiness }),
    createExtensionRouter({ adminApiKey, subscriptions }),
    createWebhookRouter({ adminApiKey, webhooks: d.webhooks }),
    createCallRouter({ adminApiKey, verify: tokens.verify, journal: calls.journal, session: (id) => calls.tracker.session(id) }),
    createContactRouter({ pbx: d.pbx, directory: d.phonebook, adminApiKey, verifyToken: tokens.verify, logger }),
    ...(demo ? [createDemoRouter({ verify: tokens.verify, ringer: demo })] : []),
  ];
}
