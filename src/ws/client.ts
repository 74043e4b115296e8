/** One agent socket as the hub keeps it, and the questions every part of the hub asks about it. */
import { WebSocket } from 'ws';
import type { AgentClaims } from '../core/agent.js';
import { compareEventIds, type StoredEvent } from '../core/event.js';

export const CLOSE_TOKEN_EXPIRED = 4001;
export const CLOSE_TOO_SLOW = 1013;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_INTERNAL_ERROR = 1011;

export interface Client {
  readonly ws: WebSocket;
  readonly claims: AgentClaims;
  /** The token it was opened with, to verify again when revocations may have been missed. */
  readonly token: string;
  /** The extension whose events it gets, or null for every extension (supervisor). */
  readonly room: string | null;
  isAlive: boolean;
  /** Live events held back while the replay is read and sent; null once the socket is live. */
  held: StoredEvent[] | null;
  /** Live events up to this id were already covered by the replay; cleared at the first newer one. */
  skipThrough: string | null;
  /**
   * Where a socket that resumes nothing starts: the log's newest id when it joined, told in its `ready` so
   * that a client that has seen no event yet can still resume after a blip; it gets every event after it.
   */
  startsAfter: string | null;
  closing: boolean;
  expiryTimer: NodeJS.Timeout | undefined;
  killTimer: NodeJS.Timeout | undefined;
}

/** Closes a socket with a code and reason (the hub's close handshake with its kill timer). */
export type CloseClient = (client: Client, code: number, reason: string) => void;

/** Live events are held from the start, until `ready` and the replay (if any) are sent. */
export function newClient(ws: WebSocket, claims: AgentClaims, token: string): Client {
  return {
    startsAfter: null,
    ws,
    claims,
    token,
    room: claims.role === 'supervisor' ? null : claims.extension,
    isAlive: true,
    held: [],
    skipThrough: null,
    closing: false,
    expiryTimer: undefined,
    killTimer: undefined,
  };
}

export function isOpen(client: Client): boolean {
  return !client.closing && client.ws.readyState === WebSocket.OPEN;
}

export function routesTo(client: Client, event: StoredEvent): boolean {
  return client.room === null || client.room === event.extension;
}

/** Whether the replay already covered this live event; live events come in id order, so one check suffices. */
export function isRepeat(client: Client, event: StoredEvent): boolean {
  if (client.skipThrough === null) return false;
  if (compareEventIds(event.id, client.skipThrough) <= 0) return true;
  client.skipThrough = null;
  return false;
}

export function readyFrame(client: Client, resumed: boolean): string {
  // Supervisors get "*": their stream carries every extension, whatever extension their token names.
  const frame = { type: 'ready', extension: client.room ?? '*', resumed };
  // Not resumed: the client's own id (if any) is no guide; this one is where a later resume must start.
  return JSON.stringify(!resumed && client.startsAfter !== null ? { ...frame, lastEventId: client.startsAfter } : frame);
}
