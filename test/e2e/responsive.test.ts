/**
 * The agent page on a phone and on a desktop: at 390x844 (and the narrowest supported width, 360) and
 * 1280x800 nothing is wider than the viewport, nothing scrolls sideways, and every control on the sign-in
 * form and the live view (with cards, other contacts and a CRM link on screen) is visible, inside the
 * viewport and clickable (Playwright's actionability checks: visible, stable, enabled, not covered).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { Bridge } from '../../src/bridge.js';
import { startTestBridge } from '../helpers/bridge-harness.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { POLL, launchBrowser, openPage, signIn } from '../helpers/browser.js';

// One extension each: the page reads the extension's recent calls back from the bridge's journal, so a
// viewport signed in as an extension an earlier one called would list those calls too.
const VIEWPORTS = [
  { width: 390, height: 844, extension: '101' },
  { width: 360, height: 740, extension: '102' },
  { width: 1280, height: 800, extension: '103' },
];

let browser: Browser;
let bridge: Bridge;

beforeAll(async () => {
  browser = await launchBrowser();
  bridge = await startTestBridge({ CRM_LINK_TEMPLATE: 'https://crm.example.com/search?phone={number}' });
});

afterAll(async () => {
  await bridge?.close();
  await browser?.close();
});

/** Visible elements that stick out of the viewport sideways, and the page's own sideways overflow. */
async function overflow(page: Page): Promise<{ scrollWidth: number; innerWidth: number; outside: string[] }> {
  return page.evaluate(() => {
    const outside: string[] = [];
    for (const el of Array.from(document.body.querySelectorAll('*'))) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (r.left < -0.5 || r.right > window.innerWidth + 0.5) {
        outside.push(`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className ? `.${String(el.className).split(' ').join('.')}` : ''} [${Math.round(r.left)}, ${Math.round(r.right)}]`);
      }
    }
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, outside };
  });
}

/** Every visible control is inside the viewport horizontally, and clickable; header controls stay on the header. */
async function checkControls(page: Page, width: number): Promise<number> {
  const header = await page.locator('header').boundingBox();
  const controls = page.locator('button:visible, input:visible, a:visible');
  const count = await controls.count();
  for (let i = 0; i < count; i++) {
    const control = controls.nth(i);
    const name = await control.evaluate((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} "${(el.textContent ?? '').trim().slice(0, 30)}"`);
    await control.scrollIntoViewIfNeeded();
    const box = await control.boundingBox();
    expect(box, name).not.toBeNull();
    if (!box) continue;
    expect(box.x, `${name} left edge`).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width, `${name} right edge`).toBeLessThanOrEqual(width + 0.5);
    const inHeader = await control.evaluate((el) => el.closest('header') !== null);
    if (inHeader && header) {
      // On the dark header, not spilling onto the light page (white text on light).
      expect(box.y, `${name} inside the header`).toBeGreaterThanOrEqual(header.y - 0.5);
      expect(box.y + box.height, `${name} inside the header`).toBeLessThanOrEqual(header.y + header.height + 0.5);
    }
    await control.click({ trial: true, timeout: 10_000 });
  }
  return count;
}

describe.each(VIEWPORTS)('the agent page at $width x $height', ({ extension, ...viewport }) => {
  it('fits the viewport and every control is visible and clickable, signed out and signed in with calls', async () => {
    const { context, page, errors } = await openPage(browser, { viewport });
    const notFound: string[] = [];
    page.on('response', (res) => {
      if (res.status() === 404) notFound.push(res.url());
    });
    try {
      await page.goto(bridge.url);
      await expect.poll(() => page.textContent('#login-note'), POLL).toContain('Demo mode');
      expect(await overflow(page)).toMatchObject({ scrollWidth: viewport.width, outside: [] });
      expect(await checkControls(page, viewport.width)).toBeGreaterThanOrEqual(3);

      await signIn(page, extension, DEMO_EXTENSIONS[extension] ?? '');
      await expect.poll(() => page.textContent('#status'), POLL).toBe('connected');
      // The notifications offer and sign-out are the buttons a narrow header used to push off-screen.
      expect(await page.isVisible('#notify')).toBe(true);
      expect(await page.isVisible('#logout')).toBe(true);
      // Three calls: known contacts, one sharing its number with others (their buttons), and a stranger.
      for (let n = 1; n <= 3; n++) {
        await page.click('#simulate');
        await expect.poll(() => page.locator('#recent li').count(), POLL).toBe(n);
      }
      await expect.poll(() => page.locator('.card').count(), POLL).toBe(3);
      await expect.poll(() => page.locator('.card .crm:visible').count(), POLL).toBeGreaterThan(0);

      expect(await overflow(page)).toMatchObject({ scrollWidth: viewport.width, outside: [] });
      expect(await checkControls(page, viewport.width)).toBeGreaterThanOrEqual(6);

      // And the buttons really work from there.
      await page.locator('#logout').click();
      await page.waitForSelector('#login-view', { state: 'visible' });
      expect(errors).toEqual([]);
      expect(notFound).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
