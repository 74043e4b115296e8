/**
 * A WebSocket hub on a loopback HTTP server over a given event log, with one agent token for one extension:
 * for tests that drive the hub's resume path directly. Closing is pushed onto the caller's cleanups.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { AgentClaims } from '../../src/core/agent.js';
import type { EventLog } from '../../src/core/ports.js';
import { createWsHub } from '../../src/ws/hub.js';

export async function startAgentHub(
  eventLog: EventLog,
  extension: string,
  logger: Logger,
  cleanups: Array<() => Promise<void> | void>,
): Promise<{ port: number; token: string }> {
  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  const token = randomBytes(12).toString('hex');
  const claims: AgentClaims = { extension, role: 'agent', exp: Math.floor(Date.now() / 1000) + 3600, jti: token };
  const hub = createWsHub({ server, verifyToken: async (t) => (t === token ? claims : null), eventLog, logger });
  cleanups.push(() => hub.close());
  return { port: (server.address() as AddressInfo).port, token };
}
