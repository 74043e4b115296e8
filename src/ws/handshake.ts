/**
 * The WebSocket handshake (docs/security.md): only the hub's path, a valid unexpired token, and the caps —
 * at most maxSocketsPerToken sockets per token (HTTP 429 past it) and maxSockets per process (503).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AgentClaims, TokenVerifier } from '../core/agent.js';
import { isRedisUnreachable } from '../events/redis-timeouts.js';
import type { Logger } from '../logger.js';
import { refuseUpgrade, requestUrl, tokenFromRequest } from './upgrade-auth.js';

export interface HandshakeOptions {
  path: string;
  verifyToken: TokenVerifier;
  /** Clock for token expiry, ms. */
  now: () => number;
  logger: Logger;
  maxSockets: number;
  maxSocketsPerToken: number;
  /** Sockets open now: in the process, and with one token. */
  open: { total(): number; forToken(jti: string): number };
  /** The hub is shutting down: refuse. */
  isClosing(): boolean;
  /** Takes the upgraded socket; called in the same tick as the cap checks. */
  accepted(ws: WebSocket, claims: AgentClaims, token: string, lastEventId: string | null): void;
}

export class Handshake {
  readonly counters = { refusedTokenLimit: 0, refusedProcessLimit: 0 };
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });

  constructor(private readonly o: HandshakeOptions) {}

  /** Takes an upgrade request on the path (answers true), or leaves it alone (false: another path, or closing). */
  handle(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = requestUrl(req);
    if (this.o.isClosing() || url?.pathname !== this.o.path) return false;
    void this.authorize(req, socket, head, url);
    return true;
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private async authorize(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    const onSocketError = (err: Error): void => this.o.logger.debug({ err }, 'websocket handshake socket error');
    socket.on('error', onSocketError);
    const token = tokenFromRequest(url, req.headers);
    let claims: AgentClaims | null = null;
    if (token) {
      try {
        claims = await this.o.verifyToken(token);
      } catch (err) {
        // An outage is logged once elsewhere: no stack per refused handshake.
        if (isRedisUnreachable(err)) this.o.logger.debug({ err: err.message }, 'token cannot be checked: Redis is unreachable; refusing the websocket');
        else this.o.logger.warn({ err }, 'token verification failed; refusing the websocket');
        refuseUpgrade(socket, 'WS_ERR_UNAVAILABLE');
        return;
      }
    }
    if (this.o.isClosing()) return refuseUpgrade(socket, 'WS_ERR_SHUTTING_DOWN');
    if (!claims || claims.exp * 1000 <= this.o.now()) return refuseUpgrade(socket, 'AUTH_ERR_INVALID_TOKEN');
    if (socket.destroyed) return;
    // Checked and counted in the same tick as the upgrade below (handleUpgrade calls back synchronously).
    if (this.o.open.total() >= this.o.maxSockets) {
      this.counters.refusedProcessLimit++;
      return refuseUpgrade(socket, 'WS_ERR_TOO_MANY_SOCKETS');
    }
    if (this.o.open.forToken(claims.jti) >= this.o.maxSocketsPerToken) {
      this.counters.refusedTokenLimit++;
      return refuseUpgrade(socket, 'WS_ERR_TOO_MANY_SOCKETS_FOR_TOKEN');
    }
    socket.off('error', onSocketError);
    const accepted = claims;
    const acceptedToken = token ?? '';
    const lastEventId = url.searchParams.get('lastEventId');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.o.accepted(ws, accepted, acceptedToken, lastEventId || null));
  }
}
