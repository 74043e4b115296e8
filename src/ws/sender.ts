/**
 * Sends frames to agent sockets with backpressure: live sends never wait, and a socket whose backlog passed
 * the limit is a slow reader and is closed with 1013; replay sends wait for the socket to drain.
 */
import { WebSocket } from 'ws';
import type { Logger } from '../logger.js';
import { CLOSE_TOO_SLOW, type Client, type CloseClient } from './client.js';

export interface FrameSenderOptions {
  /** A socket with more than this queued and unsent is closed with 1013. */
  maxBufferedBytes: number;
  /** How long a replay waits for a socket to flush half its buffer limit before calling it slow. */
  replayDrainTimeoutMs: number;
  logger: Logger;
  closeClient: CloseClient;
}

export class FrameSender {
  readonly counters = { framesSent: 0, framesDropped: 0, slowReaderCloses: 0 };

  constructor(private readonly o: FrameSenderOptions) {}

  /** Live sends: never wait; a socket whose backlog passed the limit is a slow reader and is closed. */
  send(client: Client, frame: string): void {
    const { ws } = client;
    if (client.closing || ws.readyState !== WebSocket.OPEN) {
      this.counters.framesDropped++;
      return;
    }
    if (ws.bufferedAmount > this.o.maxBufferedBytes) {
      this.counters.framesDropped++;
      this.closeSlowReader(client);
      return;
    }
    ws.send(frame);
    this.counters.framesSent++;
  }

  /**
   * Replay sends: a replay is a burst by nature, so past half the limit wait for the socket to flush before
   * going on, instead of calling a healthy resuming client slow. One that does not drain within
   * replayDrainTimeoutMs is a slow reader after all.
   */
  async sendPaced(client: Client, frame: string): Promise<void> {
    const { ws } = client;
    const backlog = ws.bufferedAmount;
    const limit = this.o.maxBufferedBytes;
    if (client.closing || ws.readyState !== WebSocket.OPEN || backlog <= limit / 2 || backlog > limit) {
      return this.send(client, frame);
    }
    this.counters.framesSent++;
    const drained = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), this.o.replayDrainTimeoutMs);
      // The callback fires once this frame, and so everything queued before it, is flushed to the socket.
      ws.send(frame, (err) => {
        clearTimeout(timer);
        resolve(!err);
      });
    });
    if (!drained) this.closeSlowReader(client);
  }

  /** A frame that could not be held for the socket (the replay's hold is full): dropped, and the reader closed. */
  dropForSlowReader(client: Client): void {
    this.counters.framesDropped++;
    this.closeSlowReader(client);
  }

  private closeSlowReader(client: Client): void {
    if (client.closing) return;
    this.counters.slowReaderCloses++;
    this.o.logger.info({ extension: client.claims.extension, bufferedAmount: client.ws.bufferedAmount }, 'closing a websocket that reads too slowly');
    this.o.closeClient(client, CLOSE_TOO_SLOW, 'client reads too slowly');
  }
}
