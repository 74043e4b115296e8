/**
 * Review finding: a path parameter that is not valid percent-encoding (`%E0%A4%A`) makes Express's router
 * throw a URIError (status 400 on the error) that the error handler does not recognise: the answer is
 * `500 internal_error` and an error-level "unhandled error in request" line, for input the client got
 * wrong. Every route with a `:param` does it, the callback's path form included (an unauthenticated request).
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

  it.fails.each(cases)('when %s %s comes, then the answer is a 4xx and no error is logged', async (method, path, headers) => {
    const res = await fetch(`${bridge.url}${path}`, {
      method,
      headers: { ...headers, 'content-type': 'application/json' },
      ...(method === 'PUT' ? { body: '{"password":"x"}' } : {}),
    });
    await res.text();
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(h.logs.parsed().filter((l) => l.msg === 'unhandled error in request')).toEqual([]);
  });
});
