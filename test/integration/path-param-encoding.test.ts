/**
 * A path parameter that is not valid percent-encoding (`%E0%A4%A`) is the client's error: a 4xx, never
 * `500 internal_error` with an error-level "unhandled error in request" line (Express's router throws a
 * URIError for it). Every route with a `:param`, and the callback's path form (an unauthenticated request:
 * a wrong secret, 401).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { admin, createHarness, type Harness } from '../helpers/bridge-harness.js';

describe('malformed percent-encoding in a path parameter', () => {
  let h: Harness;
  let bridge: Bridge;
  beforeAll(async () => {
    h = await createHarness();
    bridge = await h.startBridge();
  });
  afterAll(async () => {
    await h.close();
  });

  const cases: Array<[string, string, Record<string, string>]> = [
    ['GET', '/pbx/callback/%E0%A4%A?extension=101&caller=1', {}],
    ['PUT', '/api/extensions/%E0%A4%A', admin],
    ['GET', '/api/webhooks/%E0%A4%A', admin],
    ['GET', '/api/calls/%E0%A4%A', admin],
    ['DELETE', '/api/tokens/%E0%A4%A', admin],
  ];

  it.each(cases)('when %s %s comes, then the answer is a 4xx and no error is logged', async (method, path, headers) => {
    const res = await fetch(`${bridge.url}${path}`, {
      method,
      headers: { ...headers, 'content-type': 'application/json' },
      ...(method === 'PUT' ? { body: '{"password":"x"}' } : {}),
    });
    await res.text();
    expect(res.status).toBe(path.startsWith('/pbx/callback/') ? 401 : 400);
    expect(h.logs.parsed().filter((l) => l.msg === 'unhandled error in request')).toEqual([]);
  });
});
