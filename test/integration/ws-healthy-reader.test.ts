/**
 * The slow-reader cut-off (1013) against healthy clients at the benchmark's top rate: one agent and one
 * supervisor that read as ws clients do, live events paced at 3,000/s for 3 s, every one of them for the
 * agent's extension (the worst case: in the benchmark each agent gets a few per second), at the production
 * buffer limit (1 MiB). Nothing about time is asserted, only that nobody was cut off and nothing was lost.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { pino } from 'pino';
import type { AgentClaims } from '../../src/core/agent.js';
import type { NewCallEvent } from '../../src/core/event.js';
import { MemoryEventLog } from '../../src/events/memory-event-log.js';
import { createWsHub } from '../../src/ws/hub.js';
import { eventually } from '../helpers/wait.js';

const logger = pino({ level: 'silent' });
let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  const run = cleanups.reverse();
  cleanups = [];
  for (const c of run) await c();
});

const tokens = new Map<string, AgentClaims>();
function token(extension: string, role: AgentClaims['role']): string {
  const t = randomBytes(12).toString('hex');
  tokens.set(t, { extension, role, exp: Math.floor(Date.now() / 1000) + 3600, jti: t });
  return t;
}

/** An event the size of the benchmark's (~1.1 KB: a matched contact with custom fields). */
function benchSizedEvent(extension: string, n: number): NewCallEvent {
  return {
    type: 'call.ringing',
    timestamp: new Date().toISOString(),
    data: {
      extension,
      call: { id: `bcid-1.${n}`, from: '+919824740472', fromRaw: '+91 98247 40472', fromName: 'BENCH', to: extension, direction: 'inbound', sessionId: randomBytes(16).toString('hex') },
      contact: {
        phonebookId: String(1000 + n),
        displayName: 'Aarav Sharma',
        firstName: 'Aarav',
        lastName: 'Sharma',
        email: `aarav.sharma.${n}@example.com`,
        extension: '',
        phoneNumber: '+91 98247 40472',
        cellNumber: '08824740472',
        phoneGroup: '2',
        customFields: { Company: 'Hodusoft', City: 'Mumbai' },
        match: 'exact',
      },
      otherContacts: [],
      links: { crm: `https://crm.example.com/contacts/${1000 + n}?from=%2B919824740472&extension=${extension}` },
    },
  };
}

async function reader(port: number, t: string): Promise<{ count: () => number }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${t}`);
  let frames = 0;
  ws.on('message', () => frames++);
  cleanups.push(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await eventually(() => frames === 1);
  return { count: () => frames - 1 };
}

describe('websocket hub: healthy readers at the benchmark rate', () => {
  it('when 3,000 events a second go to one extension, then neither its agent nor a supervisor is cut off as slow, and both get every one', async () => {
    const log = new MemoryEventLog({ logger });
    cleanups.push(() => log.close());
    const server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    // The production limit (src/ws/hub.ts default).
    const hub = createWsHub({ server, verifyToken: async (t) => tokens.get(t) ?? null, eventLog: log, logger });
    cleanups.push(() => hub.close());
    const port = (server.address() as AddressInfo).port;
    const agent = await reader(port, token('2001', 'agent'));
    const supervisor = await reader(port, token('2001', 'supervisor'));

    // 30 events every 10 ms: 3,000/s, for 3 s.
    const total = 9_000;
    let sent = 0;
    await new Promise<void>((resolve, reject) => {
      const tick = (): void => {
        const batch: Array<Promise<unknown>> = [];
        for (let i = 0; i < 30 && sent < total; i++) batch.push(log.append(benchSizedEvent('2001', sent++), null));
        Promise.all(batch).then(() => (sent < total ? setTimeout(tick, 10) : resolve()), reject);
      };
      tick();
    });

    await eventually(() => agent.count() === total && supervisor.count() === total, 20_000);
    expect(hub.stats().slowReaderCloses).toBe(0);
    expect(hub.stats().framesDropped).toBe(0);
  });
});
