/**
 * The agent page when its session ends mid-call, in real headless Chromium against a bridge and the PBX
 * simulator: the cards on screen stay (marked as not live), the page asks for the password again without a
 * reload, and after signing in it resumes from its last event id, so a call that rang meanwhile pops once.
 * Also where the keyboard focus goes after signing in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { Bridge } from '../../src/bridge.js';
import { startPageSuite } from '../helpers/page-suite.js';
import { TokenService } from '../../src/auth/tokens.js';
import { MemoryKeyValueStore } from '../../src/store/memory.js';
import type { Simulator } from '../../src/simulator/simulator.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { POLL, openPage, signIn } from '../helpers/browser.js';
import { letTimePass } from '../helpers/wait.js';

const SIM_TOKEN = 'e2e-session-sim-token-07';
const CALLBACK_SECRET = 'e2e-session-callback-secret-07';
const SESSION_SECRET = 'e2e-session-secret-page7-0123456789abcdef';
const ENV = {
  PBX_TOKEN: SIM_TOKEN,
  PBX_CALLBACK_SECRET: CALLBACK_SECRET,
  SESSION_SECRET,
  CREDENTIALS_KEY: Buffer.alloc(32, 7).toString('base64'),
  ADMIN_API_KEY: 'e2e-session-admin-api-key-07',
  ACTIVE_CALLS_POLL_MS: '100',
  CALL_LOG_WAIT_S: '3',
};
const EXPIRED = 'Your session has expired. Please sign in again.';

let browser: Browser;
let sim: Simulator;
let bridge: Bridge;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  ({ browser, sim, bridge } = await startPageSuite({ simulator: { token: SIM_TOKEN, recordingDelayMs: 200, sendStateCallbacks: true }, env: ENV, callbackSecret: CALLBACK_SECRET, cleanups }));
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** Subscribes `extension` at the PBX the way a sign-in does (the short token below subscribes nothing). */
async function subscribe(extension: string): Promise<void> {
  const res = await fetch(`${bridge.url}/api/agents/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ extension, password: DEMO_EXTENSIONS[extension] }),
  });
  expect(res.status).toBe(200);
  await expect.poll(() => sim.subscriptions().includes(extension), POLL).toBe(true);
}

/**
 * A page signed in on `extension` with a token the bridge itself would issue (same SESSION_SECRET), issued
 * 50 s ago for 60 s: it runs out ~10 s from now. AGENT_TOKEN_TTL_S cannot go below 60 s, and a test should not
 * wait a minute.
 */
async function pageWithShortSession(extension: string, viewport?: { width: number; height: number }): Promise<{ page: Page; errors: string[] }> {
  await subscribe(extension);
  const tokens = new TokenService(SESSION_SECRET, new MemoryKeyValueStore(), () => Date.now() - 50_000);
  const { token } = await tokens.issue(extension, 'agent', 60);
  const { context, page, errors } = await openPage(browser, viewport ? { viewport } : {});
  cleanups.push(() => context.close());
  await page.goto(bridge.url);
  await page.evaluate(
    (s) => {
      sessionStorage.setItem('token', s.token);
      sessionStorage.setItem('extension', s.extension);
    },
    { token, extension },
  );
  await page.reload();
  await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
  return { page, errors };
}

const EXPIRY = { timeout: 20_000 } as const;

describe('a session that ends while a call is ringing', () => {
  it('keeps the card (not live), asks to sign in again without a reload, then resumes: the call rung meanwhile pops once', async () => {
    const { page, errors } = await pageWithShortSession('104');
    const first = await sim.startCall({ from: '+14155550132', to: '104' });
    await page.waitForSelector('.card.ringing', POLL);
    const names = await page.locator('.card .name').allTextContents();
    expect(names).toEqual(['Emily Carter']);

    // The token runs out: the bridge closes the socket with 4001.
    await page.waitForSelector('#login-view', { state: 'visible', ...EXPIRY });
    expect(await page.textContent('#login-note')).toBe(EXPIRED);
    expect(await page.locator('.card .name').allTextContents()).toEqual(names);
    expect(await page.locator('.card').first().evaluate((el) => el.classList.contains('not-live'))).toBe(true);
    expect(await page.locator('.card .live-note').first().textContent()).toMatch(/not live/i);
    expect(await page.isVisible('#live-view')).toBe(true);
    // The extension is filled in; the agent types the password.
    expect(await page.inputValue('#extension')).toBe('104');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('password');

    // Meanwhile the first call is answered here and a second one rings.
    await sim.answerCall(first.callId, '104');
    const second = await sim.startCall({ from: '+14155550177', to: '104' });

    await signIn(page, '104', DEMO_EXTENSIONS['104'] ?? '');
    await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
    expect(await page.isVisible('#login-view')).toBe(false);
    // The second call pops once; the first card followed what happened while the page was away.
    await expect.poll(() => page.locator('.card .number').allTextContents(), POLL).toEqual(['+1 415-555-0177', '+1 415-555-0132']);
    await expect.poll(() => page.locator('.card .state').last().textContent(), POLL).toBe('On call');
    expect(await page.locator('.card.not-live').count()).toBe(0);
    expect(await page.locator('#recent li').count()).toBe(2); // one line per call, none twice
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('calls-heading');
    expect(await page.textContent('#announce')).toBe('Signed in again as extension 104. Calls that rang meanwhile are shown.');

    // A reload resumes from the same place: still one card per call.
    await page.reload();
    await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
    await expect.poll(() => page.locator('.card').count(), POLL).toBe(2);
    await sim.hangupCall(second.callId);
    await sim.hangupCall(first.callId);
    expect(errors).toEqual([]);
  }, 60_000);

  it('a reload while signed out keeps the cards; signing in as another extension clears them', async () => {
    const { page, errors } = await pageWithShortSession('105');
    const call = await sim.startCall({ from: '+14155550132', to: '105' });
    await page.waitForSelector('.card.ringing', POLL);
    await page.waitForSelector('#login-view', { state: 'visible', ...EXPIRY });
    await page.reload();
    await page.waitForSelector('#login-view', { state: 'visible', timeout: POLL.timeout });
    expect(await page.locator('.card.not-live .name').allTextContents()).toEqual(['Emily Carter']);
    expect(await page.textContent('#login-note')).toBe(EXPIRED);

    // Another agent at the same desk: 105's calls are not theirs.
    await signIn(page, '106', DEMO_EXTENSIONS['106'] ?? '');
    await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
    expect(await page.locator('.card').count()).toBe(0);
    expect(await page.textContent('#who')).toBe('Extension 106');
    await sim.hangupCall(call.callId);
    expect(errors).toEqual([]);
  }, 60_000);

  it('at 360 px the sign-in form and the kept card both fit', async () => {
    const { page, errors } = await pageWithShortSession('107', { width: 360, height: 740 });
    const call = await sim.startCall({ from: '+14155550132', to: '107' });
    await page.waitForSelector('.card.ringing', POLL);
    // The warning before the end (this session has ~10 s left) fits too.
    await page.waitForSelector('#renew', { state: 'visible', timeout: POLL.timeout });
    const renew = await page.locator('#renew').boundingBox();
    expect(renew !== null && renew.x >= 0 && renew.x + renew.width <= 360 && renew.height >= 24).toBe(true);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await page.waitForSelector('#login-view', { state: 'visible', ...EXPIRY });
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(wide).toBeLessThanOrEqual(360);
    for (const sel of ['#login-submit', '#password', '.card .dismiss']) {
      const box = await page.locator(sel).first().boundingBox();
      expect(box, sel).not.toBeNull();
      expect((box?.x ?? -1) >= 0 && (box?.x ?? 0) + (box?.width ?? 0) <= 360, sel).toBe(true);
    }
    // A kept card can be dismissed.
    await page.click('.card .dismiss');
    expect(await page.locator('.card').count()).toBe(0);
    // The last one gone, only the sign-in form is left.
    expect(await page.isVisible('#live-view')).toBe(false);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('password');
    await sim.hangupCall(call.callId);
    expect(errors).toEqual([]);
  }, 60_000);
});

describe('Save contact on a card kept after the session ran out', () => {
  it("shows the tenant's custom fields once signed in again, though it was opened while signed out", async () => {
    const { page, errors } = await pageWithShortSession('108');
    const call = await sim.startCall({ from: '+14155550177', to: '108' });
    await page.waitForSelector('.card.ringing .cf-open', POLL);
    await page.waitForSelector('#login-view', { state: 'visible', ...EXPIRY });
    // Opened while signed out: the fields cannot be read.
    await page.click('.card .cf-open');
    await page.waitForSelector('.card .cf-form', POLL);
    expect(await page.locator('.card [name="customFields.Company"]').count()).toBe(0);
    await page.click('.card .cf-cancel');
    await signIn(page, '108', DEMO_EXTENSIONS['108'] ?? '');
    await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
    await page.click('.card .cf-open');
    await expect.poll(() => page.locator('.card [name="customFields.Company"]').count(), POLL).toBe(1);
    await sim.hangupCall(call.callId);
    expect(errors).toEqual([]);
  }, 60_000);
});

describe('a session about to end', () => {
  it('offers to sign in again before it ends, and doing so keeps the page live with no call lost or doubled', async () => {
    const { page, errors } = await pageWithShortSession('103');
    const expiresAt = await page.evaluate(() => {
      const part = (sessionStorage.getItem('token') ?? '').split('.')[1] ?? '';
      return (JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as { exp: number }).exp * 1000;
    });
    // A 60 s session gets its warning 15 s ahead (a quarter of it); this one has ~10 s left.
    await page.waitForSelector('#session-warning', { state: 'visible', timeout: POLL.timeout });
    expect(await page.textContent('#session-warning-text')).toMatch(/^Your session ends at /);
    const first = await sim.startCall({ from: '+14155550132', to: '103' });
    await page.waitForSelector('.card.ringing', POLL);

    await page.click('#renew');
    expect(await page.isVisible('#login-view')).toBe(true);
    expect(await page.isVisible('#live-view')).toBe(true);
    expect(await page.inputValue('#extension')).toBe('103');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('password');
    await signIn(page, '103', DEMO_EXTENSIONS['103'] ?? '');
    await expect.poll(() => page.isVisible('#login-view'), POLL).toBe(false);
    await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
    expect(await page.isVisible('#session-warning')).toBe(false);

    // Past the old token's end: nothing happens to the page.
    await letTimePass(Math.max(0, expiresAt - Date.now()) + 1500);
    expect(await page.isVisible('#login-view')).toBe(false);
    expect(await page.locator('#status').textContent()).toBe('connected');
    await sim.answerCall(first.callId, '103');
    const second = await sim.startCall({ from: '+14155550177', to: '103' });
    await expect.poll(() => page.locator('.card .number').allTextContents(), POLL).toEqual(['+1 415-555-0177', '+1 415-555-0132']);
    await expect.poll(() => page.locator('.card .state').last().textContent(), POLL).toBe('On call');
    expect(await page.locator('.card.not-live').count()).toBe(0);
    await sim.hangupCall(second.callId);
    await sim.hangupCall(first.callId);
    expect(errors).toEqual([]);
  }, 60_000);
});

describe('the session warning on a PC whose clock runs ahead of the bridge', () => {
  it('is not shown for a one-hour session when the PC clock is two hours ahead', async () => {
    await subscribe('102');
    const tokens = new TokenService(SESSION_SECRET, new MemoryKeyValueStore());
    const { token } = await tokens.issue('102', 'agent', 3600);
    const { context, page, errors } = await openPage(browser);
    cleanups.push(() => context.close());
    await page.clock.setSystemTime(Date.now() + 2 * 3600_000);
    await page.goto(bridge.url);
    await page.evaluate((t) => {
      sessionStorage.setItem('token', t);
      sessionStorage.setItem('extension', '102');
    }, token);
    await page.reload();
    await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
    await expect.poll(() => page.isVisible('#session-warning'), POLL).toBe(false);
    expect(errors).toEqual([]);
  });
});

describe('desktop notifications of two calls at once', () => {
  it('are two, in two tabs signed in as different extensions: the second call does not replace the first', async () => {
    const { context, errors } = await openPage(browser);
    cleanups.push(() => context.close());
    // The page is in the background, and the notifications are recorded in localStorage (one list for the
    // origin, as the system shows them): a notification with the tag of one already shown replaces it.
    await context.addInitScript(() => {
      class RecordingNotification {
        static permission = 'granted';
        static requestPermission = async (): Promise<string> => 'granted';
        onclick: (() => void) | null = null;
        constructor(title: string, options?: { tag?: string }) {
          window.localStorage.setItem('__shown', JSON.stringify([...JSON.parse(window.localStorage.getItem('__shown') ?? '[]'), { title, tag: options?.tag ?? '' }]));
        }
        close(): void {}
      }
      Object.defineProperty(window, 'Notification', { value: RecordingNotification });
      document.hasFocus = () => false;
    });
    const tabs: Page[] = [];
    for (const extension of ['101', '102']) {
      const page = await context.newPage();
      await page.goto(bridge.url);
      await signIn(page, extension, DEMO_EXTENSIONS[extension] ?? '');
      await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
      await expect.poll(() => sim.subscriptions().includes(extension), POLL).toBe(true);
      tabs.push(page);
    }
    const a = await sim.startCall({ from: '+14155550132', to: '101' });
    await tabs[0]?.waitForSelector('.card.ringing', POLL);
    const b = await sim.startCall({ from: '+14155550177', to: '102' });
    await tabs[1]?.waitForSelector('.card.ringing', POLL);
    const shown = async (): Promise<Array<{ title: string; tag: string }>> =>
      JSON.parse((await tabs[0]?.evaluate(() => window.localStorage.getItem('__shown'))) ?? '[]') as Array<{ title: string; tag: string }>;
    await expect.poll(async () => (await shown()).length, POLL).toBe(2);
    const tags = (await shown()).map((n) => n.tag);
    expect(new Set(tags).size).toBe(2);
    await sim.hangupCall(a.callId);
    await sim.hangupCall(b.callId);
    expect(errors).toEqual([]);
  }, 60_000);
});

describe('the keyboard focus after signing in', () => {
  it('moves to the Calls heading, and the sign-in is announced', async () => {
    const { context, page, errors } = await openPage(browser);
    cleanups.push(() => context.close());
    await page.goto(bridge.url);
    await signIn(page, '108', DEMO_EXTENSIONS['108'] ?? '');
    await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('calls-heading');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Calls');
    expect(await page.textContent('#announce')).toBe('Signed in as extension 108.');
    expect(await page.getAttribute('#announce', 'aria-live')).toBe('polite');
    expect(errors).toEqual([]);
  });
});

describe('a sign-out and another agent signing in while an answer for the first is still on its way', () => {
  it("never lists the first agent's recent calls for the second", async () => {
    // 109 has a call in the journal.
    await subscribe('109');
    const login = await fetch(`${bridge.url}/api/agents/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ extension: '109', password: DEMO_EXTENSIONS['109'] }),
    });
    const { token } = (await login.json()) as { token: string };
    const call = await sim.startCall({ from: '+14155550132', to: '109' });
    await sim.answerCall(call.callId, '109');
    await sim.hangupCall(call.callId);
    const ownCalls = async (): Promise<number> => {
      const res = await fetch(`${bridge.url}/api/agents/calls`, { headers: { authorization: `Bearer ${token}` } });
      return ((await res.json()) as { calls?: unknown[] }).calls?.length ?? 0;
    };
    await expect.poll(ownCalls, { timeout: 15_000, interval: 200 }).toBeGreaterThan(0);

    const { context, page, errors } = await openPage(browser);
    cleanups.push(() => context.close());
    // A slow network: the bridge has answered 109's recent calls, the answer reaches the page late.
    const held: { release?: () => Promise<void> } = {};
    await page.route('**/api/agents/calls', async (route) => {
      const response = await route.fetch();
      if (held.release === undefined) held.release = () => route.fulfill({ response });
      else await route.fulfill({ response });
    });
    await page.goto(bridge.url);
    await signIn(page, '109', DEMO_EXTENSIONS['109'] ?? '');
    await expect.poll(() => held.release !== undefined, POLL).toBe(true);
    await page.click('#logout');
    await signIn(page, '110', DEMO_EXTENSIONS['110'] ?? '');
    await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
    const late = page.waitForEvent('requestfinished', (r) => new URL(r.url()).pathname === '/api/agents/calls' && new URL(r.url()).search === '');
    await held.release?.();
    await late;
    // What the page does (or not) with the late answer, once it has it.
    await letTimePass(500);
    expect(await page.locator('#recent li').count()).toBe(0);
    expect(errors).toEqual([]);
  }, 60_000);
});
