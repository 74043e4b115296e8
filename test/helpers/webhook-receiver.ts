/** A real CRM webhook receiver on 127.0.0.1 that records every hit and answers as the test says. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Hit {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  at: number;
  /** 1-based count of hits for this webhook-id so far, this one included. */
  n: number;
}

export type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

export interface Receiver {
  url: string;
  hits: Hit[];
  hitsFor(id: string): Hit[];
  /** How the next hits are answered; tests may swap it. */
  answer: (hit: Hit) => Answer;
  close(): Promise<void>;
}

export async function startReceiver(answer: (hit: Hit) => Answer = () => ({ status: 200 })): Promise<Receiver> {
  const hits: Hit[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      const hit: Hit = {
        id,
        timestamp: String(req.headers['webhook-timestamp']),
        signature: String(req.headers['webhook-signature']),
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
        n: hits.filter((h) => h.id === id).length + 1,
      };
      hits.push(hit);
      const a = receiver.answer(hit);
      if (a === 'hang') return;
      res.writeHead(a.status, a.headers ?? {});
      res.end(a.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const receiver: Receiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    hits,
    hitsFor: (id) => hits.filter((h) => h.id === id),
    answer,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}
