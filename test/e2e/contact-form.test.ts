/**
 * The page's phonebook parts in real headless Chromium: "Save contact" on an unknown caller's card (the
 * tenant's custom fields, required ones marked, the caller's number filled in, the bridge's errors next to
 * the field it names, the saved contact shown on the card and popping on the next call), and the note on a
 * contact found only by its last digits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { Bridge } from '../../src/bridge.js';
import { startTestBridge } from '../helpers/bridge-harness.js';
import { createSimulator, type Simulator } from '../../src/simulator/simulator.js';
import { DEMO_CONTACTS, DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { POLL, launchBrowser, openPage, signIn } from '../helpers/browser.js';

const SIM_TOKEN = 'e2e-sim-token-0002';
const CALLBACK_SECRET = 'e2e-callback-secret-0002';
const SECRETS = {
  PBX_TOKEN: SIM_TOKEN,
  PBX_CALLBACK_SECRET: CALLBACK_SECRET,
  SESSION_SECRET: 'e2e-session-secret-0123456789abcdef',
  CREDENTIALS_KEY: Buffer.alloc(32, 7).toString('base64'),
  DEFAULT_COUNTRY: 'IN',
};

let browser: Browser;
let sim: Simulator;
let bridge: Bridge;

beforeAll(async () => {
  browser = await launchBrowser();
  sim = createSimulator({ token: SIM_TOKEN });
  const address = await sim.listen();
  bridge = await startTestBridge({ PBX_BASE_URL: address.apiBaseUrl, ...SECRETS });
  sim.setCallbackUrl(`${bridge.url}/pbx/callback/${CALLBACK_SECRET}`);
});

afterAll(async () => {
  await browser?.close();
  await bridge?.close();
  await sim?.close();
});

const names = (page: Page) => page.locator('.card .name').allTextContents();
const errorFor = (page: Page, field: string) => page.locator(`.card .cf-error[data-for="${field}"]`).textContent();

describe('the Save contact form', () => {
  it('saves an unknown caller with custom fields, shows the errors the bridge names, then shows and pops the contact', async () => {
    const { context, page, errors } = await openPage(browser);
    try {
      await page.goto(bridge.url);
      await signIn(page, '102', DEMO_EXTENSIONS['102'] ?? '');
      await expect.poll(() => page.textContent('#status'), POLL).toBe('connected');

      await sim.ring({ extension: '102', from: '09447011111', fromName: 'KAVYA' });
      await expect.poll(() => names(page), POLL).toEqual(['Unknown caller']);
      const card = page.locator('.card').first();
      await card.locator('.cf-open').click();
      await expect.poll(() => card.locator('.cf-form').count(), POLL).toBe(1);

      // The caller's number is filled in; the tenant's custom fields are there, City marked required.
      expect(await card.locator('input[name="phoneNumber"]').inputValue()).toBe('+919447011111');
      const labels = await card.locator('.cf-row .cf-label').allTextContents();
      expect(labels).toEqual(['First name *', 'Last name *', 'Phone number *', 'E-mail', 'Company', 'City *', 'Office No']);
      expect(await card.locator('select[name="customFields.Company"] option').allTextContents()).toEqual(['—', 'Hodusoft', 'Ecosmob', 'Acme Corp', 'Globex']);

      // Last name missing: the bridge names it, and the error shows next to it.
      await card.locator('input[name="firstName"]').fill('Kavya');
      await card.locator('.cf-save').click();
      await expect.poll(() => errorFor(page, 'lastName'), POLL).toContain('required');
      // Then the required custom field.
      await card.locator('input[name="lastName"]').fill('Menon');
      await card.locator('.cf-save').click();
      await expect.poll(() => errorFor(page, 'customFields.City'), POLL).toContain('required');
      expect(await errorFor(page, 'lastName')).toBe('');

      await card.locator('input[name="customFields.City"]').fill('Kochi');
      await card.locator('select[name="customFields.Company"]').selectOption('Globex');
      await card.locator('input[name="email"]').fill('kavya@example.com');
      await card.locator('.cf-save').click();

      // The card now shows the contact, and no form.
      await expect.poll(() => names(page), POLL).toEqual(['Kavya Menon']);
      expect(await card.locator('.cf-form').count()).toBe(0);
      expect(await card.locator('.cf-open').isHidden()).toBe(true);
      expect(await card.locator('.company').textContent()).toBe('Globex');
      expect(await card.locator('.cf-suffix').textContent()).toBe('Saved to the phonebook.');

      // The next call from that number pops the contact straight away.
      await sim.ring({ extension: '102', from: '+91 94470 11111' });
      await expect.poll(() => names(page), POLL).toEqual(['Kavya Menon', 'Kavya Menon']);
      expect(await page.locator('.card').first().locator('.cf-open').isHidden()).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('shows the PBX’s "Already Exists" next to the number, and a last-digits match as such', async () => {
    const { context, page, errors } = await openPage(browser);
    try {
      await page.goto(bridge.url);
      await signIn(page, '103', DEMO_EXTENSIONS['103'] ?? '');
      await expect.poll(() => page.textContent('#status'), POLL).toBe('connected');

      // 41 Nisha Patel's phone is the manual's 8-digit 98988778: a +91 caller matches it on the last digits only.
      await sim.ring({ extension: '103', from: '+91 98988778' });
      await expect.poll(() => names(page), POLL).toEqual(['Nisha Patel']);
      expect(await page.locator('.card .cf-suffix').first().textContent()).toContain('Matched on the last digits');

      // The PBX got the number meanwhile (another agent saved it there), the bridge has not refreshed yet.
      await sim.ring({ extension: '103', from: '09447099999' });
      await expect.poll(() => names(page), POLL).toEqual(['Unknown caller', 'Nisha Patel']);
      sim.setContacts([
        ...DEMO_CONTACTS,
        { 'Phonebook ID': '99', 'First Name': 'Ravi', 'Last Name': 'Rao', 'Phone Number': '+919447099999', 'Custom Details': {} },
      ]);
      const card = page.locator('.card').first();
      await card.locator('.cf-open').click();
      await card.locator('input[name="firstName"]').fill('Ravi');
      await card.locator('input[name="lastName"]').fill('Rao');
      await card.locator('input[name="customFields.City"]').fill('Kochi');
      await card.locator('.cf-save').click();
      await expect.poll(() => errorFor(page, 'phoneNumber'), POLL).toContain('already has a contact');
      expect(await names(page)).toEqual(['Unknown caller', 'Nisha Patel']);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
      sim.setContacts(DEMO_CONTACTS);
    }
  });
});
