/** The CRM webhook admin API of CONTRACT 5 (`/api/webhooks…`), all behind the admin key. */
import { Router, json } from 'express';
import { z } from 'zod';
import { EVENT_TYPES } from '../core/event.js';
import type { CreateEndpointResult, RetryResult, WebhookService } from '../crm-webhooks/service.js';
import { DELIVERY_STATUSES, type DeliveryStatus } from '../crm-webhooks/types.js';
import { requireAdminKey } from './auth-middleware.js';
import { BridgeError, type ErrorCode } from '../errors.js';
import { parseInput } from './errors.js';

export const createBody = z.object({
  url: z.string({ message: 'is required' }).trim().min(1, 'is required').max(2048, 'is too long (at most 2048 characters)'),
  events: z
    .array(z.enum(EVENT_TYPES, { message: `must be one of ${EVENT_TYPES.join(', ')}` }), { message: 'must be a list of event types' })
    .min(1, 'must list at least one event type, or be left out for all of them')
    .nullable()
    .optional(),
  description: z.string({ message: 'must be a string' }).trim().max(500, 'is too long (at most 500 characters)').nullable().optional(),
});

export const deliveriesQuery = z.object({
  status: z
    .enum(DELIVERY_STATUSES as [DeliveryStatus, ...DeliveryStatus[]], { message: 'must be pending, succeeded or failed' })
    .optional(),
  limit: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 1000, 'must be between 1 and 1000')
    .optional(),
});

/** Why an endpoint's URL was refused, as the registry's codes. */
const URL_REFUSAL = {
  invalid: 'WEBHOOK_ERR_INVALID_URL',
  blocked: 'WEBHOOK_ERR_URL_NOT_ALLOWED',
  unresolvable: 'WEBHOOK_ERR_URL_UNRESOLVABLE',
  lookup_timeout: 'WEBHOOK_ERR_URL_LOOKUP_TIMEOUT',
} as const satisfies Record<Extract<CreateEndpointResult, { ok: false }>['reason'], ErrorCode>;

/** Why a delivery cannot be sent again, as the registry's codes. */
const RETRY_REFUSAL = {
  not_found: 'WEBHOOK_ERR_DELIVERY_NOT_FOUND',
  endpoint_disabled: 'WEBHOOK_ERR_ENDPOINT_DISABLED',
  not_failed: 'WEBHOOK_ERR_NOT_FAILED',
} as const satisfies Record<Extract<RetryResult, { ok: false }>['reason'], ErrorCode>;

export function createWebhookRouter(deps: { adminApiKey: string | null; webhooks: WebhookService }): Router {
  const router = Router();
  const admin = requireAdminKey(deps.adminApiKey);
  const { webhooks } = deps;

  router.post('/api/webhooks', admin, json({ limit: '16kb' }), async (req, res) => {
    const body = parseInput(createBody, req.body);
    const created = await webhooks.createEndpoint({ url: body.url, events: body.events ?? null, description: body.description ?? null });
    if (!created.ok) throw new BridgeError(URL_REFUSAL[created.reason], `url: ${created.message}`);
    res.status(201).json({ ...created.endpoint, secret: created.secret });
  });

  router.get('/api/webhooks', admin, async (_req, res) => {
    res.json({ webhooks: await webhooks.listEndpoints() });
  });

  router.get('/api/webhooks/:id', admin, async (req, res) => {
    const endpoint = await webhooks.getEndpoint(String(req.params.id));
    if (!endpoint) throw new BridgeError('WEBHOOK_ERR_NOT_FOUND');
    res.json(endpoint);
  });

  router.delete('/api/webhooks/:id', admin, async (req, res) => {
    if (!(await webhooks.deleteEndpoint(String(req.params.id)))) throw new BridgeError('WEBHOOK_ERR_NOT_FOUND');
    res.status(204).end();
  });

  router.post('/api/webhooks/:id/enable', admin, async (req, res) => {
    const endpoint = await webhooks.enableEndpoint(String(req.params.id));
    if (!endpoint) throw new BridgeError('WEBHOOK_ERR_NOT_FOUND');
    res.json(endpoint);
  });

  router.get('/api/webhooks/:id/deliveries', admin, async (req, res) => {
    const q = parseInput(deliveriesQuery, req.query);
    const list = await webhooks.listDeliveries(String(req.params.id), q.status ?? null, q.limit ?? 100);
    if (!list) throw new BridgeError('WEBHOOK_ERR_NOT_FOUND');
    res.json({ deliveries: list });
  });

  router.post('/api/webhooks/:id/deliveries/:deliveryId/retry', admin, async (req, res) => {
    const result = await webhooks.retryDelivery(String(req.params.id), String(req.params.deliveryId));
    if (result.ok) {
      res.status(202).json(result.delivery);
      return;
    }
    throw new BridgeError(RETRY_REFUSAL[result.reason]);
  });

  return router;
}
