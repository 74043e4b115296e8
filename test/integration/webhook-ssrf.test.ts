/**
 * The SSRF guard at connect time: whatever passed registration, the connection itself never goes to a
 * non-public address (an IP literal, a name resolving to one, or a name that re-resolves to one: DNS rebinding).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookSender } from '../../src/crm-webhooks/sender.js';
import { checkWebhookUrl, type Resolver } from '../../src/crm-webhooks/ssrf.js';

describe('webhook connections to non-public addresses', () => {
  let server: Server;
  let port: number;
  let hits = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits++;
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const send = async (url: string, resolve?: Resolver) => {
    const sender = new WebhookSender({ timeoutMs: 1000, allowPrivate: false, resolve });
    try {
      return await sender.send(url, { 'content-type': 'application/json' }, '{}');
    } finally {
      await sender.close();
    }
  };

  it.each([
    (p: number) => `http://127.0.0.1:${p}/`,
    (p: number) => `http://2130706433:${p}/`,
    (p: number) => `http://0x7f000001:${p}/`,
    (p: number) => `http://localhost:${p}/`,
    (p: number) => `http://[::1]:${p}/`,
    (p: number) => `http://[::ffff:127.0.0.1]:${p}/`,
  ])('when the URL is %s, then the connection is refused before it is made', async (make) => {
    const before = hits;
    const r = await send(make(port));
    expect(r.ok).toBe(false);
    expect(r.statusCode).toBeNull();
    expect(r.error).toMatch(/non-public|loopback|BLOCKED/);
    expect(hits).toBe(before);
  });

  it('when a name resolved to a public address at registration and to 127.0.0.1 now (DNS rebinding), then nothing is sent', async () => {
    let answer = '93.184.215.14';
    const resolve: Resolver = async () => [{ address: answer, family: 4 }];
    const url = `http://rebind.example:${port}/hook`;
    expect(await checkWebhookUrl(url, { allowPrivate: false, resolve })).toMatchObject({ ok: true });
    answer = '127.0.0.1';
    const before = hits;
    const r = await send(url, resolve);
    expect(r.ok).toBe(false);
    expect(r.error).toContain('non-public');
    expect(hits).toBe(before);
  });

  it('when a name resolves only to non-public addresses (cloud metadata, loopback), then the connection fails without falling back', async () => {
    const resolve: Resolver = async () => [
      { address: '169.254.169.254', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ];
    const r = await send(`http://metadata.example:${port}/`, resolve);
    expect(r.ok).toBe(false);
    expect(r.error).toContain('non-public');
  });

  it('when private addresses are allowed, then the same receiver is reached (control)', async () => {
    const sender = new WebhookSender({ timeoutMs: 1000, allowPrivate: true });
    const before = hits;
    const r = await sender.send(`http://localhost:${port}/`, {}, '{}');
    await sender.close();
    expect(r).toMatchObject({ ok: true, statusCode: 200 });
    expect(hits).toBe(before + 1);
  });
});
