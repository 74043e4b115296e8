import { startTestBridge } from './test/helpers/bridge-harness.js';
import { createSimulator } from './src/simulator/simulator.js';
import { DEMO_EXTENSIONS } from './src/simulator/seed.js';
import { launchBrowser, signIn } from './test/helpers/browser.js';

const sim = createSimulator({ token: 'scratch-sim-token-0001', sendStateCallbacks: true });
const addr = await sim.listen();
const bridge = await startTestBridge({ PBX_BASE_URL: addr.apiBaseUrl, PBX_TOKEN: 'scratch-sim-token-0001', PBX_CALLBACK_SECRET: 'scratch-callback-secret-01', SESSION_SECRET: 'scratch-session-secret-0123456789abcdef', CREDENTIALS_KEY: Buffer.alloc(32, 5).toString('base64'), ADMIN_API_KEY: 'scratch-admin-key-000001', ACTIVE_CALLS_POLL_MS: '100', CRM_LINK_TEMPLATE: 'https://crm.example.com/search?phone={number}' });
sim.setCallbackUrl(`${bridge.url}/pbx/callback/scratch-callback-secret-01`);
const browser = await launchBrowser();
for (const [w, h] of [[360, 740], [1280, 800]]) {
  const ctx = await browser.newContext({ viewport: { width: w, height: h } });
  const page = await ctx.newPage();
  page.on('console', (m) => console.log('console', m.text()));
  await page.goto(bridge.url);
  await page.screenshot({ path: `/tmp/shot-login-${w}.png`, fullPage: true });
  const ext = w === 360 ? '101' : '102';
  await signIn(page, ext, DEMO_EXTENSIONS[ext] ?? '');
  await page.waitForSelector('#live-view');
  await new Promise((r) => setTimeout(r, 1000));
  const c1 = await sim.startCall({ from: '+14155550132', to: ext });
  await new Promise((r) => setTimeout(r, 500));
  const c2 = await sim.startCall({ from: '+919925011223', to: ext });
  await new Promise((r) => setTimeout(r, 500));
  await sim.startCall({ from: '+14155550100', to: ext, fromName: 'VERY LONG CALLER ID NAME FROM THE PBX' });
  await new Promise((r) => setTimeout(r, 800));
  await sim.answerCall(c1.callId, ext);
  await sim.hangupCall(c2.callId);
  await new Promise((r) => setTimeout(r, 1500));
  await page.click('.card .cf-open');
  await new Promise((r) => setTimeout(r, 500));
  await page.click('.card .cf-save');
  await new Promise((r) => setTimeout(r, 800));
  await page.screenshot({ path: `/tmp/shot-cards-${w}.png`, fullPage: true });
  await ctx.close();
}
await browser.close();
await bridge.close();
await sim.close();
