/**
 * What both baseline relays share: sockets registered per extension on `/ws?extension=<n>`, a relay of the
 * callback body to that extension's sockets, `GET /stats` (RSS, heap, event-loop delay since the previous
 * scrape: the same monitorEventLoopDelay histogram, 10 ms resolution, as the bridge's prom-client metrics),
 * and SIGTERM. No auth, no enrichment, no log, no event ids.
 */
import type { Server } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { WebSocket, WebSocketServer } from 'ws';

export interface Relay {
  /** Sends the callback body to the sockets of its `extension_number`. */
  relay(body: Record<string, unknown>): void;
  /** The `/stats` answer; resets the delay histogram. */
  stats(): Record<string, number>;
  /** Registers `/ws` upgrades, listens on PORT/HOST and handles SIGTERM. */
  serve(server: Server): void;
}

export function createRelay(): Relay {
  const rooms = new Map<string, Set<WebSocket>>();
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  return {
    relay(body) {
      const extension = typeof body.extension_number === 'string' ? body.extension_number : '';
      const room = rooms.get(extension);
      if (!room) return;
      const frame = JSON.stringify(body);
      for (const ws of room) ws.send(frame);
    },
    stats() {
      const mem = process.memoryUsage();
      const out = {
        rssBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        sockets: wss.clients.size,
        lagP99Ms: lag.percentile(99) / 1e6,
        lagMaxMs: lag.max / 1e6,
        lagMeanMs: lag.mean / 1e6,
      };
      lag.reset();
      return out;
    },
    serve(server) {
      server.keepAliveTimeout = 65_000;
      server.on('upgrade', (req, socket, head) => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        const extension = url.searchParams.get('extension');
        if (url.pathname !== '/ws' || !extension) {
          socket.destroy();
          return;
        }
        wss.handleUpgrade(req, socket, head, (ws) => {
          let room = rooms.get(extension);
          if (!room) rooms.set(extension, (room = new Set()));
          room.add(ws);
          ws.on('error', () => undefined);
          ws.on('close', () => {
            room.delete(ws);
            if (room.size === 0) rooms.delete(extension);
          });
        });
      });
      server.listen(Number(process.env.PORT ?? 4000), process.env.HOST ?? '127.0.0.1');
      process.on('SIGTERM', () => {
        for (const ws of wss.clients) ws.terminate();
        server.close(() => process.exit(0));
        setTimeout(() => process.exit(0), 2000).unref();
      });
    },
  };
}
