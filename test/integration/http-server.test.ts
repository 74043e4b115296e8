/** The bridge's HTTP server: listen, and the graceful close (in-flight requests finish, upgraded sockets close first). */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServer, type UpgradeHandler } from '../../src/http/server.js';

const servers: HttpServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('createHttpServer', () => {
  it('when bound to every interface, then the URL it answers is the loopback address', async () => {
    const http = createHttpServer({ handle: (_req, res) => res.end('ok') });
    servers.push(http);
    const { port, url } = await http.listen(0, '0.0.0.0');
    expect(url).toBe(`http://127.0.0.1:${port}`);
    expect(await (await fetch(url)).text()).toBe('ok');
  });

  it('when closed with a request in flight, then the request is answered, upgraded sockets close first, and new connections are refused', async () => {
    const entered = deferred();
    const release = deferred();
    const events: string[] = [];
    const upgrades: UpgradeHandler = {
      handleUpgrade: () => false,
      close: async () => void events.push('upgrades closed'),
    };
    const http = createHttpServer({
      handle: (_req, res) => {
        entered.resolve();
        void release.promise.then(() => res.end('finished'));
      },
      upgrades,
    });
    const { url } = await http.listen(0, '127.0.0.1');
    const answer = fetch(url).then(async (r) => {
      events.push('answered');
      return { status: r.status, body: await r.text() };
    });
    await entered.promise;
    const closed = http.close().then(() => void events.push('closed'));
    await expect(fetch(url)).rejects.toThrow();
    release.resolve();
    expect(await answer).toEqual({ status: 200, body: 'finished' });
    await closed;
    expect(events).toEqual(['upgrades closed', 'answered', 'closed']);
  });

  it('when an upgrade is not the handler\'s, then the socket is dropped, not left hanging', async () => {
    const http = createHttpServer({ handle: (_req, res) => res.end(), upgrades: { handleUpgrade: () => false, close: async () => undefined } });
    servers.push(http);
    const { port } = await http.listen(0, '127.0.0.1');
    const socket = connect(port, '127.0.0.1');
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    await ended;
    expect(socket.destroyed).toBe(true);
  });
});
