/** Demo mode: the built-in HoduPBX simulator runs in-process and stands in for the PBX. */
import type { Config, PbxConfig } from './config.js';
import type { Logger } from './logger.js';
import type { DemoRinger } from './http/demo-routes.js';
import { createSimulator } from './simulator/simulator.js';
import { DEMO_EXTENSIONS, DEMO_TOKEN } from './simulator/seed.js';

/** Callers the "Simulate a call" button cycles through: known contacts in several formats, and a stranger. */
const DEMO_CALLERS: ReadonlyArray<{ from: string; fromName?: string }> = [
  { from: '09824740472', fromName: 'RAHUL' },
  { from: '+1 415 555 0132' },
  { from: '0091 99090 12345', fromName: 'PRIYA M' },
  { from: '+44 20 7946 0958' },
  { from: '78768876', fromName: 'PATEL' },
  { from: '+1 202 555 0100', fromName: 'UNKNOWN CALLER' },
];

export interface DemoPbx extends DemoRinger {
  pbxConfig: PbxConfig;
  agentCredentials: { extension: string; password: string };
  otherExtensions: string;
  setCallbackUrl(url: string): void;
  close(): Promise<void>;
}

export async function startDemoPbx(config: Config, logger: Logger): Promise<DemoPbx> {
  const simulator = createSimulator({ token: DEMO_TOKEN, passwordFormat: config.pbxPasswordFormat });
  const address = await simulator.listen(0, '127.0.0.1');
  logger.info({ simulator: address.apiBaseUrl }, 'demo mode: built-in HoduPBX simulator started');
  let next = 0;
  const [first, ...rest] = Object.keys(DEMO_EXTENSIONS);
  const extension = first ?? '101';
  return {
    pbxConfig: {
      baseUrl: address.apiBaseUrl,
      token: DEMO_TOKEN,
      userType: 'TENANT',
      passwordFormat: config.pbxPasswordFormat,
      timeoutMs: config.pbxTimeoutMs,
    },
    agentCredentials: { extension, password: DEMO_EXTENSIONS[extension] ?? '' },
    otherExtensions: rest.map((e) => `${e}/${DEMO_EXTENSIONS[e] ?? ''}`).join(', '),
    setCallbackUrl: (url) => simulator.setCallbackUrl(url),
    async ring(ext, from) {
      const caller = from ? { from } : (DEMO_CALLERS[next++ % DEMO_CALLERS.length] ?? { from: '+1 202 555 0100' });
      const result = await simulator.ring({ extension: ext, ...caller });
      return result.delivered ? { delivered: true, from: caller.from } : { delivered: false, from: caller.from, reason: result.reason };
    },
    close: () => simulator.close(),
  };
}
