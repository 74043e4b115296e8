/**
 * The agent page under its content security policy, in real headless Chromium: it still signs in and pops a
 * call with no policy violation, an injected inline script does not run, and another site cannot frame it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { Bridge } from '../../src/bridge.js';
import { startTestBridge } from '../helpers/bridge-harness.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { POLL, launchBrowser, openPage, signIn } from '../helpers/browser.js';

describe('the agent page under its security headers', () => {
  let browser: Browser;
  let bridge: Bridge;
  let framer: Server;
  let framerUrl: string;

  beforeAll(async () => {
    browser = await launchBrowser();
    bridge = await startTestBridge();
    // Another site (another origin: localhost, not 127.0.0.1) that tries to frame the page.
    framer = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><title>framer</title><iframe id="victim" src="${bridge.url}/" width="800" height="600"></iframe>`);
    });
    await new Promise<void>((r) => framer.listen(0, '127.0.0.1', () => r()));
    framerUrl = `http://localhost:${(framer.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await browser?.close();
    framer?.closeAllConnections();
    await new Promise<void>((r) => (framer ? framer.close(() => r()) : r()));
    await bridge?.close();
  });

  it('signs in and pops a simulated call with no policy violation, and an injected inline script does not run', async () => {
    const { context, page, errors } = await openPage(browser);
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    try {
      await page.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) => console.log(`Content Security Policy violation: ${e.violatedDirective}`));
      });
      await page.goto(bridge.url);
      await signIn(page, '101', DEMO_EXTENSIONS['101'] ?? '');
      await expect.poll(() => page.textContent('#status'), POLL).toBe('connected');
      await page.click('#simulate');
      await page.waitForSelector('.card', POLL);
      expect(await page.locator('.card .name').first().textContent()).toBe('Rahul Sharma');
      expect(violations).toEqual([]);
      expect(errors).toEqual([]);

      await page.evaluate(() => {
        const s = document.createElement('script');
        s.textContent = 'window.__injected = true';
        document.head.append(s);
      });
      // The policy's refusal is reported; by then the script was refused, not merely late.
      await expect.poll(() => violations.length, POLL).toBeGreaterThan(0);
      const ran = await page.evaluate(() => (window as unknown as { __injected?: boolean }).__injected === true);
      expect(ran).toBe(false);
    } finally {
      await context.close();
    }
  });

  it('cannot be framed by another site', async () => {
    const { context, page } = await openPage(browser);
    try {
      await page.goto(framerUrl);
      await page.waitForLoadState('load');
      const frame = page.frames().find((f) => f !== page.mainFrame());
      // Chromium replaces a refused frame with its error page: the sign-in form never shows up in it.
      const form = frame ? await frame.$('#login-form').catch(() => null) : null;
      expect(form).toBeNull();
    } finally {
      await context.close();
    }
  });
});
