/**
 * Review finding: the page decides that a ringing call is "older than 5 minutes" (listed in Recent calls
 * instead of popping) by comparing the event's timestamp, taken on the bridge, with the browser's own clock.
 * A desk PC whose clock runs more than 5 minutes ahead of the bridge's therefore never pops a live call: every
 * call.ringing counts as replayed after a long absence. Only replayed calls may be held back that way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { Bridge } from '../../src/bridge.js';
import { startTestBridge } from '../helpers/bridge-harness.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { POLL, launchBrowser, openPage, signIn } from '../helpers/browser.js';

describe('the agent page on a PC whose clock is ahead', () => {
  let browser: Browser;
  let bridge: Bridge;
  beforeAll(async () => {
    browser = await launchBrowser();
    bridge = await startTestBridge();
  });
  afterAll(async () => {
    await browser?.close();
    await bridge?.close();
  });

  it('when the browser clock is 10 minutes ahead, then a live call still pops a card', async () => {
    const { context, page, errors } = await openPage(browser);
    try {
      await page.clock.setSystemTime(Date.now() + 10 * 60_000);
      await page.goto(bridge.url);
      await signIn(page, '101', DEMO_EXTENSIONS['101'] ?? '');
      await expect.poll(() => page.textContent('#status'), POLL).toBe('connected');
      await page.click('#simulate');
      // The call reaches the page either way (it is listed in Recent calls) ...
      await expect.poll(() => page.locator('#recent li').count(), POLL).toBe(1);
      // ... but it must pop as well.
      await expect.poll(() => page.locator('#cards .card').count(), { timeout: 3000, interval: 50 }).toBe(1);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
