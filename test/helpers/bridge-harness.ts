/**
 * The only way tests start a bridge in-process: `createHarness().startBridge` against the harness's own
 * simulator, with logs captured so tests can assert on them (and check that no secret ever reaches them), or
 * `startTestBridge` for a bridge on its own. (Child processes: bridge-process.ts.)
 */
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startBridge, type Bridge, type BridgeOptions } from '../../src/bridge.js';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/simulator.js';
import { LogCapture } from './log-capture.js';

// Tests that build their own logger import LogCapture from here too.
export { LogCapture };

export const SECRETS = {
  pbxToken: 'tenant-token-7f3a9c2e',
  callbackSecret: 'cb-secret-5d8e1b7a9c',
  sessionSecret: 'session-secret-0123456789abcdef0123456789',
  adminApiKey: 'admin-key-9a8b7c6d5e4f',
  credentialsKey: Buffer.alloc(32, 3).toString('base64'),
};

export interface Harness {
  simulator: Simulator;
  simulatorApi: string;
  /** Starts a bridge wired to the simulator; extra env overrides the defaults. */
  startBridge(env?: Record<string, string>, options?: { redisPrefix?: string }): Promise<Bridge>;
  logs: LogCapture;
  close(): Promise<void>;
}

export async function createHarness(simOptions: SimulatorOptions = {}): Promise<Harness> {
  const simulator = createSimulator({ token: SECRETS.pbxToken, ...simOptions });
  const { apiBaseUrl } = await simulator.listen(0, '127.0.0.1');
  const logs = new LogCapture();
  const bridges: Bridge[] = [];
  return {
    simulator,
    simulatorApi: apiBaseUrl,
    logs,
    async startBridge(env = {}, options = {}) {
      const result = loadConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        PBX_BASE_URL: apiBaseUrl,
        PBX_TOKEN: SECRETS.pbxToken,
        PBX_CALLBACK_SECRET: SECRETS.callbackSecret,
        SESSION_SECRET: SECRETS.sessionSecret,
        CREDENTIALS_KEY: SECRETS.credentialsKey,
        ADMIN_API_KEY: SECRETS.adminApiKey,
        LOG_LEVEL: 'debug',
        TRUST_PROXY: 'true',
        ...env,
      });
      if (!result.ok) throw new Error(result.problems.join('; '));
      const bridge = await startBridge(result.config, createLogger(result.config.logLevel, logs.stream), options);
      bridges.push(bridge);
      simulator.setCallbackUrl(`${bridge.url}/pbx/callback/${SECRETS.callbackSecret}`);
      return bridge;
    },
    async close() {
      for (const b of bridges.reverse()) await b.close();
      await simulator.close();
    },
  };
}

/**
 * A bridge on its own, on loopback and a free port, logs discarded: demo mode (the built-in simulator,
 * generated secrets) unless `env` names a PBX the test runs itself.
 */
export async function startTestBridge(env: Record<string, string> = {}, options: BridgeOptions = {}): Promise<Bridge> {
  const result = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env });
  if (!result.ok) throw new Error(`bad test config: ${result.problems.join('; ')}`);
  return startBridge(result.config, pino({ enabled: false }), options);
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export async function login(bridgeUrl: string, extension: string, password: string): Promise<string> {
  const r = await postJson(`${bridgeUrl}/api/agents/login`, { extension, password });
  if (r.status !== 200 || typeof r.body.token !== 'string') throw new Error(`login failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

export const admin = { authorization: `Bearer ${SECRETS.adminApiKey}` };
