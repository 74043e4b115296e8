import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

const PRODUCTION = {
  PBX_BASE_URL: 'https://pbx.example.com/hodupbx_api/v1.4/api/',
  PBX_TOKEN: 'sE9xO4aZZBkhfaA6',
  PBX_CALLBACK_SECRET: 'callback-secret-0123456789',
  SESSION_SECRET: 'x'.repeat(32),
  CREDENTIALS_KEY: Buffer.alloc(32, 7).toString('base64'),
};

describe('loadConfig', () => {
  it('when nothing is set, then it runs in demo mode, in memory, with the contract defaults', () => {
    const r = loadConfig({});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      demo: true,
      pbx: null,
      redisUrl: null,
      adminApiKey: null,
      agentTokenTtlS: 43200,
      // The demo simulator's phonebook is Indian.
      defaultCountry: 'IN',
      phonebookRefreshS: 300,
      webhookAllowPrivate: false,
      webhookRetryScheduleS: [5, 300, 1800, 7200, 18000, 36000, 36000],
      webhookTimeoutMs: 15000,
      unsubscribeGraceS: 300,
      resubscribeIntervalS: 3600,
      pbxTimeoutMs: 5000,
      logLevel: 'info',
    });
  });

  it('when a PBX is configured with everything it needs, then the PBX settings are typed and the URL trimmed', () => {
    const r = loadConfig({ ...PRODUCTION, PBX_PASSWORD_FORMAT: 'plain', DEFAULT_COUNTRY: 'in', PBX_CALLBACK_FIELDS: '{"from":"cli","extension":["agent_ext"]}' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.demo).toBe(false);
    expect(r.config.pbx).toEqual({
      baseUrl: 'https://pbx.example.com/hodupbx_api/v1.4/api',
      token: 'sE9xO4aZZBkhfaA6',
      userType: 'TENANT',
      passwordFormat: 'plain',
      timeoutMs: 5000,
    });
    expect(r.config.defaultCountry).toBe('IN');
    expect(r.config.callbackFields).toEqual({ from: ['cli'], extension: ['agent_ext'] });
    expect(r.config.credentialsKey?.length).toBe(32);
  });

  it('when PBX_BASE_URL is set alone, then each missing companion is named on its own line', () => {
    const r = loadConfig({ PBX_BASE_URL: 'https://pbx.example.com/api' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => p.split(':')[0]).sort()).toEqual(['CREDENTIALS_KEY', 'PBX_CALLBACK_SECRET', 'PBX_TOKEN', 'SESSION_SECRET']);
  });

  it('when values are malformed, then every offending variable gets one line and no value is echoed', () => {
    const r = loadConfig({
      PORT: 'eighty',
      PBX_TIMEOUT_MS: '-1',
      REDIS_URL: 'http://localhost:6379',
      DEFAULT_COUNTRY: 'XX',
      SESSION_SECRET: 'short-secret-value',
      PBX_CALLBACK_FIELDS: '{"caller":"x"}',
      WEBHOOK_RETRY_SCHEDULE: '5,soon',
      WEBHOOK_ALLOW_PRIVATE: 'maybe',
      LOG_LEVEL: 'loud',
      CREDENTIALS_KEY: 'dG9vIHNob3J0',
      CRM_LINK_TEMPLATE: 'javascript:alert(1)',
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const names = r.problems.map((p) => p.split(':')[0]).sort();
    expect(names).toEqual(
      [
        'CREDENTIALS_KEY',
        'CRM_LINK_TEMPLATE',
        'DEFAULT_COUNTRY',
        'LOG_LEVEL',
        'PBX_CALLBACK_FIELDS',
        'PBX_TIMEOUT_MS',
        'PORT',
        'REDIS_URL',
        'SESSION_SECRET',
        'WEBHOOK_ALLOW_PRIVATE',
        'WEBHOOK_RETRY_SCHEDULE',
      ].sort(),
    );
    expect(r.problems.join('\n')).not.toContain('short-secret-value');
  });

  it('when DEFAULT_COUNTRY is unset, then a configured PBX reads numbers as US and demo mode as IN; set, it wins in both', () => {
    const prod = loadConfig(PRODUCTION);
    expect(prod.ok && prod.config.defaultCountry).toBe('US');
    const demo = loadConfig({ DEFAULT_COUNTRY: 'us' });
    expect(demo.ok && demo.config.demo && demo.config.defaultCountry).toBe('US');
  });

  it('when a value is blank, then it counts as unset', () => {
    const r = loadConfig({ PORT: '  ', REDIS_URL: '' });
    expect(r.ok && r.config.port === 3000 && r.config.redisUrl === null).toBe(true);
  });

  it('when the call-tracker variables are set, then they are typed; a zone that is not IANA is named', () => {
    const ok = loadConfig({ ACTIVE_CALLS_POLL_MS: '250', CALL_GROUP_WINDOW_S: '5', PBX_TIMEZONE: 'Asia/Kolkata', CALL_JOURNAL_DAYS: '30' });
    expect(ok.ok && ok.config.calls).toEqual({
      activeCallsPollMs: 250,
      groupWindowS: 5,
      callLogWaitS: 300,
      recordingWaitS: 3600,
      journalDays: 30,
      pbxTimezone: 'Asia/Kolkata',
    });
    const bad = loadConfig({ PBX_TIMEZONE: 'Mars/Olympus', ACTIVE_CALLS_POLL_MS: 'often' });
    expect(bad.ok ? [] : bad.problems.map((p) => p.split(':')[0]).sort()).toEqual(['ACTIVE_CALLS_POLL_MS', 'PBX_TIMEZONE']);
  });
});
