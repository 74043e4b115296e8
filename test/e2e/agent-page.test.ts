/**
 * The agent page in real headless Chromium: sign-in, "Simulate a call", text-only rendering of phonebook data,
 * the embeddable client imported cross-origin, and the README screenshot.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { Bridge } from '../../src/bridge.js';
import { startTestBridge } from '../helpers/bridge-harness.js';
import { createSimulator, type Simulator } from '../../src/simulator/simulator.js';
import { DEMO_CONTACTS, DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { POLL, launchBrowser, openPage, signIn } from '../helpers/browser.js';

const SIM_TOKEN = 'e2e-sim-token-0001';
const CALLBACK_SECRET = 'e2e-callback-secret-0001';
const ADMIN_API_KEY = 'e2e-admin-api-key-000001';
const SECRETS = {
  PBX_TOKEN: SIM_TOKEN,
  PBX_CALLBACK_SECRET: CALLBACK_SECRET,
  SESSION_SECRET: 'e2e-session-secret-0123456789abcdef',
  CREDENTIALS_KEY: Buffer.alloc(32, 7).toString('base64'),
  ADMIN_API_KEY,
};
const pw = (ext: string): string => DEMO_EXTENSIONS[ext] ?? '';

let browser: Browser;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  browser = await launchBrowser();
  cleanups.push(() => browser.close());
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** A bridge in front of a simulator of its own, so the test controls the phonebook. */
async function simulatorBridge(opts: { contacts?: Array<Record<string, unknown>>; env?: Record<string, string> } = {}): Promise<{
  sim: Simulator;
  bridge: Bridge;
}> {
  const sim = createSimulator({ token: SIM_TOKEN, ...(opts.contacts ? { contacts: opts.contacts } : {}) });
  cleanups.push(() => sim.close());
  const address = await sim.listen();
  const bridge = await startTestBridge({ PBX_BASE_URL: address.apiBaseUrl, ...SECRETS, ...opts.env });
  cleanups.push(() => bridge.close());
  sim.setCallbackUrl(`${bridge.url}/pbx/callback/${CALLBACK_SECRET}`);
  return { sim, bridge };
}

function contact(id: number, displayName: string, numbers: { phone?: string; cell?: string }, custom: Record<string, string>) {
  return {
    'Phonebook ID': String(id),
    'First Name': displayName,
    'Last Name': '',
    'Display Name': displayName,
    Extension: '',
    'Phone Number': numbers.phone ?? '',
    'Cell Number': numbers.cell ?? '',
    'Email ID': '',
    'Phone Group': '1',
    'Custom Details': custom,
  };
}

describe('the agent page in demo mode', () => {
  let bridge: Bridge;

  beforeAll(async () => {
    bridge = await startTestBridge();
    cleanups.push(() => bridge.close());
  });

  it('refuses a wrong password, then signs in with the right one and shows the connection', async () => {
    const { context, page, errors } = await openPage(browser);
    try {
      await page.goto(bridge.url);
      await expect.poll(() => page.textContent('#login-note'), POLL).toContain('Demo mode');
      expect(await page.isVisible('#demo')).toBe(false); // not before sign-in

      await signIn(page, '101', 'not-the-password');
      await expect.poll(() => page.textContent('#login-error'), POLL).toBe('Wrong extension or password.');
      expect(await page.isVisible('#login-view')).toBe(true);
      expect(await page.evaluate(() => sessionStorage.getItem('token'))).toBeNull();

      await signIn(page, '101', pw('101'));
      await page.waitForSelector('#live-view', { state: 'visible' });
      await expect.poll(() => page.textContent('#status'), POLL).toBe('connected');
      expect(await page.textContent('#who')).toBe('Extension 101');
      expect(await page.inputValue('#password')).toBe(''); // the password does not linger in the form
      expect(await page.isVisible('#simulate')).toBe(true);
      // Desktop notifications are offered, never asked for on load.
      expect(await page.evaluate(() => Notification.permission)).toBe('default');

      // Sign out: back to the form, and the token is gone.
      await page.click('#logout');
      await page.waitForSelector('#login-view', { state: 'visible' });
      expect(await page.textContent('#status')).toBe('signed out');
      expect(await page.evaluate(() => sessionStorage.getItem('token'))).toBeNull();
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('"Simulate a call" pops a card with the right name and company within a second', async () => {
    const { context, page, errors } = await openPage(browser);
    try {
      await page.goto(bridge.url);
      await signIn(page, '101', pw('101'));
      await expect.poll(() => page.textContent('#status'), POLL).toBe('connected');

      // Timed inside the page, from the click to the card in the DOM (the test driver's own latency left out).
      await page.evaluate(() => {
        const w = window as unknown as { __popMs?: number };
        const started = performance.now();
        new MutationObserver((_m, observer) => {
          if (document.querySelector('#cards .card')) {
            w.__popMs = performance.now() - started;
            observer.disconnect();
          }
        }).observe(document.getElementById('cards') as HTMLElement, { childList: true });
        (document.getElementById('simulate') as HTMLButtonElement).click();
      });
      await page.waitForSelector('.card', POLL);
      const popMs = await page.evaluate(() => (window as unknown as { __popMs?: number }).__popMs);
      expect(popMs).toBeLessThan(1000);

      // The demo's first caller is 09824740472, Rahul Sharma of Hodusoft in the demo phonebook.
      const card = page.locator('.card').first();
      expect(await card.locator('.name').textContent()).toBe('Rahul Sharma');
      expect(await card.locator('.company').textContent()).toBe('Hodusoft');
      expect(await card.locator('.state').textContent()).toBe('Ringing');
      expect(await card.locator('.fields').textContent()).toContain('Ahmedabad');
      expect(await page.locator('#recent li').count()).toBe(1);
      // The title flashes while it rings.
      await expect.poll(() => page.title(), POLL).toContain('☎ Rahul Sharma');

      // Dismissing the card stops the flashing.
      await card.locator('.dismiss').click();
      expect(await page.locator('.card').count()).toBe(0);
      expect(await page.isVisible('#no-calls')).toBe(true);
      await expect.poll(() => page.title(), POLL).not.toContain('☎');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe('the agent page fed by a fake socket (defence in depth)', () => {
  it('never puts a non-http(s) CRM link in an href, and drops an event it has already shown', async () => {
    const bridge = await startTestBridge();
    cleanups.push(() => bridge.close());
    const { context, page, errors } = await openPage(browser);
    try {
      // The bridge only builds http(s) links; this stands in for one that went wrong somewhere upstream.
      await page.addInitScript(() => {
        const event = (id: string, crm: string, from: string) =>
          JSON.stringify({
            id,
            type: 'call.ringing',
            timestamp: new Date().toISOString(),
            data: {
              extension: '101',
              call: { id: `call-${id}`, from, fromRaw: from, fromName: null, to: '101', direction: 'inbound' },
              contact: null,
              otherContacts: [],
              links: { crm },
            },
          });
        class FakeSocket {
          readyState = 1;
          onmessage: ((m: { data: string }) => void) | null = null;
          onclose: ((e: { code: number }) => void) | null = null;
          constructor() {
            const frames = [
              '{"type":"ready","extension":"101","resumed":false}',
              event('1-0', 'javascript:window.__xss=5', '+14155550100'),
              event('1-0', 'https://crm.example.com/x', '+14155550100'), // the same id again: not shown twice
              event('2-0', 'https://crm.example.com/contacts?phone=%2B14155550101', '+14155550101'),
            ];
            frames.forEach((data, i) =>
              setTimeout(() => {
                this.onmessage?.({ data });
                (window as unknown as { __framesSent?: number }).__framesSent = i + 1;
              }, 50 * (i + 1)),
            );
          }
          send(): void {}
          close(): void {}
        }
        Object.defineProperty(window, 'WebSocket', { value: FakeSocket });
        const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
        sessionStorage.setItem('token', `${b64({ alg: 'HS256' })}.${b64({ exp: Math.floor(Date.now() / 1000) + 600 })}.sig`);
        sessionStorage.setItem('extension', '101');
      });
      await page.goto(bridge.url);
      await expect.poll(() => page.locator('.card').count(), POLL).toBe(2);
      // Every frame handled, the repeated id included: it must not have made a third card.
      await expect.poll(() => page.evaluate(() => (window as unknown as { __framesSent?: number }).__framesSent), POLL).toBe(4);
      expect(await page.locator('.card').count()).toBe(2);
      const [second, first] = [page.locator('.card').nth(0), page.locator('.card').nth(1)];
      expect(await first.locator('.number').textContent()).toBe('+1 415-555-0100');
      expect(await first.locator('.crm').isHidden()).toBe(true);
      expect(await first.locator('.crm').getAttribute('href')).toBeNull();
      expect(await second.locator('.crm').getAttribute('href')).toBe('https://crm.example.com/contacts?phone=%2B14155550101');
      expect(await page.locator('#recent li').count()).toBe(2);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe('the agent page against a PBX of its own', () => {
  it('shows a contact whose name holds HTML as text and runs nothing', async () => {
    const img = '<img src=x onerror=window.__xss=1>';
    const script = '<script>window.__xss=2</script>';
    const { sim, bridge } = await simulatorBridge({
      contacts: [
        contact(901, img, { phone: '+1 415 555 0101' }, { Company: '<b onmouseover=window.__xss=3>Evil</b> Corp', City: script }),
        contact(902, script, { cell: '+1 415 555 0101' }, {}),
      ],
    });
    const { context, page, errors } = await openPage(browser);
    try {
      await page.goto(bridge.url);
      await signIn(page, '102', pw('102'));
      await expect.poll(() => page.textContent('#status'), POLL).toBe('connected');

      // A stranger whose caller ID is HTML too.
      await sim.ring({ extension: '102', from: '+1 212 555 0199', fromName: '<img src=y onerror=window.__xss=4>' });
      await sim.ring({ extension: '102', from: '+1 415 555 0101' });
      await expect.poll(() => page.locator('.card').count(), POLL).toBe(2);

      const card = page.locator('.card').first();
      expect(await card.locator('.name').textContent()).toBe(img);
      expect(await card.locator('.company').textContent()).toBe('<b onmouseover=window.__xss=3>Evil</b> Corp');
      expect(await card.locator('.fields').textContent()).toContain(script);
      expect(await card.locator('.others button').textContent()).toBe(script);
      expect(await page.locator('#recent li').first().locator('.who').textContent()).toBe(img);
      const stranger = page.locator('.card').nth(1);
      expect(await stranger.locator('.name').textContent()).toBe('Unknown caller');
      expect(await stranger.locator('.caller-id').textContent()).toBe('Caller ID: <img src=y onerror=window.__xss=4>');
      expect(await stranger.locator('.number').textContent()).toBe('+1 212-555-0199');

      await card.locator('.company').hover(); // an onmouseover, had it become an element, would fire now

      // Picking the other contact shows its name, again as text.
      await card.locator('.others button').click();
      expect(await card.locator('.name').textContent()).toBe(script);
      expect(await card.locator('.others button').textContent()).toBe(img);

      // The text is visible on screen, no element was made from it, and nothing ran.
      expect(await card.locator('.name').isVisible()).toBe(true);
      expect(await card.locator('.name').evaluate((el) => el.childElementCount)).toBe(0);
      expect(await page.locator('#cards img, #cards script, #cards b, #recent img').count()).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss)).toBeUndefined();
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('the embeddable client works from a CRM page on another origin, with a token from the admin API', async () => {
    const { sim, bridge } = await simulatorBridge();
    // The extension is subscribed at the PBX by an agent sign-in; the CRM then asks for a token of its own.
    const login = await fetch(`${bridge.url}/api/agents/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ extension: '103', password: pw('103') }),
    });
    expect(login.status).toBe(200);
    const minted = await fetch(`${bridge.url}/api/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_API_KEY}` },
      body: JSON.stringify({ extension: '103', role: 'agent', ttlSeconds: 600 }),
    });
    expect(minted.status).toBe(200);
    const { token } = (await minted.json()) as { token: string };

    const clientJs = await fetch(`${bridge.url}/client.js`, { headers: { origin: 'http://crm.test' } });
    expect(clientJs.headers.get('access-control-allow-origin')).toBe('*');
    expect(clientJs.headers.get('content-type')).toMatch(/javascript/);

    const crmPage = `<!doctype html><meta charset="utf-8"><title>CRM</title><ul id="pops"></ul>
<script type="module">
  import { connect } from ${JSON.stringify(`${bridge.url}/client.js`)};
  window.statuses = [];
  window.events = [];
  connect({
    token: ${JSON.stringify(token)},
    onStatus: (s) => window.statuses.push(s),
    onEvent: (e) => { window.events.push(e); const li = document.createElement('li'); li.textContent = e.data.contact?.displayName ?? e.data.call.from; document.getElementById('pops').append(li); },
  });
</script>`;
    const crm: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(crmPage);
    });
    await new Promise<void>((resolve) => crm.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => crm.close(resolve)));
    // "localhost" vs "127.0.0.1": a different origin from the bridge's.
    const crmUrl = `http://localhost:${(crm.address() as AddressInfo).port}/`;

    const { context, page, errors } = await openPage(browser);
    try {
      await page.goto(crmUrl);
      await expect.poll(() => page.evaluate(() => (window as unknown as { statuses: string[] }).statuses), POLL).toContain('connected');
      await sim.ring({ extension: '103', from: '(415) 555-0132' });
      await expect.poll(() => page.textContent('#pops'), POLL).toBe('Emily Carter');
      const events = await page.evaluate(() => (window as unknown as { events: Array<{ type: string }> }).events);
      expect(events.map((e) => e.type)).toEqual(['call.ringing']);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('takes the README screenshot: a known contact with company and custom fields, and more cards', async () => {
    const { sim, bridge } = await simulatorBridge({
      contacts: [...DEMO_CONTACTS],
      env: { DEFAULT_COUNTRY: 'IN', CRM_LINK_TEMPLATE: 'https://crm.example.com/contacts?phone={number}' },
    });
    const { context, page, errors } = await openPage(browser, { viewport: { width: 1180, height: 760 } });
    try {
      await page.goto(bridge.url);
      await signIn(page, '104', pw('104'));
      await expect.poll(() => page.textContent('#status'), POLL).toBe('connected');

      await sim.ring({ extension: '104', from: '+44 20 7946 0000', fromName: 'LONDON OFFICE' });
      await expect.poll(() => page.locator('.card').count(), POLL).toBe(1);
      const rahul = await sim.ring({ extension: '104', from: '09824740472', fromName: 'RAHUL' });
      await expect.poll(() => page.locator('.card').count(), POLL).toBe(2);
      if (rahul.delivered) await sim.ring({ extension: '104', from: '09824740472', callId: rahul.callId, state: 'answered' });
      await sim.ring({ extension: '104', from: '+91 99250 11223', fromName: 'VIKRAM' });
      await expect.poll(() => page.locator('.card').count(), POLL).toBe(3);
      await expect.poll(() => page.locator('.card').nth(1).locator('.state').textContent(), POLL).toBe('On call'); // the agent's own answered call (public/calls.js)

      const top = page.locator('.card').first();
      expect(await top.locator('.name').textContent()).toBe('Vikram Rao');
      expect(await top.locator('.company').textContent()).toBe('Acme Corp');
      expect(await top.locator('.others button').allTextContents()).toEqual(['Sunita Rao']);
      expect(await top.locator('.crm').getAttribute('href')).toMatch(/^https:\/\/crm\.example\.com\/contacts\?phone=/);
      expect(await page.locator('.card.unknown .name').textContent()).toContain('Unknown caller');
      expect(await page.locator('#recent li').count()).toBe(3);

      // The cards' pop-in animation over (the ringing pulse never ends, and does not matter here).
      await page.waitForFunction(() =>
        document.getAnimations().every((a) => !(a instanceof CSSAnimation && a.animationName === 'pop') || a.playState === 'finished'),
      );
      // The committed README screenshot is rewritten only on request (UPDATE_SCREENSHOT=1); a plain test run
      // leaves the checkout as it was.
      const out = process.env.UPDATE_SCREENSHOT
        ? fileURLToPath(new URL('../../docs/screenshot.png', import.meta.url))
        : join(mkdtempSync(join(tmpdir(), 'bridge-shot-')), 'screenshot.png');
      mkdirSync(dirname(out), { recursive: true });
      await page.screenshot({ path: out, fullPage: true, animations: 'disabled' });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
