import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { nextDelayMs, parseRetryAfter } from '../../src/crm-webhooks/retry-policy.js';
import { generateSecret, secretKey, signedHeaders } from '../../src/crm-webhooks/signing.js';
import { blockedAddressReason, checkWebhookUrl } from '../../src/crm-webhooks/ssrf.js';

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

describe('retry policy', () => {
  const policy = (random: number) => ({ scheduleS: [5, 300], random: () => random });
  it('waits the schedule with ±20 % jitter, then gives up', () => {
    expect(nextDelayMs(policy(0), 1, null)).toBe(4000);
    expect(nextDelayMs(policy(1), 1, null)).toBe(6000);
    expect(nextDelayMs(policy(0.5), 2, null)).toBe(300_000);
    expect(nextDelayMs(policy(0.5), 3, null)).toBeNull();
  });
  it('never retries earlier than Retry-After asks, capped at the longest step (at least 60 s)', () => {
    expect(nextDelayMs(policy(0.5), 1, 30_000)).toBe(30_000);
    expect(nextDelayMs(policy(0.5), 1, 1000)).toBe(5000);
    expect(nextDelayMs(policy(0.5), 1, 10 * 86_400_000)).toBe(300_000);
    expect(nextDelayMs({ scheduleS: [0.05], random: () => 0.5 }, 1, 3_600_000)).toBe(60_000);
  });
  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });
});

describe('SSRF address classification', () => {
  it.each([
    '127.0.0.1', '127.255.0.9', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1',
    '0.0.0.0', '224.0.0.251', '255.255.255.255', '::', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a00:1', '::127.0.0.1',
    'fc00::1', 'fd12:3456::1', 'fe80::1', 'fe80::1%eth0', 'ff02::1', '64:ff9b::a9fe:a9fe', '2002:c0a8:101::1',
  ])('refuses %s', (address) => {
    expect(blockedAddressReason(address)).not.toBeNull();
  });
  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])('allows %s', (address) => {
    expect(blockedAddressReason(address)).toBeNull();
  });
  it('relies on the WHATWG URL parser normalizing decimal, hex, octal and short IPv4 spellings', async () => {
    for (const spelling of ['2130706433', '0x7f000001', '0177.0.0.1', '127.1', '0x7f.1']) {
      expect(new URL(`http://${spelling}/`).hostname).toBe('127.0.0.1');
      const r = await checkWebhookUrl(`http://${spelling}/`, { allowPrivate: false });
      expect(r).toMatchObject({ ok: false, reason: 'blocked' });
    }
    expect(new URL('http://[::ffff:127.0.0.1]/').hostname).toBe('[::ffff:7f00:1]');
  });
  it('refuses a name that resolves to any non-public address, and allows it with allowPrivate', async () => {
    const resolve = async () => [{ address: '93.184.215.14', family: 4 }, { address: '10.0.0.5', family: 4 }];
    expect(await checkWebhookUrl('https://crm.example/hook', { allowPrivate: false, resolve })).toMatchObject({ ok: false, reason: 'blocked' });
    expect(await checkWebhookUrl('https://crm.example/hook', { allowPrivate: true, resolve })).toMatchObject({ ok: true });
    expect(await checkWebhookUrl('http://localhost/', { allowPrivate: false })).toMatchObject({ ok: false, reason: 'blocked' });
    const fail = async () => {
      throw new Error('ENOTFOUND');
    };
    expect(await checkWebhookUrl('https://nx.example/', { allowPrivate: false, resolve: fail })).toMatchObject({ ok: false, reason: 'unresolvable' });
    expect(await checkWebhookUrl('https://u:p@crm.example/', { allowPrivate: true })).toMatchObject({ ok: false, reason: 'invalid' });
    expect(await checkWebhookUrl('javascript:alert(1)', { allowPrivate: true })).toMatchObject({ ok: false, reason: 'invalid' });
  });
});
