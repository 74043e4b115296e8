/**
 * A resuming agent whose upgrade response and replay reach it in one read, as they do when the client is busy
 * (the rolling-upgrade test under load): ws emits those frames before the 'open' promise's continuation runs,
 * so an agent that starts listening only after `await open` loses them, and its next resume starts past them.
 * A proxy between the agent and a real hub holds the hub's bytes until the upgrade response, `ready` and the
 * whole replay are in, and hands them on in one write: the agent must still count every replayed event.
 */
import { createServer as createTcpServer, connect as netConnect, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { MemoryEventLog } from '../../src/events/memory-event-log.js';
import { ResumingAgent } from '../helpers/resuming-agent.js';
import { startAgentHub } from '../helpers/agent-hub.js';
import { ringingEvent } from '../helpers/events.js';
import { cleanupsAfterEach } from '../helpers/cleanups.js';
import { eventually } from '../helpers/wait.js';

const logger = pino({ level: 'silent' });
const cleanups = cleanupsAfterEach();

/**
 * A TCP proxy that passes the client's bytes on at once and holds the server's until `complete(held)` says
 * they are all in, then writes them in one piece (one read for the client) and passes the rest through.
 */
async function coalescingProxy(upstreamPort: number, complete: (held: string) => boolean): Promise<{ port: number; released: () => boolean }> {
  let released = false;
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((client) => {
    const upstream = netConnect(upstreamPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    const held: Buffer[] = [];
    const onData = (chunk: Buffer) => {
      held.push(chunk);
      const all = Buffer.concat(held);
      if (!complete(all.toString('latin1'))) return;
      upstream.off('data', onData);
      released = true;
      client.write(all);
      upstream.pipe(client);
    };
    upstream.on('data', onData);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => r());
      }),
  );
  return { port: (server.address() as AddressInfo).port, released: () => released };
}

describe('a resuming agent', () => {
  it('counts the replayed events that arrive in the same read as the upgrade response', async () => {
    const log = new MemoryEventLog({ logger });
    cleanups.push(() => log.close());
    const { port, token } = await startAgentHub(log, '401', logger, cleanups);

    // What the agent saw before its socket went, then what it missed meanwhile: the replay it resumes with.
    const seen = (await log.append(ringingEvent('401'), null)).id;
    const missed: string[] = [];
    for (let i = 0; i < 5; i++) missed.push((await log.append(ringingEvent('401'), null)).id);

    const proxy = await coalescingProxy(port, (held) => held.includes('"type":"ready"') && missed.every((id) => held.includes(id)));
    const agent = new ResumingAgent('401', token, () => `http://127.0.0.1:${proxy.port}`);
    agent.lastEventId = seen;
    cleanups.push(() => agent.stop());
    await agent.connect();

    expect(proxy.released()).toBe(true);
    await eventually(() => missed.every((id) => agent.received.has(id)), 5000, 'every replayed event counted').catch((err: unknown) => {
      throw new Error(`${String(err)}; counted ${JSON.stringify([...agent.received.keys()])} of ${JSON.stringify(missed)}`);
    });
    expect(agent.lastEventId).toBe(missed.at(-1));
    expect([...agent.received.values()].every((n) => n === 1)).toBe(true);
  });
});
