/** Webhook signing (src/crm-webhooks/signing.ts), checked with the reference standardwebhooks package. */
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateSecret, secretKey, signedHeaders } from '../../src/crm-webhooks/signing.js';

describe('webhook signing', () => {
  it('produces headers the reference standardwebhooks package verifies', () => {
    const secret = generateSecret();
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64').length).toBeGreaterThanOrEqual(24);
    const body = '{"id":"0000000000012-0","type":"call.ringing","data":{"x":"é"}}';
    const headers = signedHeaders(secretKey(secret), '0000000000012-0', body);
    expect(headers['content-type']).toBe('application/json');
    expect(new Webhook(secret).verify(body, headers)).toMatchObject({ id: '0000000000012-0' });
    expect(() => new Webhook(secret).verify(body.replace('é', 'e'), headers)).toThrow();
  });
});
