/**
 * Every route of the bridge's public interface (docs/api.md), with the zod schemas the routes validate with
 * and the registry codes they answer. A test walks the Express app and fails when a route is missing here.
 */
import { z } from 'zod';
import { CALLBACK_FIELD_ALIASES } from '../core/callback.js';
import { agentQuery, listQuery } from '../http/call-routes.js';
import { contactBody } from '../http/contact-routes.js';
import { ringBody } from '../http/demo-routes.js';
import { loginBody } from '../http/agent-routes.js';
import { lookupQuery, tokenBody, tokenIdParams } from '../http/admin-routes.js';
import { params as extensionParams, putBody as extensionBody } from '../http/extension-routes.js';
import { createBody as webhookBody, deliveriesQuery } from '../http/webhook-routes.js';
import { ERRORS, type ErrorCode } from '../errors.js';
import { JSON_BODY, STORED, VALIDATED, callbackErrorResponses, upgradeRefusals } from './responses.js';
import { ref, wrapped, type JsonSchema, type Method, type Operation } from './build.js';

const str: JsonSchema = { type: 'string' };
const nullableStr: JsonSchema = { type: ['string', 'null'] };
const obj = (properties: Record<string, JsonSchema>, required = Object.keys(properties)): JsonSchema => ({ type: 'object', required, properties });

const CORS_GET = 'Cross-origin: `Access-Control-Allow-Origin: *` (bearer token, no cookies); `OPTIONS` answers the preflight.';

// ---- the PBX callback ------------------------------------------------------------------------------------

const callbackFields: JsonSchema = {
  type: 'object',
  description:
    'Field names match without regard to case, `-` or `_`; the first listed alias with a value wins (PBX_CALLBACK_FIELDS adds site names). ' +
    'JSON fields may be nested under `data`. Query fields are merged under the body\'s.',
  properties: Object.fromEntries(
    Object.entries(CALLBACK_FIELD_ALIASES).map(([canonical, aliases]) => [
      aliases[0] ?? canonical,
      { type: ['string', 'number'], description: `${canonical}, under one of the names ${aliases.join(', ')}` },
    ]),
  ),
  additionalProperties: true,
};

const callbackBody = {
  required: false,
  description: 'At most 64 KiB after decompression (gzip, deflate, br). No body: the query string only.',
  content: {
    'application/json': { schema: callbackFields },
    'application/x-www-form-urlencoded': { schema: callbackFields },
  },
};

const callbackResponses = {
  '200': {
    description: 'Accepted (`duplicate: true` for the same callback again). Cache-Control: no-store.',
    content: {
      'application/json': {
        schema: ref('CallbackAnswer'),
        examples: {
          accepted: { value: { status: 'SUCCESS', message: 'Callback accepted.', eventId: '0000000000012-0' } },
          duplicate: { value: { status: 'SUCCESS', message: 'Callback accepted.', eventId: '0000000000012-0', duplicate: true } },
        },
      },
    },
  },
  ...callbackErrorResponses(),
};

const CALLBACK_DESCRIPTION =
  'The PBX\'s call-state callback: a ringing callback makes a `call.ringing` event, an answered or ended one moves the call. ' +
  'Answered before Express on a lean path (same answers). Auth: the callback secret in the query, the header, or the last path segment; checked before the body is read.';

function callbackOperations(): Operation[] {
  const methods: Method[] = ['get', 'post', 'head'];
  const out: Operation[] = [];
  for (const [path, suffix] of [['/pbx/callback', ''], ['/pbx/callback/{secret}', 'WithSecretPath']] as const) {
    for (const method of methods) {
      out.push({
        method,
        path,
        operationId: `pbxCallback${suffix}${method[0]?.toUpperCase()}${method.slice(1)}`,
        tag: 'PBX callback',
        summary: `PBX callback (${method.toUpperCase()}${suffix ? ', secret in the path' : ''})`,
        description: CALLBACK_DESCRIPTION,
        // With the secret in the path no other credential is needed; the query and header forms still work.
        auth: suffix ? 'none' : 'callback',
        ...(suffix ? { pathParams: { secret: 'PBX_CALLBACK_SECRET, percent-encoded' } } : {}),
        ...(method === 'post' ? { body: { raw: callbackBody } } : {}),
        ok: [],
        responses: callbackResponses,
      });
    }
  }
  return out;
}

// ---- contact creation's PBX answers and the WebSocket handshake's refusals, from the registry ----------------

const CONTACT_ERRORS: ErrorCode[] = ['CONTACT_ERR_ALREADY_EXISTS', 'CONTACT_ERR_REFUSED', 'CONTACT_ERR_PBX_BAD_RESPONSE', 'CONTACT_ERR_PBX_UNAVAILABLE'];

const WS_REFUSALS = upgradeRefusals([
  { status: ERRORS.AUTH_ERR_INVALID_TOKEN.status, error: ERRORS.AUTH_ERR_INVALID_TOKEN.error, when: 'missing, forged, revoked or expired' },
  { status: ERRORS.WS_ERR_TOO_MANY_SOCKETS_FOR_TOKEN.status, error: ERRORS.WS_ERR_TOO_MANY_SOCKETS_FOR_TOKEN.error, when: 'the token has WS_MAX_SOCKETS_PER_TOKEN sockets open' },
  { status: ERRORS.WS_ERR_TOO_MANY_SOCKETS.status, error: ERRORS.WS_ERR_TOO_MANY_SOCKETS.error, when: 'the process has WS_MAX_SOCKETS sockets open' },
  { status: ERRORS.WS_ERR_SHUTTING_DOWN.status, error: ERRORS.WS_ERR_SHUTTING_DOWN.error, when: 'graceful close' },
  { status: ERRORS.WS_ERR_UNAVAILABLE.status, error: ERRORS.WS_ERR_UNAVAILABLE.error, when: 'the token could not be checked' },
]);

// ---- shapes of answers not worth a component ---------------------------------------------------------------------

const tokenIssued = obj({ token: str, id: { type: 'string', description: 'the token id, for DELETE /api/tokens/{id}' }, expiresAt: str });
const recentCallback = obj({
  time: str,
  method: str,
  path: { type: 'string', description: 'a secret path segment shown as [redacted]' },
  query: { type: 'object', additionalProperties: true },
  headers: { type: 'object', additionalProperties: { type: 'string' } },
  secretFrom: { type: 'array', items: { enum: ['path', 'query', 'header'] } },
  fields: { type: ['object', 'null'], additionalProperties: true },
  rawBody: nullableStr,
  normalized: { type: ['object', 'null'], additionalProperties: true },
  result: obj({ status: { type: 'integer' }, eventId: nullableStr, duplicate: { type: 'boolean' }, error: nullableStr }),
});
const readiness = {
  type: 'object',
  required: ['status', 'ready', 'reasons'],
  properties: {
    status: { enum: ['ready', 'unavailable'] },
    ready: { type: 'boolean' },
    reasons: { type: 'array', items: str },
    redis: { enum: ['ok', 'unreachable', 'not_configured'] },
    eventLog: { enum: ['shared', 'degraded', 'memory'] },
    eventLogBuffered: { type: 'integer' },
    pbx: { type: 'object', additionalProperties: true },
    phonebook: ref('PhonebookStatus'),
    calls: { type: 'object', additionalProperties: true },
    demo: { type: 'boolean' },
  },
};
const customField = obj({ name: str, type: str, required: { type: 'boolean' }, items: { type: ['array', 'null'], items: str }, maxLength: { type: ['integer', 'null'] } });
const noBody = (status: number, description: string) => ({ status, description });

export const OPERATIONS: readonly Operation[] = [
  ...callbackOperations(),

  // ---- agents ----
  {
    method: 'post', path: '/api/agents/login', operationId: 'agentLogin', tag: 'Agents', auth: 'none',
    summary: 'Sign in with the extension and its web password (checked by the PBX)',
    description: 'On success the extension is kept subscribed while the agent is there. 10 refused attempts a minute per extension or client address are then 429.',
    body: { schema: loginBody, limit: '16 KiB' },
    ok: [{ status: 200, description: 'An agent token valid AGENT_TOKEN_TTL_S', json: obj({ token: str, extension: str, expiresAt: str }) }],
    errors: [...JSON_BODY, 'LOGIN_ERR_INVALID_CREDENTIALS', 'LOGIN_ERR_TOO_MANY_ATTEMPTS', 'LOGIN_ERR_IN_PROGRESS', 'LOGIN_ERR_PBX_UNAVAILABLE', ...STORED],
  },
  {
    method: 'post', path: '/api/agents/logout', operationId: 'agentLogout', tag: 'Agents', auth: 'agent',
    summary: 'Sign out: revoke the token', description: 'Every WebSocket of the token, on every instance, closes with 4001.',
    ok: [noBody(204, 'Revoked')],
  },
  {
    method: 'get', path: '/api/agents/session', operationId: 'agentSession', tag: 'Agents', auth: 'agent',
    summary: "The token's session", description: `Tells a revoked token from a network failure. ${CORS_GET}`,
    ok: [{ status: 200, description: 'The token is valid', json: obj({ extension: str, role: { enum: ['agent', 'supervisor'] }, expiresAt: str }) }],
  },
  { method: 'options', path: '/api/agents/session', operationId: 'agentSessionPreflight', tag: 'Agents', auth: 'none', summary: 'CORS preflight', ok: [noBody(204, 'Allowed from any origin')] },
  {
    method: 'get', path: '/api/agents/calls', operationId: 'agentCalls', tag: 'Agents', auth: 'agent',
    summary: 'Recent calls: with a number, the last calls with it; without, the agent\'s own',
    description: `Newest first; limit defaults to 5 with number, 15 without. ${CORS_GET}`,
    query: agentQuery,
    paramNotes: { number: 'the caller: matches every written form of the number', limit: 'whole number 1-50; default 5 with number, 15 without' },
    ok: [{ status: 200, description: 'Journal entries', json: wrapped('calls', { type: 'array', items: ref('JournalEntry') }) }],
    errors: VALIDATED,
  },
  { method: 'options', path: '/api/agents/calls', operationId: 'agentCallsPreflight', tag: 'Agents', auth: 'none', summary: 'CORS preflight', ok: [noBody(204, 'Allowed from any origin')] },

  // ---- WebSocket ----
  {
    method: 'get', path: '/ws', operationId: 'agentWebSocket', tag: 'WebSocket', auth: 'websocket',
    summary: 'The agent WebSocket: ready frame, then event envelopes',
    description:
      'A WebSocket upgrade (not answered by Express). Frames to the client, text JSON: `WsReadyFrame` first, then one `EventEnvelope` per event of the ' +
      "token's extension (every event for a supervisor), and `{\"type\":\"pong\"}` for a client's `{\"type\":\"ping\"}`. Other client frames are ignored; " +
      'one over 4 KiB closes with 1009. The server pings every 30 s. Close codes: 4001 token expired or revoked, 1013 client reads too slowly, ' +
      '1001 server shutting down, 1011 replay failed (reconnect with the last id received).',
    query: z.object({ lastEventId: z.string().optional().describe('resume after this event id: every event after it, then the live ones') }),
    ok: [{
      status: 101,
      description: 'Switching Protocols. Server frames: WsReadyFrame, then EventEnvelope…',
      content: { 'application/json': { schema: { oneOf: [ref('WsReadyFrame'), ref('EventEnvelope'), obj({ type: { const: 'pong' } })] } } },
    }],
    responses: WS_REFUSALS,
  },

  // ---- admin: extensions ----
  {
    method: 'get', path: '/api/extensions', operationId: 'listExtensions', tag: 'Extensions', auth: 'admin', summary: 'Extensions the bridge keeps subscribed',
    ok: [{ status: 200, description: 'In numeric order', json: wrapped('extensions', { type: 'array', items: ref('ExtensionView') }) }],
    errors: STORED,
  },
  {
    method: 'put', path: '/api/extensions/{number}', operationId: 'registerExtension', tag: 'Extensions', auth: 'admin',
    summary: 'Keep an extension subscribed (the PBX checks the password first)',
    description: 'The password is stored encrypted (CREDENTIALS_KEY). On any failure nothing is stored.',
    params: extensionParams, body: { schema: extensionBody, limit: '16 KiB' }, paramNotes: { number: 'the extension number' },
    ok: [{ status: 200, description: 'Registered', json: ref('ExtensionView') }],
    errors: [...JSON_BODY, 'EXTENSION_ERR_REFUSED', 'PBX_ERR_UNREACHABLE', 'PBX_ERR_BAD_RESPONSE', ...STORED],
  },
  {
    method: 'delete', path: '/api/extensions/{number}', operationId: 'unregisterExtension', tag: 'Extensions', auth: 'admin',
    summary: 'Stop keeping an extension subscribed (unsubscribed unless an agent is on it)', params: extensionParams,
    ok: [{ status: 200, description: 'No longer kept by the operator', json: ref('ExtensionView') }],
    errors: [...VALIDATED, 'EXTENSION_ERR_NOT_REGISTERED', ...STORED],
  },

  // ---- admin: tokens ----
  {
    method: 'post', path: '/api/tokens', operationId: 'issueToken', tag: 'Tokens', auth: 'admin', summary: 'Issue an agent or supervisor token',
    body: { schema: tokenBody, limit: '16 KiB' },
    ok: [{ status: 200, description: 'Issued', json: tokenIssued }],
    errors: [...JSON_BODY, 'TOKEN_ERR_WILDCARD_AGENT'],
  },
  {
    method: 'delete', path: '/api/tokens/{id}', operationId: 'revokeToken', tag: 'Tokens', auth: 'admin',
    summary: 'Revoke a token by id', description: 'Its sockets close with 4001 on every instance.', params: tokenIdParams, paramNotes: { id: 'the id POST /api/tokens answered (a UUID)' },
    ok: [noBody(204, 'Revoked')], errors: [...VALIDATED, 'TOKEN_ERR_NOT_FOUND', ...STORED],
  },

  // ---- admin: webhooks ----
  {
    method: 'post', path: '/api/webhooks', operationId: 'createWebhook', tag: 'Webhooks', auth: 'admin', summary: 'Register a CRM webhook endpoint',
    description: 'Receives events from about now on (no backfill). The URL must resolve to a public address unless WEBHOOK_ALLOW_PRIVATE=true.',
    body: { schema: webhookBody, limit: '16 KiB' },
    ok: [{ status: 201, description: 'Created; the secret is shown only here', json: ref('CreatedWebhookEndpoint') }],
    errors: [...JSON_BODY, 'WEBHOOK_ERR_INVALID_URL', 'WEBHOOK_ERR_URL_NOT_ALLOWED', 'WEBHOOK_ERR_URL_UNRESOLVABLE', 'WEBHOOK_ERR_URL_LOOKUP_TIMEOUT', ...STORED],
  },
  {
    method: 'get', path: '/api/webhooks', operationId: 'listWebhooks', tag: 'Webhooks', auth: 'admin', summary: 'Webhook endpoints',
    ok: [{ status: 200, description: 'Every endpoint', json: wrapped('webhooks', { type: 'array', items: ref('WebhookEndpoint') }) }],
    errors: STORED,
  },
  {
    method: 'get', path: '/api/webhooks/{id}', operationId: 'getWebhook', tag: 'Webhooks', auth: 'admin', summary: 'One webhook endpoint',
    pathParams: { id: 'the endpoint id (ep_…)' }, ok: [{ status: 200, description: 'The endpoint', json: ref('WebhookEndpoint') }], errors: ['WEBHOOK_ERR_NOT_FOUND', ...STORED],
  },
  {
    method: 'delete', path: '/api/webhooks/{id}', operationId: 'deleteWebhook', tag: 'Webhooks', auth: 'admin',
    summary: 'Remove an endpoint with its delivery history', pathParams: { id: 'the endpoint id (ep_…)' },
    ok: [noBody(204, 'Removed; pending deliveries are dropped')], errors: ['WEBHOOK_ERR_NOT_FOUND', ...STORED],
  },
  {
    method: 'post', path: '/api/webhooks/{id}/enable', operationId: 'enableWebhook', tag: 'Webhooks', auth: 'admin',
    summary: 'Activate a disabled endpoint again (after a 410)', pathParams: { id: 'the endpoint id (ep_…)' },
    ok: [{ status: 200, description: 'Active again', json: ref('WebhookEndpoint') }], errors: ['WEBHOOK_ERR_NOT_FOUND', ...STORED],
  },
  {
    method: 'get', path: '/api/webhooks/{id}/deliveries', operationId: 'listDeliveries', tag: 'Webhooks', auth: 'admin',
    summary: "An endpoint's deliveries, newest first", pathParams: { id: 'the endpoint id (ep_…)' }, query: deliveriesQuery,
    paramNotes: { status: 'only deliveries in this state', limit: 'whole number 1-1000, default 100' },
    ok: [{ status: 200, description: 'At most limit (default 100)', json: wrapped('deliveries', { type: 'array', items: ref('Delivery') }) }],
    errors: [...VALIDATED, 'WEBHOOK_ERR_NOT_FOUND', ...STORED],
  },
  {
    method: 'post', path: '/api/webhooks/{id}/deliveries/{deliveryId}/retry', operationId: 'retryDelivery', tag: 'Webhooks', auth: 'admin',
    summary: 'Send a failed delivery again (the whole retry schedule)',
    pathParams: { id: 'the endpoint id (ep_…)', deliveryId: 'the delivery id (<eventId>.<endpointId>)' },
    ok: [{ status: 202, description: 'Pending again', json: ref('Delivery') }],
    errors: ['WEBHOOK_ERR_DELIVERY_NOT_FOUND', 'WEBHOOK_ERR_ENDPOINT_DISABLED', 'WEBHOOK_ERR_NOT_FAILED', ...STORED],
  },

  // ---- admin: phonebook, recent callbacks, calls ----
  {
    method: 'get', path: '/api/phonebook/lookup', operationId: 'phonebookLookup', tag: 'Phonebook', auth: 'admin',
    summary: 'What a call from this number would pop', query: lookupQuery, paramNotes: { number: 'a phone number in any written form' },
    ok: [{ status: 200, description: 'The match, as an event carries it', json: obj({ number: str, from: str, contact: { oneOf: [ref('Contact'), { type: 'null' }] }, otherContacts: { type: 'array', items: ref('ContactSummary') } }) }],
    errors: VALIDATED,
  },
  {
    method: 'post', path: '/api/phonebook/refresh', operationId: 'phonebookRefresh', tag: 'Phonebook', auth: 'admin', summary: 'Reload the phonebook from the PBX now',
    ok: [{
      status: 200,
      description: 'refreshed false with a reason when no PBX is configured, another instance was refreshing, or the PBX failed',
      json: obj({ refreshed: { type: 'boolean' }, contacts: { type: 'integer' }, reason: str, phonebook: ref('PhonebookStatus') }, ['refreshed', 'contacts', 'phonebook']),
    }],
  },
  {
    method: 'get', path: '/api/callbacks/recent', operationId: 'recentCallbacks', tag: 'Operations', auth: 'admin',
    summary: 'The last callbacks received, redacted (newest first, at most 50)',
    ok: [{ status: 200, description: 'Every configured or presented secret is cut out', json: wrapped('callbacks', { type: 'array', items: recentCallback }) }],
    errors: STORED,
  },
  {
    method: 'get', path: '/api/calls', operationId: 'listCalls', tag: 'Calls', auth: 'admin', summary: 'Completed calls, newest first', query: listQuery,
    paramNotes: {
      number: 'the caller: matches every written form of the number',
      extension: 'the call rang on it or it answered',
      since: "ISO 8601 time, compared with the call's start (inclusive)",
      until: "ISO 8601 time, compared with the call's start",
      limit: 'whole number 1-200, default 50',
      cursor: "the previous page's nextCursor",
    },
    ok: [{ status: 200, description: 'One page; nextCursor for the next', json: wrapped('calls', { type: 'array', items: ref('JournalEntry') }, { nextCursor: nullableStr }) }],
    errors: [...VALIDATED, ...STORED],
  },
  {
    method: 'get', path: '/api/calls/{sessionId}', operationId: 'getCall', tag: 'Calls', auth: 'admin', summary: 'One call, journaled or still followed',
    pathParams: { sessionId: "the call's sessionId" },
    ok: [{ status: 200, description: 'The call', json: wrapped('call', ref('CallView')) }], errors: ['CALL_ERR_NOT_FOUND', ...STORED],
  },

  // ---- contacts ----
  {
    method: 'post', path: '/api/contacts', operationId: 'createContact', tag: 'Contacts', auth: 'agentOrAdmin',
    summary: 'Create a contact at the PBX and in every instance\'s index',
    description: 'One of phoneNumber and cellNumber is required; customFields are checked against the tenant\'s definitions. A 400 carries `field`.',
    body: { schema: contactBody, limit: '32 KiB' },
    ok: [{ status: 201, description: 'Created', json: wrapped('contact', ref('Contact')) }],
    errors: [...JSON_BODY, ...CONTACT_ERRORS],
  },
  {
    method: 'get', path: '/api/contacts/fields', operationId: 'contactFields', tag: 'Contacts', auth: 'agentOrAdmin', summary: "The tenant's custom fields as of the last refresh",
    ok: [{ status: 200, description: 'The definitions', json: wrapped('fields', { type: 'array', items: customField }) }],
  },

  // ---- operations ----
  { method: 'get', path: '/healthz', operationId: 'healthz', tag: 'Operations', auth: 'none', summary: 'Liveness', ok: [{ status: 200, description: 'The process runs', json: obj({ status: { const: 'ok' } }) }] },
  {
    method: 'get', path: '/readyz', operationId: 'readyz', tag: 'Operations', auth: 'none', summary: 'Readiness, with what it depends on',
    ok: [{ status: 200, description: 'Ready', json: readiness }, { status: 503, description: 'Not ready: see reasons', json: readiness }],
  },
  {
    method: 'get', path: '/metrics', operationId: 'metrics', tag: 'Operations', auth: 'metrics', summary: 'Prometheus metrics (docs/operations.md)',
    ok: [{ status: 200, description: 'Prometheus text format', content: { 'text/plain': { schema: str } } }],
  },
  {
    method: 'get', path: '/openapi.json', operationId: 'openApiDocument', tag: 'Operations', auth: 'none', summary: 'This document',
    ok: [{ status: 200, description: 'OpenAPI 3.1, cacheable', json: { type: 'object' } }],
  },

  // ---- demo mode and static files ----
  { method: 'get', path: '/api/demo', operationId: 'demoStatus', tag: 'Demo', auth: 'none', summary: 'Exists only in demo mode (404 elsewhere)', ok: [{ status: 200, description: 'Demo mode', json: obj({ demo: { const: true } }) }], errors: ['NOT_FOUND'] },
  {
    method: 'post', path: '/api/demo/ring', operationId: 'demoRing', tag: 'Demo', auth: 'agent',
    summary: "Demo mode: play a whole call on the token's extension through the built-in simulator",
    body: { schema: ringBody, limit: '4 KiB', required: false },
    ok: [{
      status: 200,
      description: 'delivered false with a reason when the simulator could not ring',
      json: obj({ delivered: { type: 'boolean' }, from: str, callId: str, outcome: { enum: ['answered', 'missed'] }, reason: str }, ['delivered', 'from']),
    }],
    errors: JSON_BODY,
  },
  { method: 'get', path: '/', operationId: 'agentPage', tag: 'Static', auth: 'none', summary: 'The agent screen-pop page', ok: [{ status: 200, description: 'public/index.html', content: { 'text/html': { schema: str } } }] },
  {
    method: 'get', path: '/client.js', operationId: 'embeddableClient', tag: 'Static', auth: 'none', summary: 'The embeddable client (an ES module)',
    description: 'Cross-origin: Access-Control-Allow-Origin: *, Cross-Origin-Resource-Policy: cross-origin. The page\'s other files are served from public/ too.',
    ok: [{ status: 200, description: 'JavaScript', content: { 'text/javascript': { schema: str } } }],
  },
];
