/**
 * The agent page when things go wrong: the bridge restarts under an open page (Redis keeps the event log and
 * revocations, the same SESSION_SECRET keeps the token valid), an in-memory bridge restarts (its new event
 * ids start above every earlier one), and the session token expires.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { Bridge } from '../../src/bridge.js';
import { startTestBridge } from '../helpers/bridge-harness.js';
import { TokenService } from '../../src/auth/tokens.js';
import { MemoryKeyValueStore } from '../../src/store/memory.js';
import { createSimulator, type Simulator } from '../../src/simulator/simulator.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { POLL, launchBrowser, openPage, signIn } from '../helpers/browser.js';
import { uniquePrefix } from '../helpers/redis-server.js';
import { letTimePass } from '../helpers/wait.js';

const SIM_TOKEN = 'e2e-sim-token-0002';
const CALLBACK_SECRET = 'e2e-callback-secret-0002';
const SESSION_SECRET = 'e2e-session-secret-resilience-0123456789';
const ENV = {
  PBX_TOKEN: SIM_TOKEN,
  PBX_CALLBACK_SECRET: CALLBACK_SECRET,
  SESSION_SECRET,
  CREDENTIALS_KEY: Buffer.alloc(32, 9).toString('base64'),
};
const pw = (ext: string): string => DEMO_EXTENSIONS[ext] ?? '';

let browser: Browser;
let sim: Simulator;
let pbxBaseUrl: string;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  browser = await launchBrowser();
  cleanups.push(() => browser.close());
  // The PBX outlives the bridge restarts, as a real one would: subscriptions stay in place.
  sim = createSimulator({ token: SIM_TOKEN });
  cleanups.push(() => sim.close());
  pbxBaseUrl = (await sim.listen()).apiBaseUrl;
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function bridgeOn(port: number, env: Record<string, string>, redisPrefix?: string): Promise<Bridge> {
  const bridge = await startTestBridge({ PBX_BASE_URL: pbxBaseUrl, ...ENV, ...env, PORT: String(port) }, redisPrefix ? { redisPrefix } : {});
  let closed = false;
  const close = bridge.close;
  bridge.close = async () => {
    if (closed) return;
    closed = true;
    await close();
  };
  cleanups.push(() => bridge.close());
  sim.setCallbackUrl(`${bridge.url}/pbx/callback/${CALLBACK_SECRET}`);
  return bridge;
}

async function ring(extension: string, from: string): Promise<void> {
  const result = await sim.ring({ extension, from });
  expect(result.delivered, JSON.stringify(result)).toBe(true);
}

const cardNames = (page: Page): Promise<string[]> => page.locator('.card .name').allTextContents();
const recentCount = (page: Page): Promise<number> => page.locator('#recent li').count();

describe('a bridge restart under an open page', () => {
  it('with Redis: the page reconnects by itself, and calls made during and after the outage pop exactly once', async () => {
    const redisPrefix = uniquePrefix('e2e-restart');
    const env = { REDIS_URL: inject('redisUrl') };
    let bridge = await bridgeOn(0, env, redisPrefix);
    const port = bridge.port;
    const { context, page, errors } = await openPage(browser);
    try {
      await page.goto(bridge.url);
      await signIn(page, '105', pw('105'));
      await expect.poll(() => page.textContent('#status'), POLL).toBe('connected');
      await ring('105', '(415) 555-0132'); // Emily Carter
      await expect.poll(() => cardNames(page), POLL).toEqual(['Emily Carter']);

      await bridge.close();
      await expect.poll(() => page.textContent('#status'), POLL).toBe('reconnecting…');

      // The new process: same port, same Redis prefix, same SESSION_SECRET. A call arrives straight away,
      // before the page has found the bridge again: it reaches the page through the resume.
      bridge = await bridgeOn(port, env, redisPrefix);
      await ring('105', '+1 415 555 0199'); // Michael Johnson
      await expect.poll(() => page.textContent('#status'), { timeout: 10_000 }).toBe('connected');
      await expect.poll(() => cardNames(page), POLL).toEqual(['Michael Johnson', 'Emily Carter']);

      // And one after the reconnect, live.
      await ring('105', '212-555-0147'); // Sarah Kim
      await expect.poll(() => cardNames(page), POLL).toEqual(['Sarah Kim', 'Michael Johnson', 'Emily Carter']);
      // No card may pop a second time (resumed and then sent live) in this time.
      await letTimePass(500);
      expect(await cardNames(page)).toEqual(['Sarah Kim', 'Michael Johnson', 'Emily Carter']);
      expect(await recentCount(page)).toBe(3);

      // A reload resumes from the id kept in sessionStorage: the session goes on, the open cards come back as
      // they were (kept in sessionStorage too), and nothing pops a second time.
      await page.reload();
      await expect.poll(() => page.textContent('#status'), POLL).toBe('connected');
      await expect.poll(() => cardNames(page), POLL).toEqual(['Sarah Kim', 'Michael Johnson', 'Emily Carter']);
      // Nothing the session already showed may pop again after the reload in this time.
      await letTimePass(500);
      expect(await cardNames(page)).toEqual(['Sarah Kim', 'Michael Johnson', 'Emily Carter']);
      expect(await recentCount(page)).toBe(3);
      await ring('105', '(415) 555-0132');
      await expect.poll(() => cardNames(page), POLL).toEqual(['Emily Carter', 'Sarah Kim', 'Michael Johnson']);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
      await bridge.close();
    }
  });

  it('in memory: after the restart the page resumes on its new ids and still pops the new calls', async () => {
    let bridge = await bridgeOn(0, {});
    const port = bridge.port;
    const { context, page, errors } = await openPage(browser);
    try {
      await page.goto(bridge.url);
      await signIn(page, '106', pw('106'));
      await expect.poll(() => page.textContent('#status'), POLL).toBe('connected');
      for (const from of ['(415) 555-0132', '+1 415 555 0199', '212-555-0147']) await ring('106', from);
      await expect.poll(() => page.locator('.card').count(), POLL).toBe(3);

      await bridge.close();
      await expect.poll(() => page.textContent('#status'), POLL).toBe('reconnecting…');
      bridge = await bridgeOn(port, {});
      await expect.poll(() => page.textContent('#status'), { timeout: 10_000 }).toBe('connected');
      // The new log's first id is lower than the last one the page saw; it is a new event all the same.
      await ring('106', '+44 20 7946 0958'); // Oliver Bennett
      await expect.poll(() => cardNames(page), POLL).toEqual(['Oliver Bennett', 'Sarah Kim', 'Michael Johnson']);
      expect(await recentCount(page)).toBe(4);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
      await bridge.close();
    }
  });
});

describe('an expired session', () => {
  it('closes the live view, says so, and returns to the sign-in form', async () => {
    const bridge = await bridgeOn(0, {});
    // A token the bridge itself would issue (same SESSION_SECRET), issued 54 s ago for 60 s: 6 s are left.
    // AGENT_TOKEN_TTL_S cannot go below 60 s, and the test should not wait a minute.
    const tokens = new TokenService(SESSION_SECRET, new MemoryKeyValueStore(), () => Date.now() - 54_000);
    const { token, expiresAt } = await tokens.issue('107', 'agent', 60);
    expect(Date.parse(expiresAt) - Date.now()).toBeLessThan(6500);

    const { context, page, errors } = await openPage(browser);
    try {
      await page.goto(bridge.url);
      await page.evaluate((t) => {
        sessionStorage.setItem('token', t);
        sessionStorage.setItem('extension', '107');
      }, token);
      await page.reload();
      await expect.poll(() => page.textContent('#status'), POLL).toBe('connected');
      expect(await page.isVisible('#live-view')).toBe(true);

      // The bridge closes the socket with 4001 when the token runs out; the page goes back to the form.
      await page.waitForSelector('#login-view', { state: 'visible', timeout: 10_000 });
      expect(await page.isVisible('#live-view')).toBe(false);
      expect(await page.textContent('#login-note')).toBe('Your session has expired. Please sign in again.');
      expect(await page.textContent('#status')).toBe('signed out');
      expect(await page.evaluate(() => sessionStorage.getItem('token'))).toBeNull();

      // A page opened later with the stale token goes straight to the form with the same message.
      await page.evaluate((t) => sessionStorage.setItem('token', t), token);
      await page.reload();
      await expect.poll(() => page.textContent('#login-note'), POLL).toBe('Your session has expired. Please sign in again.');
      expect(await page.isVisible('#login-view')).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
