/** The CRM webhook admin API of CONTRACT 5 (`/api/webhooks…`), all behind the admin key. */
import { Router, json } from 'express';
import { z } from 'zod';
import { EVENT_TYPES } from '../core/event.js';
import type { WebhookService } from '../crm-webhooks/service.js';
import { DELIVERY_STATUSES, type DeliveryStatus } from '../crm-webhooks/types.js';
import { requireAdminKey } from './auth-middleware.js';
import { parseInput, sendError } from './errors.js';

const createBody = z.object({
  url: z.string({ message: 'is required' }).trim().min(1, 'is required').max(2048, 'is too long (at most 2048 characters)'),
  events: z
    .array(z.enum(EVENT_TYPES, { message: `must be one of ${EVENT_TYPES.join(', ')}` }), { message: 'must be a list of event types' })
    .min(1, 'must list at least one event type, or be left out for all of them')
    .nullable()
    .optional(),
  description: z.string({ message: 'must be a string' }).trim().max(500, 'is too long (at most 500 characters)').nullable().optional(),
});

const deliveriesQuery = z.object({
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

export function createWebhookRouter(deps: { adminApiKey: string | null; webhooks: WebhookService }): Router {
  const router = Router();
  const admin = requireAdminKey(deps.adminApiKey);
  const { webhooks } = deps;

  router.post('/api/webhooks', admin, json({ limit: '16kb' }), async (req, res) => {
    const body = parseInput(createBody, req.body);
    const created = await webhooks.createEndpoint({ url: body.url, events: body.events ?? null, description: body.description ?? null });
    if (!created.ok) {
      if (created.reason === 'invalid') sendError(res, 400, 'invalid_request', `url: ${created.message}`);
      else if (created.reason === 'blocked') sendError(res, 422, 'url_not_allowed', `url: ${created.message}`);
      else sendError(res, 422, 'url_unresolvable', `url: ${created.message}`);
      return;
    }
    res.status(201).json({ ...created.endpoint, secret: created.secret });
  });

  router.get('/api/webhooks', admin, async (_req, res) => {
    res.json({ webhooks: await webhooks.listEndpoints() });
  });

  router.get('/api/webhooks/:id', admin, async (req, res) => {
    const endpoint = await webhooks.getEndpoint(String(req.params.id));
    if (!endpoint) return sendError(res, 404, 'not_found', 'No such webhook endpoint.');
    res.json(endpoint);
  });

  router.delete('/api/webhooks/:id', admin, async (req, res) => {
    if (!(await webhooks.deleteEndpoint(String(req.params.id)))) return sendError(res, 404, 'not_found', 'No such webhook endpoint.');
    res.status(204).end();
  });

  router.post('/api/webhooks/:id/enable', admin, async (req, res) => {
    const endpoint = await webhooks.enableEndpoint(String(req.params.id));
    if (!endpoint) return sendError(res, 404, 'not_found', 'No such webhook endpoint.');
    res.json(endpoint);
  });

  router.get('/api/webhooks/:id/deliveries', admin, async (req, res) => {
    const q = parseInput(deliveriesQuery, req.query);
    const list = await webhooks.listDeliveries(String(req.params.id), q.status ?? null, q.limit ?? 100);
    if (!list) return sendError(res, 404, 'not_found', 'No such webhook endpoint.');
    res.json({ deliveries: list });
  });

  router.post('/api/webhooks/:id/deliveries/:deliveryId/retry', admin, async (req, res) => {
    const result = await webhooks.retryDelivery(String(req.params.id), String(req.params.deliveryId));
    if (result.ok) {
      res.status(202).json(result.delivery);
      return;
    }
    if (result.reason === 'not_found') sendError(res, 404, 'not_found', 'No such delivery for this webhook endpoint.');
    else if (result.reason === 'endpoint_disabled') sendError(res, 409, 'endpoint_disabled', 'The endpoint is disabled; enable it first.');
    else sendError(res, 409, 'not_failed', 'Only a failed delivery can be sent again.');
  });

  return router;
}
