/**
 * The error registry (src/errors.ts) and the one handler that answers from it (src/http/errors.ts), over a
 * real Express app on loopback.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Router, json } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BlockedAddressError } from '../../src/crm-webhooks/ssrf.js';
import { BridgeError, CallbackError, ERRORS, PbxError, ValidationError, type ErrorCode } from '../../src/errors.js';
import { TimeoutError } from '../../src/timeouts.js';
import { EventLogUnavailableError } from '../../src/events/resilient-event-log.js';
import { createApp } from '../../src/http/app.js';
import { BodyReadError } from '../../src/http/body-reader.js';
import { parseInput } from '../../src/http/errors.js';
import { createLogger } from '../../src/logger.js';
import { isCredentialRefusal, isUnreachable } from '../../src/pbx/refusals.js';
import { CredentialError } from '../../src/subscriptions/credential-cipher.js';
import { LogCapture } from '../helpers/log-capture.js';

const CODES = Object.keys(ERRORS) as ErrorCode[];

describe('the error registry', () => {
  it('gives every code an HTTP error status, a snake_case error and a message', () => {
    expect(CODES.length).toBeGreaterThan(30);
    for (const code of CODES) {
      const spec = ERRORS[code];
      expect(code, code).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(Number.isInteger(spec.status) && spec.status >= 400 && spec.status <= 599, code).toBe(true);
      expect(spec.error, code).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(spec.message.trim().length, code).toBeGreaterThan(0);
    }
  });

  it('has every code in the table of docs/api-errors.md', () => {
    const doc = readFileSync(new URL('../../docs/api-errors.md', import.meta.url), 'utf8');
    for (const code of CODES) expect(doc, code).toContain(`| \`${code}\` | `);
  });

  it('spells the PBX being out of reach pbx_unavailable everywhere, as sign-in answers it', () => {
    expect(ERRORS.PBX_ERR_TIMEOUT.error).toBe('pbx_unavailable');
    expect(ERRORS.PBX_ERR_UNREACHABLE.error).toBe('pbx_unavailable');
    expect(ERRORS.LOGIN_ERR_PBX_UNAVAILABLE).toMatchObject({ status: 503, error: 'pbx_unavailable' });
  });

  it('takes the status, error and default message of an error from its code', () => {
    const err = new BridgeError('WEBHOOK_ERR_NOT_FOUND');
    expect(err).toMatchObject({ code: 'WEBHOOK_ERR_NOT_FOUND', status: 404, error: 'not_found', message: 'No such webhook endpoint.' });
    expect(err.name).toBe('BridgeError');
    expect(new BridgeError('EXTENSION_ERR_NOT_REGISTERED', 'Extension 122 is not registered.').message).toBe('Extension 122 is not registered.');
  });

  it('holds every error class of the bridge', () => {
    const errors: BridgeError[] = [
      new PbxError('PBX_ERR_TIMEOUT', 'crmSubscribe', 'PBX crmSubscribe did not answer within 10 ms'),
      new CallbackError('CALLBACK_ERR_NO_CALLER', 'no caller'),
      new ValidationError('extension', 'extension: is required'),
      new BodyReadError('too_large'),
      new BlockedAddressError('connection refused: loopback'),
      new EventLogUnavailableError('the outage buffer is full'),
      new CredentialError('sealed credential is truncated'),
    ];
    for (const err of errors) {
      expect(err).toBeInstanceOf(BridgeError);
      expect(CODES).toContain(err.code);
    }
    expect(new BodyReadError('unsupported_encoding')).toMatchObject({ status: 415, code: 'CALLBACK_ERR_UNSUPPORTED_ENCODING' });
    expect(new BodyReadError('unreadable')).toMatchObject({ status: 400, message: 'The request body could not be read.' });
    expect(new BlockedAddressError('x').code).toBe('WEBHOOK_ERR_BLOCKED_ADDRESS');
    expect(new EventLogUnavailableError('x').code).toBe('EVENT_LOG_ERR_BUFFER_FULL');
  });
});

describe('what a PBX failure means (src/pbx/ reads the manual\'s status codes)', () => {
  const refused = (pbxStatus: number) => new PbxError('PBX_ERR_REJECTED', 'crmSubscribe', 'refused', { pbxStatus });
  it('tells a refusal of the credentials from other refusals and from no answer', () => {
    expect(isCredentialRefusal(refused(406))).toBe(true);
    expect(isCredentialRefusal(refused(500))).toBe(false);
    const timeout = new PbxError('PBX_ERR_TIMEOUT', 'crmSubscribe', 'timed out');
    expect(isCredentialRefusal(timeout)).toBe(false);
    expect(isUnreachable(timeout)).toBe(true);
    expect(isUnreachable(refused(406))).toBe(false);
  });
});

describe('the error handler', () => {
  const logs = new LogCapture();
  let server: Server;
  let base: string;

  beforeAll(async () => {
    const router = Router();
    router.get('/registry', () => {
      throw new BridgeError('TOKEN_ERR_NOT_FOUND');
    });
    router.get('/detailed', async () => {
      await Promise.resolve();
      throw new BridgeError('EXTENSION_ERR_REFUSED', 'Invalid extension_password');
    });
    router.get('/pbx', () => {
      throw new PbxError('PBX_ERR_UNREACHABLE', 'crmSubscribe', 'PBX crmSubscribe unreachable (ECONNREFUSED)');
    });
    router.get('/validated', (req) => {
      parseInput(z.object({ n: z.string().regex(/^\d+$/, 'must be digits') }), req.query);
    });
    router.get('/unknown', () => {
      throw new Error('a bug with a detail the client must not see');
    });
    // What ioredis and withTimeout reject commands with (their classes are not exported: named as ioredis names them).
    const redisError = (name: string, message: string) => Object.assign(new Error(message), { name });
    const redisFailures: Record<string, () => Error> = {
      'max-retries': () => redisError('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 1).'),
      closed: () => new Error('Connection is closed.'),
      timeout: () => new TimeoutError('no answer from Redis within 2000 ms'),
      loading: () => redisError('ReplyError', 'LOADING Redis is loading the dataset in memory'),
      wrapped: () => new Error('could not store the endpoint', { cause: new Error('Command timed out') }),
      refused: () => new BridgeError('STORE_ERR_UNAVAILABLE'),
      // A working Redis refusing: a bug, not an outage.
      noperm: () => redisError('ReplyError', "NOPERM User default has no permissions to run the 'hset' command"),
    };
    for (const [name, make] of Object.entries(redisFailures)) {
      router.get(`/redis/${name}`, async () => {
        await Promise.resolve();
        throw make();
      });
    }
    router.post('/body', json({ limit: '1kb' }), (_req, res) => {
      res.json({ ok: true });
    });
    const app = createApp({ logger: createLogger('info', logs.stream), routers: [router] });
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const get = async (path: string) => {
    const r = await fetch(`${base}${path}`);
    return { status: r.status, body: (await r.json()) as unknown };
  };

  it('answers a thrown registry error with its status, error and message', async () => {
    expect(await get('/registry')).toEqual({ status: 404, body: { error: 'not_found', message: 'No unexpired token has this id.' } });
    expect(await get('/detailed')).toEqual({ status: 422, body: { error: 'pbx_refused', message: 'Invalid extension_password' } });
    expect(await get('/pbx')).toEqual({
      status: 503,
      body: { error: 'pbx_unavailable', message: 'PBX crmSubscribe unreachable (ECONNREFUSED)' },
    });
  });

  it('answers invalid input 400 invalid_request naming the field', async () => {
    expect(await get('/validated?n=x')).toEqual({ status: 400, body: { error: 'invalid_request', message: 'n: must be digits' } });
  });

  it('answers an unknown route 404 not_found', async () => {
    expect(await get('/nowhere')).toEqual({ status: 404, body: { error: 'not_found', message: 'No route for GET /nowhere' } });
  });

  it('answers an unknown error 500 internal_error without its message, and logs it', async () => {
    expect(await get('/unknown')).toEqual({ status: 500, body: { error: 'internal_error', message: 'Something went wrong; see the bridge logs.' } });
    const line = logs.parsed().find((l) => l.msg === 'unhandled error in request');
    expect(line).toBeDefined();
    expect(JSON.stringify(line)).toContain('a bug with a detail');
  });

  it('answers a Redis outage (refused, closed, timed out, loading, or as a cause) 503 unavailable with Retry-After, without a stack in the log', async () => {
    const unavailable = { error: 'unavailable', message: ERRORS.STORE_ERR_UNAVAILABLE.message };
    for (const name of ['max-retries', 'closed', 'timeout', 'loading', 'wrapped', 'refused']) {
      const r = await fetch(`${base}/redis/${name}`);
      expect([name, r.status, r.headers.get('retry-after'), await r.json()]).toEqual([name, 503, '1', unavailable]);
    }
    const noperm = await fetch(`${base}/redis/noperm`);
    expect(noperm.status).toBe(500);
    expect(logs.parsed().filter((l) => l.msg === 'request refused: Redis is unreachable')).toEqual([]); // at debug: not logged at info
    expect(logs.text()).not.toContain('MaxRetriesPerRequestError');
  });

  it('answers the body parser\'s failures from the registry', async () => {
    const post = async (body: string) => {
      const r = await fetch(`${base}/body`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      return { status: r.status, body: (await r.json()) as unknown };
    };
    expect(await post('{"a":')).toEqual({ status: 400, body: { error: 'invalid_json', message: 'The request body is not valid JSON.' } });
    expect(await post(JSON.stringify({ a: 'x'.repeat(2048) }))).toEqual({
      status: 413,
      body: { error: 'payload_too_large', message: 'The request body is too large.' },
    });
  });
});
