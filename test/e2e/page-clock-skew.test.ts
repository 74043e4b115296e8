/**
 * The page holds back a ringing call "older than 5 minutes" (listed in Recent calls instead of popping: a
 * replay after a long absence). The age is measured on the bridge's clock (its answers' Date header), not the
 * browser's: a desk PC whose clock runs 10 minutes ahead still pops live calls.
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
