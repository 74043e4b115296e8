/**
 * The agent page follows the call (docs/calls.md), in real headless Chromium against the simulator: the
 * answering agent's card shows "On call" with a running timer and then the duration, another agent's card for
 * the same call says who answered and leaves, a missed call counts until seen, and the recent list survives a
 * reload (read from the journal).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { Bridge } from '../../src/bridge.js';
import { startTestBridge } from '../helpers/bridge-harness.js';
import { startPageSuite } from '../helpers/page-suite.js';
import type { Simulator } from '../../src/simulator/simulator.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { POLL, openPage, signIn } from '../helpers/browser.js';
import { polledTimes } from '../helpers/calls.js';

const SIM_TOKEN = 'e2e-calls-sim-token-01';
const CALLBACK_SECRET = 'e2e-calls-callback-secret-01';
const ENV = {
  PBX_TOKEN: SIM_TOKEN,
  PBX_CALLBACK_SECRET: CALLBACK_SECRET,
  SESSION_SECRET: 'e2e-calls-session-secret-0123456789abcdef',
  CREDENTIALS_KEY: Buffer.alloc(32, 9).toString('base64'),
  ADMIN_API_KEY: 'e2e-calls-admin-api-key-01',
  ACTIVE_CALLS_POLL_MS: '100',
  CALL_LOG_WAIT_S: '3',
  RECORDING_WAIT_S: '5',
};

let browser: Browser;
let sim: Simulator;
let bridge: Bridge;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  ({ browser, sim, bridge } = await startPageSuite({ simulator: { token: SIM_TOKEN, recordingDelayMs: 200 }, env: ENV, callbackSecret: CALLBACK_SECRET, cleanups }));
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function agentPage(extension: string): Promise<{ page: Page; errors: string[] }> {
  const { context, page, errors } = await openPage(browser);
  cleanups.push(() => context.close());
  await page.goto(bridge.url);
  await signIn(page, extension, DEMO_EXTENSIONS[extension] ?? '');
  await page.waitForSelector('#live-view', { state: 'visible' });
  await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
  await expect.poll(() => sim.subscriptions().includes(extension), POLL).toBe(true);
  return { page, errors };
}

describe('the agent page follows the call', () => {
  it('answered by one agent: On call with a timer there; Answered by 102 on the other, which then leaves', async () => {
    const a = await agentPage('101');
    const b = await agentPage('102');
    const { callId } = await sim.startCall({ from: '+14155550132', to: '5000' });
    await a.page.waitForSelector('.card.ringing', POLL);
    await b.page.waitForSelector('.card.ringing', POLL);
    // The tracker must see the legs ring before the answer: one leg listed from the first poll on may be
    // ringing or talking, and nothing is concluded from it (docs/calls.md, "What cannot be known").
    await polledTimes({ simulator: sim }, 2);
    await sim.answerCall(callId, '102');

    const mine = b.page.locator('.card').first();
    await expect.poll(() => mine.locator('.state').textContent(), POLL).toBe('On call');
    await expect.poll(() => mine.locator('.call-status').textContent(), POLL).toMatch(/^On call · 0:0[1-9]/);

    const other = a.page.locator('.card').first();
    await expect.poll(() => other.locator('.state').textContent(), POLL).toBe('Answered by 102');
    expect(await other.evaluate((el) => el.classList.contains('ringing'))).toBe(false);
    await expect.poll(() => a.page.locator('.card').count(), POLL).toBe(0);

    await sim.hangupCall(callId);
    await expect.poll(() => mine.locator('.call-status').textContent(), POLL).toMatch(/^Call ended · \d+:\d\d$/);
    await expect.poll(() => b.page.locator('#recent li .badge').first().textContent(), POLL).toMatch(/^Answered by 102/);

    // A reload reads the recent calls back from the journal.
    await b.page.reload();
    await b.page.waitForSelector('#live-view', { state: 'visible' });
    await expect.poll(() => b.page.locator('#recent li .badge').first().textContent(), POLL).toMatch(/^Answered by 102/);
    expect([...a.errors, ...b.errors]).toEqual([]);
  });

  it('through a ring group: the card says "via Sales (5000)" from the ringing on, and keeps it once answered', async () => {
    await expect
      .poll(async () => ((await (await fetch(`${bridge.url}/readyz`)).json()) as { calls?: { groupsKnown?: number } }).calls?.groupsKnown, POLL)
      .toBe(2);
    sim.setCallsMode({ groupInCallback: 'named' });
    try {
      const a = await agentPage('103');
      const { callId } = await sim.startCall({ from: '+14155550166', to: '5000' });
      await a.page.waitForSelector('.card.ringing', POLL);
      const card = a.page.locator('.card').first();
      await expect.poll(() => card.locator('.via').textContent(), POLL).toBe('via Sales (5000)');
      await polledTimes({ simulator: sim }, 2);
      await sim.answerCall(callId, '103');
      await expect.poll(() => card.locator('.state').textContent(), POLL).toBe('On call');
      expect(await card.locator('.via').textContent()).toBe('via Sales (5000)');
      await sim.hangupCall(callId);
      expect(a.errors).toEqual([]);
    } finally {
      sim.setCallsMode({ groupInCallback: 'none' });
    }
  });

  it('missed: the card says Missed and the missed count shows until seen; the next pop lists the earlier call', async () => {
    const a = await agentPage('104');
    const { callId } = await sim.startCall({ from: '+14155550177', to: '104' });
    await a.page.waitForSelector('.card.ringing', POLL);
    await polledTimes({ simulator: sim }, 2);
    await sim.hangupCall(callId);
    const card = a.page.locator('.card').first();
    await expect.poll(() => card.locator('.state').textContent(), POLL).toBe('Missed');
    await expect.poll(() => a.page.locator('#missed-count').textContent(), POLL).toBe('1 missed');
    await expect.poll(() => a.page.locator('#recent li .badge').first().textContent(), POLL).toBe('Missed');
    await a.page.click('#missed-count');
    expect(await a.page.locator('#missed-count').isHidden()).toBe(true);

    // The same caller again: the pop shows the earlier (missed) call from the journal.
    await a.page.click('.card .dismiss');
    const again = await sim.startCall({ from: '+14155550177', to: '104' });
    await a.page.waitForSelector('.card.ringing', POLL);
    await expect.poll(() => a.page.locator('.card .history li').first().textContent(), POLL).toMatch(/Missed$/);
    await sim.hangupCall(again.callId);
    expect(a.errors).toEqual([]);
  });

  it('demo mode: "Simulate a call" rings, shows On call with a running timer, then the call ends with its duration', async () => {
    const demo = await startTestBridge({ ACTIVE_CALLS_POLL_MS: '200' });
    cleanups.push(() => demo.close());
    const { context, page, errors } = await openPage(browser);
    cleanups.push(() => context.close());
    await page.goto(demo.url);
    await signIn(page, '101', DEMO_EXTENSIONS['101'] ?? '');
    await page.waitForSelector('#live-view', { state: 'visible' });
    await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
    await page.click('#simulate');
    await page.waitForSelector('.card.ringing', POLL);
    const card = page.locator('.card').first();
    await expect.poll(() => card.locator('.state').textContent(), { ...POLL, timeout: 15_000 }).toBe('On call');
    await expect.poll(() => card.locator('.call-status').textContent(), { ...POLL, timeout: 15_000 }).toMatch(/^Call ended · 0:0[4-9]$/);
    expect(errors).toEqual([]);
  }, 40_000);
});
