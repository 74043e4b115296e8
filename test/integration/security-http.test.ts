/**
 * Against running bridges: which X-Forwarded-For hop is trusted, security headers, the /metrics token, the
 * SSRF guard's new ranges, and the size cap on PBX answers (the last good phonebook keeps serving).
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { createPbxClient } from '../../src/pbx/client.js';
import { PbxError } from '../../src/errors.js';
import { generateContacts } from '../../src/simulator/seed.js';
import { admin, createHarness, postJson, SECRETS, type Harness } from '../helpers/bridge-harness.js';
import { uniquePrefix } from '../helpers/redis-server.js';

const signIn = (bridge: Bridge, extension: string, forwardedFor: string) =>
  postJson(`${bridge.url}/api/agents/login`, { extension, password: 'wrong' }, { 'x-forwarded-for': forwardedFor });

describe('TRUST_PROXY', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  // The load balancer appends the address it saw; everything left of it is what the client wrote.
  it.each([['1'], ['127.0.0.1'], ['127.0.0.0/8,10.0.0.0/8']])(
    'when TRUST_PROXY=%s and a client rotates the left-most X-Forwarded-For entry, then the per-address limit still applies',
    async (trust) => {
      const bridge = await h.startBridge({ TRUST_PROXY: trust, LOG_LEVEL: 'warn' });
      for (let i = 0; i < 10; i++) {
        expect((await signIn(bridge, String(300 + i), `198.51.100.${i}, 203.0.113.7`)).status).toBe(401);
      }
      const r = await signIn(bridge, '399', '198.51.100.99, 203.0.113.7');
      expect(r.status).toBe(429);
      // Another real client address behind the same balancer is not affected.
      expect((await signIn(bridge, '398', '198.51.100.99, 203.0.113.8')).status).toBe(401);
    },
  );
});

describe('security headers, /metrics token and the SSRF guard', () => {
  let h: Harness;
  let bridge: Bridge;
  const metricsToken = 'metrics-token-4e5f6a7b8c';
  beforeAll(async () => {
    h = await createHarness();
    bridge = await h.startBridge({ METRICS_TOKEN: metricsToken, LOG_LEVEL: 'warn' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('when the agent page is fetched, then it carries a strict CSP, refuses framing, nosniff and no-referrer', async () => {
    const res = await fetch(`${bridge.url}/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    // No inline script the policy would block: every <script> has a src.
    expect(html.match(/<script(?![^>]*\ssrc=)[^>]*>/g)).toBeNull();
  });

  it('when client.js is fetched from another origin, then it stays importable (CORS and CORP cross-origin)', async () => {
    const res = await fetch(`${bridge.url}/client.js`, { headers: { origin: 'https://crm.example.com' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('when a malformed JSON body goes to an admin route with a wrong key, then the key is judged first (401), not the body', async () => {
    const res = await fetch(`${bridge.url}/api/extensions/101`, {
      method: 'PUT',
      headers: { authorization: 'Bearer not-the-key', 'content-type': 'application/json' },
      body: '{"password":',
    });
    expect(res.status).toBe(401);
    // And a large body to a path that has no route is not parsed as the sign-in's 16 KiB JSON.
    const big = await fetch(`${bridge.url}/api/no-such-route`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: 'y'.repeat(40_000) }) });
    expect(big.status).toBe(404);
  });

  it('when METRICS_TOKEN is set, then /metrics wants it as a bearer token', async () => {
    expect((await fetch(`${bridge.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${bridge.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0000000' } })).status).toBe(401);
    const ok = await fetch(`${bridge.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('bridge_ws_sockets');
    expect((await fetch(`${bridge.url}/healthz`)).status).toBe(200);
    expect(h.logs.text()).not.toContain(metricsToken);
  });

  it.each([
    'http://[::ffff:0:7f00:1]/hook', // IPv4-translated 127.0.0.1
    'http://[::ffff:0:808:808]/hook', // IPv4-translated, even of a public address
    'http://[64:ff9b:1::a00:1]/hook', // local-use NAT64
    'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook', // Teredo
  ])('when a webhook URL is %s, then registration is refused with 422', async (url) => {
    const r = await postJson(`${bridge.url}/api/webhooks`, { url }, admin);
    expect(r.status).toBe(422);
    expect(r.body.error).toBe('url_not_allowed');
  });
});

describe.each([
  ['memory', () => ({})],
  ['redis', () => ({ REDIS_URL: inject('redisUrl') })],
] as const)('PBX answer size cap in %s mode', (mode, env) => {
  let h: Harness;
  let bridge: Bridge;
  beforeAll(async () => {
    h = await createHarness();
    bridge = await h.startBridge(
      { ...env(), DEFAULT_COUNTRY: 'IN', PBX_MAX_RESPONSE_BYTES: String(256 * 1024), LOG_LEVEL: 'warn' },
      { redisPrefix: uniquePrefix(`sec-pbxcap-${mode}`) },
    );
  });
  afterAll(async () => {
    await h.close();
  });

  it('when the phonebook answer grows past PBX_MAX_RESPONSE_BYTES, then the refresh fails clearly and the last good phonebook keeps serving', async () => {
    const before = (await (await fetch(`${bridge.url}/api/phonebook/lookup?number=%2B919824740472`, { headers: admin })).json()) as {
      contact: { phonebookId: string } | null;
    };
    expect(before.contact?.phonebookId).toBe('43');
    h.simulator.setContacts(generateContacts(3000));
    const refresh = await postJson(`${bridge.url}/api/phonebook/refresh`, {}, admin);
    expect(refresh.body.refreshed).toBe(false);
    expect(String(refresh.body.reason)).toContain('PBX_MAX_RESPONSE_BYTES');
    const after = (await (await fetch(`${bridge.url}/api/phonebook/lookup?number=%2B919824740472`, { headers: admin })).json()) as {
      contact: { phonebookId: string } | null;
    };
    expect(after.contact?.phonebookId).toBe('43');
    const ready = (await (await fetch(`${bridge.url}/readyz`)).json()) as { phonebook: { lastError: string | null } };
    expect(ready.phonebook.lastError).toContain('PBX_MAX_RESPONSE_BYTES');
  });
});

describe('PBX client size cap on a body without Content-Length', () => {
  let server: Server;
  let url: string;
  let written = 0;
  beforeAll(async () => {
    // A hostile PBX: a chunked answer that never ends.
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"status":"SUCCESS","data":[');
      const chunk = `${'{"Phonebook ID":"1","First Name":"x"},'.repeat(1000)}`;
      const pump = () => {
        while (!res.destroyed && written < 512 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      res.on('close', () => undefined);
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('when the answer passes the cap, then the request fails with PBX_ERR_BAD_RESPONSE and the rest is not read', async () => {
    const pbx = createPbxClient({ baseUrl: url, token: SECRETS.pbxToken, userType: 'TENANT', passwordFormat: 'md5', timeoutMs: 20_000, maxResponseBytes: 2 * 1024 * 1024 });
    try {
      const err = await pbx.getPhoneNumber().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PbxError);
      expect((err as PbxError).code).toBe('PBX_ERR_BAD_RESPONSE');
      expect((err as PbxError).message).toContain('PBX_MAX_RESPONSE_BYTES');
      expect((err as PbxError).message).not.toContain(SECRETS.pbxToken);
      // Stopped near the cap, far from the 512 MB the server would have sent.
      expect(written).toBeLessThan(64 * 1024 * 1024);
    } finally {
      await pbx.close();
    }
  });
});

describe('a plain-http PBX off loopback', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const run = (env: Record<string, string>): Promise<{ code: number | null; output: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: root,
        env: {
          PATH: process.env.PATH ?? '',
          PORT: '0',
          HOST: '127.0.0.1',
          PBX_TOKEN: SECRETS.pbxToken,
          PBX_CALLBACK_SECRET: SECRETS.callbackSecret,
          SESSION_SECRET: SECRETS.sessionSecret,
          CREDENTIALS_KEY: SECRETS.credentialsKey,
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += String(c)));
      child.stderr.on('data', (c: Buffer) => (output += String(c)));
      child.once('exit', (code) => resolve({ code, output }));
    });

  it('when PBX_BASE_URL is http:// to another host, then the process exits 2 before listening, naming the variable', async () => {
    const { code, output } = await run({ PBX_BASE_URL: 'http://pbx.example.com/hodupbx_api/v1.4/api' });
    expect(code).toBe(2);
    expect(output).toContain('PBX_BASE_URL: must be https://');
    expect(output).toContain('PBX_ALLOW_INSECURE=true');
    expect(output).not.toContain(SECRETS.pbxToken);
  }, 30_000);
});
