/** The logger's redaction (src/logger.ts): secret keys censored at any depth without wildcard paths, at no cost when there is nothing to censor. */
import { describe, expect, it } from 'vitest';
import { createLogger, scrubSecrets } from '../../src/logger.js';
import { LogCapture } from '../helpers/log-capture.js';

describe('log redaction', () => {
  it('censors secret keys at any depth, in errors and arrays, case-insensitively, without touching the logged objects', () => {
    const logs = new LogCapture();
    const log = createLogger('debug', logs.stream);
    const err = Object.assign(new Error('boom'), { config: { headers: { Authorization: 'Bearer S1' } }, token: 'S2' });
    const nested = { a: { b: { c: { d: { password: 'S3' } } } }, list: [{ token_id: 'S4' }], TokenId: 'S5', x: 'kept' };
    log.info({ err, ...nested }, 'one');
    log.child({ component: 'c', secret: 'S6' }).warn({ deep: { apiKey: 'S7', cookie: 'S8' } }, 'two');
    log.error({ err: new AggregateError([Object.assign(new Error('inner'), { secret: 'S9' })], 'agg') }, 'three');
    const text = logs.text();
    expect(text).not.toMatch(/S\d/);
    expect(text).toContain('[redacted]');
    expect(text).toContain('"x":"kept"');
    expect(logs.parsed()[0]).toMatchObject({ err: { type: 'Error', message: 'boom', token: '[redacted]' } });
    expect(err.token).toBe('S2');
    expect(nested.a.b.c.d.password).toBe('S3');
  });

  it("keeps only the name and argument count of a Redis error's command (its arguments are stored values)", () => {
    const logs = new LogCapture();
    const err = Object.assign(new Error('NOPERM'), { command: { name: 'hset', args: ['k', 'ep_1', '{"secret":"whsec_S1"}'] } });
    createLogger('debug', logs.stream).error({ err }, 'failed');
    expect(logs.text()).not.toContain('whsec_');
    expect(logs.parsed()[0]).toMatchObject({ err: { message: 'NOPERM', command: { name: 'hset', args: '[3 arguments redacted]' } } });
    expect(err.command.args).toHaveLength(3);
  });

  it('returns the object itself when there is nothing to censor', () => {
    const obj = { eventId: '1-0', extension: '122', duplicate: false, latencyMs: 1.5, nested: { ok: [1, 2] } };
    expect(scrubSecrets(obj)).toBe(obj);
  });
});
