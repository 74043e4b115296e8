/**
 * `npm run doctor` against the PBX simulator and real redis-servers: one with appendonly, one without any
 * persistence, one with an evicting maxmemory-policy. The verdict, the exit code, and no secret in the output.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createSimulator, type Simulator } from '../../src/simulator/simulator.js';
import { formatReport, runDoctor, type DoctorReport } from '../../src/ops/doctor.js';
import { SECRETS } from '../helpers/bridge-harness.js';
import { freePort, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

const ROOT = join(import.meta.dirname, '../..');
const CALLBACK_SECRET = 'Xq7-vR2_mK9.pL4~wN8zT3bY6cH1jF5d';
let sim: Simulator;
let apiBaseUrl: string;
let durable: RedisServerHandle;
let volatile: RedisServerHandle;
let evicting: RedisServerHandle;
const dirs: string[] = [];

beforeAll(async () => {
  sim = createSimulator({ token: SECRETS.pbxToken });
  apiBaseUrl = (await sim.listen()).apiBaseUrl;
  const dir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'doctor-redis-'));
    dirs.push(d);
    return d;
  };
  [durable, volatile, evicting] = await Promise.all([
    startRedisServer({ args: ['--dir', dir(), '--appendonly', 'yes'] }),
    startRedisServer(),
    startRedisServer({ args: ['--dir', dir(), '--appendonly', 'yes', '--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'] }),
  ]);
});

afterAll(async () => {
  await Promise.all([durable?.stop(), volatile?.stop(), evicting?.stop(), sim?.close()]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function env(over: Record<string, string> = {}): Record<string, string> {
  return {
    PBX_BASE_URL: apiBaseUrl,
    PBX_TOKEN: SECRETS.pbxToken,
    PBX_CALLBACK_SECRET: CALLBACK_SECRET,
    SESSION_SECRET: SECRETS.sessionSecret,
    CREDENTIALS_KEY: SECRETS.credentialsKey,
    ADMIN_API_KEY: SECRETS.adminApiKey,
    REDIS_URL: durable.url,
    ...over,
  };
}

const status = (r: DoctorReport, name: string) => r.checks.filter((c) => c.name === name).map((c) => c.status);

function expectNoSecret(text: string): void {
  for (const secret of [SECRETS.pbxToken, CALLBACK_SECRET, SECRETS.sessionSecret, SECRETS.credentialsKey, SECRETS.adminApiKey]) {
    expect(text).not.toContain(secret);
  }
}

describe('npm run doctor', () => {
  it('a sound setup (PBX token accepted, Redis with appendonly) is READY, as a process with exit 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/ops/doctor-cli.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += String(c)));
    child.stderr.on('data', (c: Buffer) => (out += String(c)));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(out).toMatch(/\[ ok \] PBX +.*accepted the token \(getExtension: \d+ extensions/);
    expect(out).toMatch(/\[ ok \] Redis persistence +appendonly on/);
    expect(out).toMatch(/\[ ok \] Redis eviction +maxmemory-policy noeviction/);
    expect(out).toContain('/pbx/callback/<PBX_CALLBACK_SECRET>');
    expect(out).toMatch(/^verdict: READY \(0 failures, 0 warnings\)$/m);
    expect(out).not.toContain('[FAIL]');
    expectNoSecret(out);
    expect(code).toBe(0);
  });

  it('Redis without appendonly or RDB snapshots fails the check; the CLI exits 1', async () => {
    const report = await runDoctor(env({ REDIS_URL: volatile.url }));
    expect(status(report, 'Redis')).toEqual(['ok']);
    expect(status(report, 'Redis persistence')).toEqual(['fail']);
    expect(report.ready).toBe(false);
    expect(formatReport(report)).toMatch(/verdict: NOT READY \(1 failure, 0 warnings\)/);

    const child = spawn(process.execPath, ['--import', 'tsx', 'src/ops/doctor-cli.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env({ REDIS_URL: volatile.url }) },
      stdio: 'ignore',
    });
    expect(await new Promise<number | null>((r) => child.once('exit', (c) => r(c)))).toBe(1);
  });

  it('an evicting maxmemory-policy is a warning, not a failure', async () => {
    const report = await runDoctor(env({ REDIS_URL: evicting.url }));
    const eviction = report.checks.find((c) => c.name === 'Redis eviction');
    expect(eviction).toMatchObject({ status: 'warn' });
    expect(eviction?.detail).toContain('allkeys-lru can evict the event stream and the webhook job queue');
    expect(report.ready).toBe(true);
  });

  it('a token the PBX refuses fails with its status, and the token is not in the output', async () => {
    const report = await runDoctor(env({ PBX_TOKEN: 'wrong-token-0123456789' }));
    expect(status(report, 'PBX')).toEqual(['fail']);
    const text = formatReport(report);
    expect(text).toMatch(/\[FAIL\] PBX .*check PBX_TOKEN/);
    expect(text).not.toContain('wrong-token-0123456789');
    expectNoSecret(text);
  });

  it('an unreachable PBX and Redis fail, quickly and without secrets', async () => {
    const port = await freePort();
    const report = await runDoctor(
      env({ PBX_BASE_URL: `http://127.0.0.1:${port}/api`, REDIS_URL: `redis://:${SECRETS.adminApiKey}x@127.0.0.1:${port}/0` }),
      { timeoutMs: 2000 },
    );
    expect(status(report, 'PBX')).toEqual(['fail']);
    expect(status(report, 'Redis')).toEqual(['fail']);
    const text = formatReport(report);
    expect(text).toContain(`redis://:***@127.0.0.1:${port}/0 not reachable`);
    expectNoSecret(text);
  });

  it('a Redis that wants a password says so, and the password given is not shown', async () => {
    // Started open (the helper waits for an unauthenticated PING), then given a password.
    const guarded = await startRedisServer();
    const setup = new Redis(guarded.url);
    await setup.config('SET', 'requirepass', 'the-right-redis-password');
    setup.disconnect();
    try {
      const wrong = await runDoctor(env({ REDIS_URL: `redis://:the-wrong-redis-password@127.0.0.1:${guarded.port}/0` }));
      const check = wrong.checks.find((c) => c.name === 'Redis');
      expect(check?.status).toBe('fail');
      expect(check?.detail).toMatch(/redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0 refused the connection \(WRONGPASS/);
      expect(formatReport(wrong)).not.toContain('the-wrong-redis-password');
      const right = await runDoctor(env({ REDIS_URL: `redis://:the-right-redis-password@127.0.0.1:${guarded.port}/0` }));
      expect(status(right, 'Redis')).toEqual(['ok']);
      expect(formatReport(right)).not.toContain('the-right-redis-password');
    } finally {
      await guarded.stop();
    }
  });

  it('configuration problems are listed one per line; demo mode, reused and weak secrets are flagged', async () => {
    const bad = await runDoctor({ PBX_BASE_URL: apiBaseUrl, PORT: 'eighty' });
    expect(bad.ready).toBe(false);
    expect(bad.checks.map((c) => `${c.status} ${c.detail.split(':')[0]}`)).toEqual(['fail PORT']);
    const missing = await runDoctor({ PBX_BASE_URL: apiBaseUrl });
    expect(missing.checks.map((c) => c.detail.split(':')[0]).sort()).toEqual(['CREDENTIALS_KEY', 'PBX_CALLBACK_SECRET', 'PBX_TOKEN', 'SESSION_SECRET']);

    const demo = await runDoctor({});
    expect(demo.checks).toEqual([expect.objectContaining({ status: 'fail', detail: expect.stringContaining('demo mode') })]);

    const reused = await runDoctor(env({ ADMIN_API_KEY: CALLBACK_SECRET, PBX_CALLBACK_SECRET: CALLBACK_SECRET }));
    expect(reused.checks).toContainEqual({ name: 'secrets', status: 'fail', detail: 'PBX_CALLBACK_SECRET and ADMIN_API_KEY have the same value; give each its own' });

    const weak = await runDoctor(env({ PBX_CALLBACK_SECRET: 'aaaaaaaaaaaaaaaa/b' }));
    expect(status(weak, 'callback secret')).toEqual(['warn', 'warn']);
    expectNoSecret(formatReport(weak));
    expect(formatReport(weak)).not.toContain('aaaaaaaaaaaaaaaa/b');
  });

  it('--public-url: /healthz answering 200 is ok, anything else or plain http to a public host is a warning', async () => {
    const server = createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const ok = await runDoctor(env(), { publicUrl: base });
      expect(ok.checks.filter((c) => c.name === 'callback URL')).toEqual([
        { name: 'callback URL', status: 'ok', detail: `${base}/healthz answers 200; the PBX calls ${base}/pbx/callback/<PBX_CALLBACK_SECRET>` },
      ]);
      const notBridge = await runDoctor(env(), { publicUrl: `${base}/elsewhere` });
      expect(status(notBridge, 'callback URL')).toEqual(['warn']);
    } finally {
      await new Promise((r) => server.close(r));
    }
    const http = await runDoctor(env(), { publicUrl: 'http://bridge.invalid', timeoutMs: 1000 });
    expect(http.checks.filter((c) => c.name === 'callback URL').map((c) => c.detail)).toEqual([
      expect.stringContaining('plain http'),
      expect.stringContaining('not reachable'),
    ]);
  });
});
