/**
 * Registering a webhook whose host name gets no DNS answer: POST /api/webhooks answers `503
 * url_lookup_timeout` naming `url`, with Retry-After, within the registration's lookup time limit, instead of
 * waiting on the system resolver. DNS is replaced by a resolver that never answers (the service's `resolve`).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookService, type WebhookService } from '../../src/crm-webhooks/service.js';
import type { Resolver } from '../../src/crm-webhooks/ssrf.js';
import { ERRORS } from '../../src/errors.js';
import { MemoryEventLog } from '../../src/events/memory-event-log.js';
import { createApp } from '../../src/http/app.js';
import { createWebhookRouter } from '../../src/http/webhook-routes.js';
import { createLogger } from '../../src/logger.js';
import { MemoryKeyValueStore, MemoryLock } from '../../src/store/memory.js';
import { SECRETS, admin } from '../helpers/bridge-harness.js';

describe('when a webhook is registered and DNS does not answer', () => {
  let server: Server;
  let url: string;
  let webhooks: WebhookService;
  const asked: string[] = [];
  const silentDns: Resolver = (host) => {
    asked.push(host);
    return new Promise(() => undefined);
  };

  beforeAll(async () => {
    const logger = createLogger('silent');
    webhooks = await startWebhookService({
      logger, eventLog: new MemoryEventLog(), kv: new MemoryKeyValueStore(), lock: new MemoryLock(), redis: null, redisUrl: null,
      prefix: 'test:', allowPrivate: false, retryScheduleS: [1], timeoutMs: 1000, resolve: silentDns, lookupTimeoutMs: 100,
    });
    const app = createApp({ logger, routers: [createWebhookRouter({ adminApiKey: SECRETS.adminApiKey, webhooks })] });
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await webhooks.close();
  });

  it('then it answers 503 url_lookup_timeout naming url, with Retry-After, and registers nothing', async () => {
    const res = await fetch(`${url}/api/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...admin },
      body: JSON.stringify({ url: 'https://crm.slow-dns.example/hook' }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe(String(ERRORS.WEBHOOK_ERR_URL_LOOKUP_TIMEOUT.retryAfterS));
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe('url_lookup_timeout');
    expect(body.message).toMatch(/^url: /);
    expect(body.message).toContain('crm.slow-dns.example');
    expect(asked).toEqual(['crm.slow-dns.example']);
    expect(await webhooks.listEndpoints()).toEqual([]);
  });
});
