/**
 * The agent page under the conditions a desk actually has, in real headless Chromium against a bridge and the
 * PBX simulator: a PC clock that runs ahead of the bridge's, a reload while a call rings, keyboard and
 * screen-reader use of the cards, and touch targets on a 360 px phone.
 */
import { createServer as createTcpServer, connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { Bridge } from '../../src/bridge.js';
import { startPageSuite } from '../helpers/page-suite.js';
import type { Simulator } from '../../src/simulator/simulator.js';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { POLL, openPage, signIn } from '../helpers/browser.js';

const SIM_TOKEN = 'e2e-review-sim-token-06';
const CALLBACK_SECRET = 'e2e-review-callback-secret-06';
const ENV = {
  PBX_TOKEN: SIM_TOKEN,
  PBX_CALLBACK_SECRET: CALLBACK_SECRET,
  SESSION_SECRET: 'e2e-review-session-secret-0123456789abcdef',
  CREDENTIALS_KEY: Buffer.alloc(32, 6).toString('base64'),
  ADMIN_API_KEY: 'e2e-review-admin-api-key-06',
  ACTIVE_CALLS_POLL_MS: '100',
  CALL_LOG_WAIT_S: '3',
  // An operator's shorter session: one hour.
  AGENT_TOKEN_TTL_S: '3600',
};

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

/**
 * A TCP proxy in front of the bridge whose `freeze()` makes the connections open now go silent in both
 * directions without closing (a laptop asleep, a Wi-Fi change): new connections pass as usual.
 */
async function freezingProxy(port: number): Promise<{ url: string; freeze(): void }> {
  const open = new Set<[Socket, Socket]>();
  const server = createTcpServer((client) => {
    const upstream = netConnect(port, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    open.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const forget = (): void => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', forget).on('close', forget);
    upstream.on('error', forget).on('close', forget);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const [a, b] of open) {
          a.destroy();
          b.destroy();
        }
        server.close(() => r());
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    freeze() {
      for (const [a, b] of open) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
  };
}

async function agentPage(extension: string, opts: { viewport?: { width: number; height: number }; clockAheadMs?: number } = {}): Promise<{ page: Page; errors: string[] }> {
  const { context, page, errors } = await openPage(browser, opts.viewport ? { viewport: opts.viewport } : {});
  cleanups.push(() => context.close());
  if (opts.clockAheadMs) await page.clock.setSystemTime(Date.now() + opts.clockAheadMs);
  await page.goto(bridge.url);
  await signIn(page, extension, DEMO_EXTENSIONS[extension] ?? '');
  await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
  await expect.poll(() => sim.subscriptions().includes(extension), POLL).toBe(true);
  return { page, errors };
}

describe('the agent page on a PC whose clock runs ahead of the bridge', () => {
  it('signs in and stays signed in when the PC clock is 2 hours ahead and sessions last 1 hour', async () => {
    const { page, errors } = await agentPage('106', { clockAheadMs: 2 * 3600_000 });
    expect(await page.isVisible('#live-view')).toBe(true);
    // A reload keeps the session too: the bridge, not the PC's clock, says whether the token is still good.
    await page.reload();
    await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
    expect(await page.isVisible('#live-view')).toBe(true);
    const { callId } = await sim.startCall({ from: '+14155550132', to: '106' });
    await page.waitForSelector('.card.ringing', POLL);
    await sim.hangupCall(callId);
    expect(errors).toEqual([]);
  });
});

describe('a reload while a call rings', () => {
  it('shows the ringing call again, and then follows it', async () => {
    const { page, errors } = await agentPage('107');
    const { callId } = await sim.startCall({ from: '+14155550132', to: '107' });
    await page.waitForSelector('.card.ringing', POLL);
    const name = await page.locator('.card .name').first().textContent();
    await page.reload();
    await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
    await expect.poll(() => page.locator('.card .name').allTextContents(), POLL).toEqual([name]);
    expect(await page.locator('.card').first().evaluate((el) => el.classList.contains('ringing'))).toBe(true);
    await sim.answerCall(callId, '107');
    await expect.poll(() => page.locator('.card .state').first().textContent(), POLL).toBe('On call');
    await sim.hangupCall(callId);
    await expect.poll(() => page.locator('.card .call-status').first().textContent(), POLL).toMatch(/^Call ended/);
    // Still one card per call after another reload.
    await page.reload();
    await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
    await expect.poll(() => page.locator('.card').count(), POLL).toBe(1);
    expect(errors).toEqual([]);
  });
});

describe('a reload after a missed call', () => {
  it('brings its card back, and a missed call marked as seen is not counted again', async () => {
    const { page, errors } = await agentPage('105');
    const { callId } = await sim.startCall({ from: '+14155550177', to: '105' });
    await page.waitForSelector('.card.ringing', POLL);
    await sim.hangupCall(callId);
    await expect.poll(() => page.locator('#missed-count').textContent(), POLL).toBe('1 missed');
    await page.click('#missed-count');
    await page.reload();
    await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
    await expect.poll(() => page.locator('.card .state').allTextContents(), POLL).toEqual(['Missed']);
    expect(await page.locator('#missed-count').isHidden()).toBe(true);
    expect(errors).toEqual([]);
  });
});

describe('a sign-out in another tab with the same session (a duplicated tab)', () => {
  it('says the session was signed out, not that it expired', async () => {
    const a = await agentPage('103');
    const session = await a.page.evaluate(() => ({ token: sessionStorage.getItem('token'), extension: sessionStorage.getItem('extension') }));
    // Chromium's "Duplicate tab" copies sessionStorage: the second tab runs on the same token.
    const { context, page, errors } = await openPage(browser);
    cleanups.push(() => context.close());
    await page.goto(bridge.url);
    await page.evaluate((s) => {
      sessionStorage.setItem('token', s.token ?? '');
      sessionStorage.setItem('extension', s.extension ?? '');
    }, session);
    await page.reload();
    await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
    await a.page.click('#logout');
    await page.waitForSelector('#login-view', { state: 'visible', timeout: POLL.timeout });
    expect(await page.textContent('#login-note')).toBe('You were signed out in another tab or window. Sign in again to receive calls.');
    expect(await a.page.textContent('#login-note')).toBe('You are signed out.');
    expect([...errors, ...a.errors]).toEqual([]);
  });
});

describe('the recent list of an agent whose colleague answered', () => {
  it('says who answered, after the card has left and once the call ended', async () => {
    await agentPage('101'); // the colleague, signed in too (the PBX calls back only for subscribed extensions)
    const { page, errors } = await agentPage('102');
    const { callId } = await sim.startCall({ from: '+14155550143', to: '5000' });
    await page.waitForSelector('.card.ringing', POLL);
    await sim.answerCall(callId, '101');
    await expect.poll(() => page.locator('.card .state').first().textContent(), POLL).toBe('Answered by 101');
    await expect.poll(() => page.locator('#recent li .badge').first().textContent(), POLL).toBe('Answered by 101');
    await sim.hangupCall(callId);
    await expect.poll(() => page.locator('.card').count(), POLL).toBe(0);
    await expect.poll(() => page.locator('#recent li .badge').first().textContent(), POLL).toBe('Answered by 101 · ended');
    expect(errors).toEqual([]);
  });
});

describe('a connection that died silently (a laptop waking up, a Wi-Fi change)', () => {
  it('is checked at once when the browser is back online, and a call rung meanwhile pops, though the page had seen no event before', async () => {
    // Someone else's call first: the log is not empty, so the page's ready names where it starts, and the
    // page can resume from there although it has not seen an event of its own yet.
    const other = await agentPage('103');
    const first = await sim.startCall({ from: '+14155550178', to: '103' });
    await other.page.waitForSelector('.card.ringing', POLL);
    await sim.hangupCall(first.callId);

    const proxy = await freezingProxy(bridge.port);
    const { context, page, errors } = await openPage(browser);
    cleanups.push(() => context.close());
    // The page's clock is the test's: its 25 s ping cannot come by itself within what the test lets pass.
    await page.clock.install();
    await page.goto(proxy.url);
    await signIn(page, '101', DEMO_EXTENSIONS['101'] ?? '');
    await expect.poll(() => page.locator('#status').textContent(), POLL).toBe('connected');
    await expect.poll(() => sim.subscriptions().includes('101'), POLL).toBe(true);
    await page.clock.pauseAt(Date.now() + 1000);

    proxy.freeze();
    await context.setOffline(true);
    const { callId } = await sim.startCall({ from: '+14155550132', to: '101' });
    await context.setOffline(false); // the 'online' event
    expect(await page.locator('.card').count()).toBe(0);
    // 11 s of the page's time: past the 10 s a ping has for its answer, short of the 25 s ping interval.
    await page.clock.runFor(11_000);
    await page.clock.resume();
    await expect.poll(() => page.locator('.card .name').allTextContents(), POLL).toEqual(['Emily Carter']);
    expect(await page.locator('#status').textContent()).toBe('connected');
    await sim.hangupCall(callId);
    expect(errors).toEqual([]);
  });
});

describe('the missed count', () => {
  it('counts a call missed after its card was dismissed (or never popped), not only one whose card is open', async () => {
    const { page, errors } = await agentPage('104');
    const { callId } = await sim.startCall({ from: '+14155550132', to: '104' });
    await page.waitForSelector('.card.ringing', POLL);
    await page.click('.card .dismiss');
    await sim.hangupCall(callId);
    await expect.poll(() => page.locator('#recent li .badge').first().textContent(), POLL).toBe('Missed');
    await expect.poll(() => page.locator('#missed-count').textContent(), POLL).toBe('1 missed');
    expect(await page.locator('#missed-count').isVisible()).toBe(true);
    expect(errors).toEqual([]);
  });
});

describe('keyboard and screen-reader use of the cards', () => {
  it('keeps the keyboard focus on the cards when one goes, and on the Save contact field in error', async () => {
    const { page, errors } = await agentPage('108');
    const first = await sim.startCall({ from: '+14155550132', to: '108' });
    await expect.poll(() => page.locator('.card').count(), POLL).toBe(1);
    const second = await sim.startCall({ from: '+14155550100', to: '108' });
    await expect.poll(() => page.locator('.card').count(), POLL).toBe(2);
    // The dismiss buttons say which call they dismiss.
    expect(await page.locator('.card .dismiss').evaluateAll((els) => els.map((el) => el.getAttribute('aria-label')))).toEqual([
      'Dismiss the call from Unknown caller',
      'Dismiss the call from Emily Carter',
    ]);
    const focused = (): Promise<string | null> =>
      page.evaluate(() => {
        const el = document.activeElement;
        return el && el !== document.body && el.closest('#live-view') ? el.className || el.id || el.tagName : null;
      });
    await page.locator('.card .dismiss').nth(1).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('.card').count(), POLL).toBe(1);
    expect(await focused()).toBe('dismiss');

    // Save contact opened and cancelled from the keyboard: the focus comes back to the button.
    await page.locator('.card .cf-open').focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('.card .cf-cancel', POLL);
    await page.locator('.card .cf-cancel').focus();
    await page.keyboard.press('Enter');
    await expect.poll(focused, POLL).toBe('cf-open');

    // Save with a required field left empty: the focus goes to that field, which says it is invalid and
    // is described by its error.
    await page.keyboard.press('Enter');
    await page.waitForSelector('.card .cf-save', POLL);
    await page.locator('.card .cf-save').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('.card .cf-error[data-for="firstName"]').textContent(), POLL).not.toBe('');
    const field = await page.evaluate(() => {
      const el = document.activeElement as HTMLInputElement | null;
      const described = el?.getAttribute('aria-describedby');
      return { name: el?.name, invalid: el?.getAttribute('aria-invalid'), description: described ? document.getElementById(described)?.textContent : null };
    });
    expect(field).toEqual({ name: 'firstName', invalid: 'true', description: 'is required' });
    await sim.hangupCall(first.callId);
    await sim.hangupCall(second.callId);
    expect(errors).toEqual([]);
  });

  it('the running call timer is not read out every second by a screen reader', async () => {
    const { page, errors } = await agentPage('109');
    const { callId } = await sim.startCall({ from: '+14155550132', to: '109' });
    await page.waitForSelector('.card.ringing', POLL);
    await sim.answerCall(callId, '109');
    await expect.poll(() => page.locator('.card .call-status').first().textContent(), POLL).toMatch(/^On call · 0:0[1-9]/);
    // The live region nearest the ticking text decides what is announced.
    const live = await page.locator('.card .call-status').first().evaluate((el) => el.closest('[aria-live]')?.getAttribute('aria-live') ?? 'off');
    expect(live).toBe('off');
    await sim.hangupCall(callId);
    await expect.poll(() => page.locator('.card .call-status').first().textContent(), POLL).toMatch(/^Call ended/);
    // The end is announced again.
    expect(await page.locator('.card .call-status').first().evaluate((el) => el.closest('[aria-live]')?.getAttribute('aria-live'))).toBe('polite');
    expect(errors).toEqual([]);
  });
});

describe('touch targets on a 360 px phone', () => {
  it('every button on a card is at least 24 by 24 CSS pixels', async () => {
    const { page, errors } = await agentPage('110', { viewport: { width: 360, height: 740 } });
    // A known contact, one with another contact on the same number, and an unknown caller (Save contact).
    const calls = [];
    for (const from of ['+14155550132', '+919925011223', '+14155550100']) {
      calls.push(await sim.startCall({ from, to: '110' }));
      await expect.poll(() => page.locator('.card').count(), POLL).toBe(calls.length);
    }
    expect(await page.locator('.card .others button').count()).toBe(1);
    expect(await page.locator('.card .cf-open:visible').count()).toBe(1);
    const small = await page.evaluate(() =>
      Array.from(document.querySelectorAll<HTMLElement>('.card button, .card a, header button'))
        .filter((el) => el.offsetParent !== null)
        .map((el) => ({ what: `${el.className || el.id}`, w: el.getBoundingClientRect().width, h: el.getBoundingClientRect().height }))
        .filter((r) => r.w < 24 || r.h < 24),
    );
    expect(small).toEqual([]);
    for (const { callId } of calls) await sim.hangupCall(callId);
    expect(errors).toEqual([]);
  });
});
