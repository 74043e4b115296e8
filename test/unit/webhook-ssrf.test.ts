/**
 * The SSRF guard's address rules at registration (src/crm-webhooks/ssrf.ts); the connect-time guard is in
 * test/integration/webhook-ssrf.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { blockedAddressReason, checkWebhookUrl } from '../../src/crm-webhooks/ssrf.js';

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
  it('answers lookup_timeout when the resolver gives no answer in time, and unresolvable when it fails', async () => {
    const never = () => new Promise<never>(() => undefined);
    expect(await checkWebhookUrl('https://crm.example/hook', { allowPrivate: false, resolve: never, lookupTimeoutMs: 20 })).toMatchObject({
      ok: false,
      reason: 'lookup_timeout',
      message: expect.stringContaining('crm.example'),
    });
    const fails = async () => Promise.reject(new Error('ENOTFOUND'));
    expect(await checkWebhookUrl('https://crm.example/hook', { allowPrivate: false, resolve: fails, lookupTimeoutMs: 20 })).toMatchObject({ ok: false, reason: 'unresolvable' });
  });
});
