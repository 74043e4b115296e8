/**
 * What a page suite starts once per file: headless Chromium, the PBX simulator with its callbacks sent to the
 * bridge's secret path, and a bridge on that simulator. Each is pushed to `cleanups` as it starts, so the
 * file's afterAll closes what did start, newest first.
 */
import type { Browser } from 'playwright-core';
import type { Bridge } from '../../src/bridge.js';
import { createSimulator, type Simulator } from '../../src/simulator/simulator.js';
import { startTestBridge } from './bridge-harness.js';
import { launchBrowser } from './browser.js';

export interface PageSuite {
  browser: Browser;
  sim: Simulator;
  bridge: Bridge;
}

export async function startPageSuite(opts: {
  simulator: Parameters<typeof createSimulator>[0];
  env: Record<string, string>;
  callbackSecret: string;
  cleanups: Array<() => Promise<unknown>>;
}): Promise<PageSuite> {
  const browser = await launchBrowser();
  opts.cleanups.push(() => browser.close());
  const sim = createSimulator(opts.simulator);
  opts.cleanups.push(() => sim.close());
  const address = await sim.listen();
  const bridge = await startTestBridge({ PBX_BASE_URL: address.apiBaseUrl, ...opts.env });
  opts.cleanups.push(() => bridge.close());
  sim.setCallbackUrl(`${bridge.url}/pbx/callback/${opts.callbackSecret}`);
  return { browser, sim, bridge };
}
