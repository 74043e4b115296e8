/**
 * A WebSocket hub on a loopback HTTP server, closed by the test's cleanups: for tests that drive the hub
 * directly. startAgentHub adds one agent token for one extension.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { AgentClaims } from '../../src/core/agent.js';
import type { EventLog } from '../../src/core/ports.js';
import { createWsHub, type WsHub, type WsHubOptions } from '../../src/ws/hub.js';
import type { Cleanups } from './cleanups.js';

export async function startHubServer(options: Omit<WsHubOptions, 'server'>, cleanups: Cleanups): Promise<{ hub: WsHub; server: Server; port: number }> {
  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  const hub = createWsHub({ ...options, server });
  cleanups.push(() => hub.close());
  return { hub, server, port: (server.address() as AddressInfo).port };
}

export async function startAgentHub(eventLog: EventLog, extension: string, logger: Logger, cleanups: Cleanups): Promise<{ port: number; token: string }> {
  const token = randomBytes(12).toString('hex');
  const claims: AgentClaims = { extension, role: 'agent', exp: Math.floor(Date.now() / 1000) + 3600, jti: token };
  const { port } = await startHubServer({ verifyToken: async (t) => (t === token ? claims : null), eventLog, logger }, cleanups);
  return { port, token };
}
