/**
 * Headless Chromium for the browser tests: Debian's `chromium` driven by playwright-core (never a downloaded
 * browser). CHROMIUM_PATH overrides where it is (scripts/test-deps.mjs). Launch once per test file and open a fresh context per test.
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { findChromium } from '../../scripts/test-deps.mjs';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** CHROMIUM_PATH, else /usr/bin/chromium, else chromium or chromium-browser on the PATH (as the pretest check). */
export function chromiumPath(): string {
  const found = findChromium();
  if (!found.path) throw new Error('Chromium not found; install Debian\'s chromium or set CHROMIUM_PATH (npm test checks this first)');
  return found.path;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS, timeout: 30_000 });
}

/** A fresh context (own sessionStorage, cookies) and page; page errors are collected for assertions. */
export async function openPage(browser: Browser, opts: { viewport?: { width: number; height: number } } = {}): Promise<{
  context: BrowserContext;
  page: Page;
  errors: string[];
}> {
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1100, height: 800 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  return { context, page, errors };
}

/** Signs in through the page's form. */
export async function signIn(page: Page, extension: string, password: string): Promise<void> {
  await page.fill('#extension', extension);
  await page.fill('#password', password);
  await page.click('#login-submit');
}

/** expect.poll's default (1 s) is too short for a browser on a loaded two-core CI machine. */
export const POLL = { timeout: 8000, interval: 50 } as const;
