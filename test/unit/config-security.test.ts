import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

const PRODUCTION = {
  PBX_BASE_URL: 'https://pbx.example.com/hodupbx_api/v1.4/api',
  PBX_TOKEN: 'sE9xO4aZZBkhfaA6',
  PBX_CALLBACK_SECRET: 'callback-secret-0123456789',
  SESSION_SECRET: 'x'.repeat(32),
  CREDENTIALS_KEY: Buffer.alloc(32, 7).toString('base64'),
};

const problems = (env: Record<string, string>): string[] => {
  const r = loadConfig(env);
  return r.ok ? [] : r.problems;
};

describe('security settings', () => {
  it('when nothing is set, then the defaults are the documented ones', () => {
    const r = loadConfig({});
    expect(r.ok && r.config).toMatchObject({
      trustProxy: false,
      pbxMaxResponseBytes: 64 * 1024 * 1024,
      wsMaxSockets: 20_000,
      wsMaxSocketsPerToken: 10,
      metricsToken: null,
    });
  });

  it.each([
    ['true', true],
    ['false', false],
    ['1', 1],
    ['2', 2],
    ['10.0.0.5', ['10.0.0.5']],
    ['10.0.0.0/8, 192.168.1.0/24,::1', ['10.0.0.0/8', '192.168.1.0/24', '::1']],
    ['loopback,fd00::/8', ['loopback', 'fd00::/8']],
  ])('when TRUST_PROXY is %j, then Express gets %j', (raw, expected) => {
    const r = loadConfig({ TRUST_PROXY: raw });
    expect(r.ok && r.config.trustProxy).toEqual(expected);
  });

  it.each(['maybe', '10.0.0.0/33', '10.0.0.0/8,proxy.example.com', '::1/129', '-1'])('when TRUST_PROXY is %j, then it is refused naming the variable', (raw) => {
    const p = problems({ TRUST_PROXY: raw });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^TRUST_PROXY: must be true, false, a hop count/);
  });

  it('when PBX_BASE_URL is plain http to another host, then it is refused unless PBX_ALLOW_INSECURE=true', () => {
    const http = { ...PRODUCTION, PBX_BASE_URL: 'http://pbx.example.com/hodupbx_api/v1.4/api' };
    expect(problems(http)).toEqual([expect.stringMatching(/^PBX_BASE_URL: must be https:\/\/.*PBX_ALLOW_INSECURE=true/)]);
    expect(problems({ ...http, PBX_ALLOW_INSECURE: 'true' })).toEqual([]);
    for (const host of ['127.0.0.1:8090', 'localhost:8090', '[::1]:8090']) {
      expect(problems({ ...PRODUCTION, PBX_BASE_URL: `http://${host}/api` })).toEqual([]);
    }
    expect(problems(PRODUCTION)).toEqual([]);
  });

  it('when the caps and the metrics token are malformed, then each is named', () => {
    const p = problems({ WS_MAX_SOCKETS: '0', WS_MAX_SOCKETS_PER_TOKEN: 'many', PBX_MAX_RESPONSE_BYTES: '12', METRICS_TOKEN: 'short' });
    expect(p.map((l) => l.split(':')[0]).sort()).toEqual(['METRICS_TOKEN', 'PBX_MAX_RESPONSE_BYTES', 'WS_MAX_SOCKETS', 'WS_MAX_SOCKETS_PER_TOKEN']);
    expect(p.join('\n')).not.toContain('short');
  });
});
