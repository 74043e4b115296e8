/**
 * The bridge's OpenAPI 3.1 document (docs/api.md, "OpenAPI"), built once from the routes' zod schemas and the
 * error registry, and `GET /openapi.json` that serves it.
 */
import { readFileSync } from 'node:fs';
import type { RequestHandler } from 'express';
import { buildDocument, ref, type JsonSchema } from './build.js';
import { OPERATIONS } from './operations.js';

export { OPERATIONS } from './operations.js';

const TAGS = [
  { name: 'PBX callback', description: 'What the PBX calls when a call rings, is answered or ends.' },
  { name: 'Agents', description: "Agents' sign-in and their own read routes (agent token)." },
  { name: 'WebSocket', description: 'Screen-pops: the event envelopes of the agent\'s extension, live and resumable.' },
  { name: 'Extensions', description: 'Admin: extensions the bridge keeps subscribed at the PBX.' },
  { name: 'Tokens', description: 'Admin: agent and supervisor tokens.' },
  { name: 'Webhooks', description: 'Admin: CRM webhook endpoints and their deliveries.' },
  { name: 'Phonebook', description: 'Admin: the in-memory phonebook.' },
  { name: 'Calls', description: 'Admin: the call journal.' },
  { name: 'Contacts', description: 'Saving a contact from the pop (agent token or admin key).' },
  { name: 'Operations', description: 'Health, readiness, metrics, recent callbacks, this document.' },
  { name: 'Demo', description: 'Demo mode only.' },
  { name: 'Static', description: 'The agent page and the embeddable client.' },
];

const signatureHeader = (name: string, description: string): JsonSchema => ({ name, in: 'header', required: true, description, schema: { type: 'string' } });

/** One delivery to a registered CRM endpoint (docs/api.md, "CRM webhook delivery"). */
const WEBHOOKS = {
  callEvent: {
    post: {
      operationId: 'crmWebhookDelivery',
      tags: ['Webhooks'],
      summary: 'An event, POSTed to every active endpoint whose events include its type',
      description:
        'Signed per Standard Webhooks: webhook-signature is `v1,` + base64 HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the ' +
        'base64-decoded part of the secret after `whsec_`. Retried on anything but a 2xx within WEBHOOK_TIMEOUT_MS (WEBHOOK_RETRY_SCHEDULE); 410 disables the endpoint.',
      security: [],
      parameters: [
        signatureHeader('webhook-id', 'the event id (the same on every attempt)'),
        signatureHeader('webhook-timestamp', 'Unix seconds of this attempt'),
        signatureHeader('webhook-signature', 'v1,<base64 HMAC-SHA256>'),
      ],
      requestBody: { required: true, content: { 'application/json': { schema: ref('EventEnvelope') } } },
      responses: {
        '200': { description: 'Any 2xx: delivered' },
        '410': { description: 'Gone: the endpoint is disabled at once' },
        default: { description: 'Anything else, or no answer in time: retried' },
      },
    },
  },
};

let cached: { json: string } | null = null;

/** The package's version: src/openapi/ and dist/openapi/ are both two levels below package.json. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

/** The document as an object (built once per process). */
export function openApiDocument(): Record<string, unknown> {
  return JSON.parse(openApiJson()) as Record<string, unknown>;
}

export function openApiJson(): string {
  cached ??= {
    json: JSON.stringify(
      buildDocument({
        info: {
          title: 'HoduPBX CRM bridge',
          version: packageVersion(),
          summary: 'Ringing callbacks from the HoduPBX cloud PBX become enriched screen-pops and signed CRM webhooks.',
          description: 'The public interface as built; docs/api.md describes each route, docs/api-errors.md each error code.',
        },
        tags: TAGS,
        operations: OPERATIONS,
        webhooks: WEBHOOKS,
      }),
    ),
  };
  return cached.json;
}

/** `GET /openapi.json`: public; the document changes only with the code, so clients may cache it. */
export function serveOpenApi(): RequestHandler {
  return (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.type('application/json').send(openApiJson());
  };
}
