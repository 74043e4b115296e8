/**
 * A loopback TCP proxy that can hold every chunk, both ways, for `delayMs` before passing it on (order kept):
 * a real slow dependency (e.g. a Redis answering late) for the code in front of it, without touching the
 * dependency itself.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface SlowTcpProxy {
  port: number;
  /** The delay for chunks from now on; 0 passes them straight through. */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

export async function startSlowTcpProxy(target: { host: string; port: number }): Promise<SlowTcpProxy> {
  let delayMs = 0;
  const sockets = new Set<Socket>();
  const pipe = (from: Socket, to: Socket): void => {
    const queue: Array<{ at: number; chunk: Buffer }> = [];
    let timer: NodeJS.Timeout | null = null;
    const flush = (): void => {
      timer = null;
      const now = performance.now();
      while (queue.length > 0 && (queue[0]?.at ?? Infinity) <= now) to.write(queue.shift()?.chunk ?? Buffer.alloc(0));
      const head = queue[0];
      if (head) timer = setTimeout(flush, Math.max(0, head.at - now));
    };
    from.on('data', (chunk: Buffer) => {
      if (delayMs === 0 && queue.length === 0) {
        to.write(chunk);
        return;
      }
      // Never before an earlier chunk: order matters more than the delay of each.
      const last = queue[queue.length - 1];
      queue.push({ at: Math.max(performance.now() + delayMs, last?.at ?? 0), chunk });
      timer ??= setTimeout(flush, delayMs);
    });
    from.on('close', () => {
      if (timer) clearTimeout(timer);
      to.destroy();
    });
    from.on('error', () => to.destroy());
  };
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    setDelay(ms) {
      delayMs = ms;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
