/**
 * The OpenAPI document (docs/api.md, "OpenAPI"): it passes Redocly's recommended lint, it lists every route the
 * bridge's Express app registers (and the callback's lean path, and the WebSocket), the events a bridge sends
 * fit its EventEnvelope, and GET /openapi.json serves it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import type { Express } from 'express';
import type { Bridge } from '../../src/bridge.js';
import { ERRORS, type ErrorCode } from '../../src/errors.js';
import { matchCallbackPath } from '../../src/http/callback-route.js';
import { openApiDocument, openApiJson } from '../../src/openapi/index.js';
import { callbackErrorCodes } from '../../src/openapi/responses.js';
import { callView, createdWebhookEndpoint, delivery, eventEnvelope, extensionView, journalEntry } from '../../src/openapi/schemas.js';
import { admin, createHarness, postJson, SECRETS, startTestBridge, type Harness } from '../helpers/bridge-harness.js';
import { countOf, framesFrom, polledTimes, subscribeAtSimulator, supervisorSocket } from '../helpers/calls.js';
import type { AgentSocket } from '../helpers/ws-client.js';
import { eventuallyValue } from '../helpers/wait.js';

interface PathItem {
  [method: string]: { responses: Record<string, { content?: Record<string, { examples?: Record<string, { value: unknown }> }> }> };
}
const doc = openApiDocument() as { openapi: string; paths: Record<string, PathItem> };

/** "GET /api/tokens/{id}" for each operation of the document. */
const documented = new Set(Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`)));

/** What Express has: "METHOD /path" per route, `:param` written `{param}`; routers must be mounted at the root. */
function expressRoutes(app: Express): string[] {
  const out: string[] = [];
  interface Layer {
    name: string;
    slash?: boolean;
    route?: { path: string | string[]; methods: Record<string, boolean> };
    handle: { stack?: Layer[] };
  }
  const walk = (stack: Layer[]): void => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const p of paths) {
          for (const m of Object.keys(layer.route.methods)) out.push(`${m.toUpperCase()} ${p.replace(/:(\w+)/g, '{$1}')}`);
        }
      } else if (layer.handle.stack) {
        // A router mounted below the root would need its prefix here: none is today.
        expect(layer.slash, `router "${layer.name}" mounted below the root`).toBe(true);
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return out;
}

/** Served outside Express's routes: the WebSocket upgrade, and static files from public/. */
const OUTSIDE_EXPRESS_ROUTES = ['GET /ws', 'GET /', 'GET /client.js'];

/** The operation a lint pointer (`#/paths/~1api~1demo/get/responses`) is in. */
function operationAt(pointer: string | undefined): { security?: unknown[] } | undefined {
  const m = /^#\/paths\/([^/]+)\/([a-z]+)\/responses$/.exec(pointer ?? '');
  if (!m?.[1] || !m[2]) return undefined;
  const path = m[1].replace(/~1/g, '/').replace(/~0/g, '~');
  return doc.paths[path]?.[m[2]] as { security?: unknown[] } | undefined;
}

/** Recommended-ruleset warnings the document keeps on purpose (it does not invent answers a route never gives). */
function acceptedWarning(ruleId: string, pointer: string | undefined): boolean {
  // The package is private: there is no licence to name.
  if (ruleId === 'info-license') return true;
  // Public routes that refuse nothing: health, readiness, CORS preflights, static files, this document.
  if (ruleId === 'operation-4xx-response') return operationAt(pointer)?.security?.length === 0;
  // A WebSocket upgrade succeeds with 101.
  return ruleId === 'operation-2xx-response' && pointer === '#/paths/~1ws/get/responses';
}

describe('the OpenAPI document', () => {
  it('passes Redocly lint (recommended ruleset) with no error', async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: openApiJson(), absoluteRef: 'openapi.json', config });
    const shown = problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? '?'}`);
    expect(shown.filter((s) => s.startsWith('error'))).toEqual([]);
    const unexpected = problems.filter((p) => p.severity !== 'error' && !acceptedWarning(p.ruleId, p.location[0]?.pointer));
    expect(unexpected.map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? '?'}`)).toEqual([]);
    expect(doc.openapi).toBe('3.1.0');
  });

  it("answers the callback's failures with the registry's status and message for every CALLBACK_ERR_ code", () => {
    const responses = doc.paths['/pbx/callback']?.post?.responses ?? {};
    for (const code of callbackErrorCodes()) {
      const example = responses[String(ERRORS[code].status)]?.content?.['application/json']?.examples?.[code];
      expect(example?.value, code).toEqual({ status: 'FAILED', message: ERRORS[code].message });
    }
  });

  it("takes each error example from the registry (a code's status, error and message)", () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      if (path.startsWith('/pbx/callback')) continue;
      for (const [method, op] of Object.entries(item)) {
        for (const [status, response] of Object.entries(op.responses)) {
          for (const [name, example] of Object.entries(response.content?.['application/json']?.examples ?? {})) {
            if (!(name in ERRORS)) continue;
            const spec = ERRORS[name as ErrorCode];
            expect([method, path, status, example.value]).toEqual([method, path, String(spec.status), { error: spec.error, message: spec.message }]);
          }
        }
      }
    }
  });

  it("matches the callback's lean path: the methods it serves before Express, on both paths", () => {
    for (const method of ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      for (const [path, url] of [['/pbx/callback', '/pbx/callback?x=1'], ['/pbx/callback/{secret}', '/pbx/callback/s3cret']] as const) {
        expect(documented.has(`${method} ${path}`), `${method} ${path}`).toBe(matchCallbackPath(method, url) !== null);
      }
    }
  });
});

describe('the OpenAPI document and the running bridge', () => {
  let h: Harness;
  let bridge: Bridge;
  let demo: Bridge;
  let sup: AgentSocket;

  beforeAll(async () => {
    h = await createHarness({ recordingDelayMs: 200 });
    bridge = await h.startBridge({ ACTIVE_CALLS_POLL_MS: '100', CALL_LOG_WAIT_S: '2', RECORDING_WAIT_S: '10', WEBHOOK_ALLOW_PRIVATE: 'true' });
    await subscribeAtSimulator(h.simulatorApi, '101', '102');
    sup = await supervisorSocket(bridge.url);
    // Demo mode (no PBX_BASE_URL) mounts its own routes.
    demo = await startTestBridge();
  });
  afterAll(async () => {
    sup?.close();
    await demo?.close();
    await h?.close();
  });

  it('lists every route the Express app registers, in both modes', () => {
    const registered = new Set([...expressRoutes(bridge.app), ...expressRoutes(demo.app)]);
    expect(registered.size).toBeGreaterThan(30);
    expect([...registered].filter((r) => !documented.has(r))).toEqual([]);
  });

  it('lists nothing the bridge does not serve', async () => {
    const registered = new Set([...expressRoutes(bridge.app), ...expressRoutes(demo.app), ...OUTSIDE_EXPRESS_ROUTES]);
    const unserved = [...documented].filter((op) => {
      const [method = '', path = ''] = op.split(' ');
      if (registered.has(op)) return false;
      // Express answers HEAD with a GET route; the callback's HEAD is served by the lean path (tested above).
      if (method === 'HEAD') return !registered.has(`GET ${path}`);
      return true;
    });
    expect(unserved).toEqual([]);
    for (const path of ['/', '/client.js']) expect((await fetch(`${bridge.url}${path}`)).status, path).toBe(200);
  });

  it('serves itself at GET /openapi.json: public, cacheable, the same document', async () => {
    const res = await fetch(`${bridge.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(await res.json()).toEqual(openApiDocument());
  });

  it("sends events that fit EventEnvelope (every type, with data.cdr, answeredBy, recordingUrl) and answers the documented journal, extension and webhook shapes", async () => {
    // An endpoint nothing listens on: its deliveries fail, with the nullable fields of an attempt set.
    const created = await postJson(`${bridge.url}/api/webhooks`, { url: 'http://127.0.0.1:9/hook', events: ['call.completed'] }, admin);
    expect(created.status).toBe(201);
    expect(createdWebhookEndpoint.parse(created.body)).toEqual(created.body);
    const answeredFrom = '+14155550101';
    const answered = await h.simulator.startCall({ from: answeredFrom, to: '101' });
    await sup.waitFor(() => countOf(framesFrom(sup, '4155550101'), 'call.ringing') === 1);
    await polledTimes(h, 2);
    await h.simulator.answerCall(answered.callId, '101');
    // A one-leg call's answer is not in activeCalls: the bridge learns it at the hang-up (docs/calls.md).
    await polledTimes(h, 2);
    await h.simulator.hangupCall(answered.callId);

    const missed = await h.simulator.startCall({ from: '+14155550102', to: '102' });
    await sup.waitFor(() => countOf(framesFrom(sup, '4155550102'), 'call.ringing') === 1);
    await polledTimes(h, 2);
    await h.simulator.hangupCall(missed.callId);

    // An answered callback for a call the bridge does not follow: a call.answered shaped like call.ringing.
    const stray = await postJson(`${bridge.url}/pbx/callback/${SECRETS.callbackSecret}`, { extension: '102', caller: '+14155550103', event: 'answered' });
    expect(stray.status).toBe(200);

    await sup.waitFor(() => countOf(framesFrom(sup, '4155550101'), 'call.recording') === 1, 15_000);
    await sup.waitFor(() => countOf(framesFrom(sup, '4155550102'), 'call.completed') === 1, 15_000);
    await sup.waitFor(() => countOf(framesFrom(sup, '4155550103'), 'call.answered') === 1);

    const frames = ['4155550101', '4155550102', '4155550103'].flatMap((digits) => framesFrom(sup, digits));
    expect(new Set(frames.map((f) => f.type))).toEqual(new Set(['call.ringing', 'call.answered', 'call.ended', 'call.missed', 'call.completed', 'call.recording']));
    for (const frame of frames) {
      const parsed = eventEnvelope.safeParse(frame);
      expect(parsed.error?.issues ?? [], `${frame.type}: ${JSON.stringify(frame)}`).toEqual([]);
      // zod drops fields the schema does not name: the same object back means there were none.
      expect(parsed.data, frame.type).toEqual(frame);
    }
    expect(frames.find((f) => f.type === 'call.completed' && f.data.answeredBy === '101')?.data.cdr).toMatchObject({ answeredBy: '101' });
    // The journal and the extensions list answer the documented shapes too.
    const calls = (await (await fetch(`${bridge.url}/api/calls`, { headers: admin })).json()) as { calls: unknown[] };
    expect(calls.calls.length).toBeGreaterThanOrEqual(2);
    for (const entry of calls.calls) expect(journalEntry.parse(entry)).toEqual(entry);
    const extensions = (await (await fetch(`${bridge.url}/api/extensions`, { headers: admin })).json()) as { extensions: unknown[] };
    for (const view of extensions.extensions) expect(extensionView.parse(view)).toEqual(view);
    const first = calls.calls[0] as { sessionId: string };
    const one = (await (await fetch(`${bridge.url}/api/calls/${first.sessionId}`, { headers: admin })).json()) as { call: unknown };
    expect(callView.parse(one.call)).toEqual(one.call);
    const endpointId = String(created.body.id);
    const deliveries = await eventuallyValue(
      async () => ((await (await fetch(`${bridge.url}/api/webhooks/${endpointId}/deliveries`, { headers: admin })).json()) as { deliveries: Array<{ attempts: unknown[] }> }).deliveries,
      (list) => list.length >= 2 && list.every((d) => d.attempts.length > 0),
      10_000,
    );
    for (const d of deliveries) expect(delivery.parse(d)).toEqual(d);
  }, 45_000);
});
