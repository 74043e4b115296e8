/** A real `ws` client that collects frames, for tests that watch what an agent's socket receives. */
import { WebSocket } from 'ws';

export interface Frame {
  type?: string;
  id?: string;
  [key: string]: unknown;
}

export interface AgentSocket {
  ws: WebSocket;
  frames: Frame[];
  /** Event frames only (everything but `ready`). */
  events(): Frame[];
  /** Resolves once `predicate` holds for the frames received, or rejects after timeoutMs. */
  waitFor(predicate: (frames: Frame[]) => boolean, timeoutMs?: number): Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

export function openAgentSocket(baseUrl: string, token: string, lastEventId?: string): Promise<AgentSocket> {
  const url = new URL('/ws', baseUrl.replace(/^http/, 'ws'));
  url.searchParams.set('token', token);
  if (lastEventId) url.searchParams.set('lastEventId', lastEventId);
  const ws = new WebSocket(url);
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)) as Frame);
    for (const w of waiters) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: String(reason) });
      for (const w of waiters) w();
    });
  });
  const socket: AgentSocket = {
    ws,
    frames,
    events: () => frames.filter((f) => f.type !== 'ready' || typeof f.id === 'string'),
    closed,
    close: () => ws.close(),
    waitFor(predicate, timeoutMs = 5000) {
      if (predicate(frames)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (predicate(frames)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms; frames so far: ${JSON.stringify(frames).slice(0, 2000)}`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(socket));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}
