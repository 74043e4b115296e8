/**
 * The bridge's node:http server: creating it, listening, and the graceful close (docs/operations.md,
 * "Shutdown (SIGTERM)"): stop accepting, let in-flight requests finish, close the upgraded sockets (the WebSocket hub
 * closes them with 1001), and cut what is left after a deadline.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

/** Takes upgrade requests (the WebSocket hub); closes its sockets when the server closes. */
export interface UpgradeHandler {
  /** false: not this handler's path (the server then drops the socket, since nobody else takes it). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close(): Promise<void>;
}

export interface HttpServerOptions {
  /** Answers every request. */
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  upgrades?: UpgradeHandler;
  /** After this long closing, connections still open are cut. Default 8 s. */
  forceCloseMs?: number;
}

export interface HttpServer {
  readonly server: Server;
  /** Listens; answers the port and a URL to reach it (the loopback address when bound to every interface). */
  listen(port: number, host: string): Promise<{ port: number; url: string }>;
  /** Stops accepting; in-flight requests finish; upgraded sockets are closed; stragglers are cut after forceCloseMs. */
  close(): Promise<void>;
}

export function createHttpServer(opts: HttpServerOptions): HttpServer {
  const server = createServer(opts.handle);
  // Longer than the usual load balancer idle timeout (60 s), so the balancer closes first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const upgrades = opts.upgrades;
  if (upgrades) {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!upgrades.handleUpgrade(req, socket, head)) socket.destroy();
    });
  }
  let closing: Promise<void> | null = null;

  return {
    server,
    async listen(port, host) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const bound = (server.address() as AddressInfo).port;
      const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
      return { port: bound, url: `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${bound}` };
    },
    close() {
      closing ??= closeGracefully(server, upgrades, opts.forceCloseMs ?? 8000);
      return closing;
    },
  };
}

async function closeGracefully(server: Server, upgrades: UpgradeHandler | undefined, forceCloseMs: number): Promise<void> {
  // Requests already on a kept-alive connection are still answered, with `Connection: close`, so a busy
  // client (the PBX under load) cannot hold the server open by sending the next request on the same socket.
  server.on('request', (_req, res: ServerResponse) => {
    if (!res.headersSent) res.setHeader('Connection', 'close');
  });
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const idleSweep = setInterval(() => server.closeIdleConnections(), 100);
  await upgrades?.close();
  const force = setTimeout(() => server.closeAllConnections(), forceCloseMs);
  await closed;
  clearTimeout(force);
  clearInterval(idleSweep);
}
