/**
 * The agents' WebSocket endpoint (docs/api.md, "WebSocket (`GET /ws`)"): one room per extension plus the supervisors,
 * heartbeat, token expiry and revocation, and the sockets' lifecycle. Its parts: the handshake (auth and the
 * socket caps, handshake.ts), replay on `?lastEventId=` (replay.ts), sending with backpressure (sender.ts).
 *
 * The hub subscribes to the event log once and sends each event's `json` (serialized once, at append) as is
 * to every socket that should get it: nothing is serialized per socket except the small `ready` frame.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { WebSocket, type RawData } from 'ws';
import type { AgentClaims, TokenVerifier } from '../core/agent.js';
import type { StoredEvent } from '../core/event.js';
import type { EventLog } from '../core/ports.js';
import type { Logger } from '../logger.js';
import { CLOSE_GOING_AWAY, CLOSE_TOKEN_EXPIRED, isRepeat, newClient, type Client } from './client.js';
import { Handshake } from './handshake.js';
import { registerHubMetrics } from './metrics.js';
import { resume, startFresh, type ReplayDeps } from './replay.js';
import { Rooms } from './rooms.js';
import { FrameSender } from './sender.js';
import { isRedisUnreachable } from '../events/redis-timeouts.js';

export { CLOSE_GOING_AWAY, CLOSE_TOKEN_EXPIRED, CLOSE_TOO_SLOW } from './client.js';

export interface WsHubOptions {
  /** When given, the hub takes this server's upgrades itself; otherwise the server hands them to handleUpgrade(). */
  server?: Server;
  /** Default `/ws`. */
  path?: string;
  verifyToken: TokenVerifier;
  eventLog: EventLog;
  logger: Logger;
  /** A socket with more than this queued and unsent is closed with 1013. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Live events held for one resuming socket while its replay is read; past it the socket is closed with 1013. Default 10,000. */
  maxHeldEvents?: number;
  /** Ping interval; a socket that did not pong since the last ping is terminated. Default 30 s. */
  heartbeatIntervalMs?: number;
  /** Events read per replay page. Default 10,000. */
  replayLimit?: number;
  /** How long a replay waits for a socket to flush half its buffer limit before calling it slow. Default 5 s. */
  replayDrainTimeoutMs?: number;
  /** How long a socket being closed may take to finish the close handshake before it is terminated. Default 2 s. */
  closeGraceMs?: number;
  onAgentConnected?: (claims: AgentClaims) => void;
  onAgentDisconnected?: (claims: AgentClaims) => void;
  /** Clock for token expiry, ms. Default Date.now. */
  now?: () => number;
  /** Open sockets one token may have; the next upgrade gets HTTP 429. Default 10. */
  maxSocketsPerToken?: number;
  /** Open sockets in this process; the next upgrade gets HTTP 503. Default 20,000. */
  maxSockets?: number;
  /** Tokens revoked on any instance: their sockets here are closed; after a missed stretch, every token is checked again. */
  revocations?: RevocationSource;
  /** Where the hub's metrics are registered; none: not measured. */
  registry?: Registry;
}

export interface RevocationSource {
  onMessage(listener: (jti: string) => void): void;
  onReconnect(listener: () => void): void;
}

export interface WsHubStats {
  sockets: number;
  framesSent: number;
  framesDropped: number;
  slowReaderCloses: number;
  /** Upgrades refused because the token had maxSocketsPerToken open already. */
  refusedTokenLimit: number;
  /** Upgrades refused because the process had maxSockets open already. */
  refusedProcessLimit: number;
  /** Sockets closed because their token was revoked. */
  revokedCloses: number;
}

export interface WsHub {
  /** Takes an upgrade request on the hub's path (answers true), or leaves it alone (false: another path, or closed). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Stops accepting, closes every socket with 1001 'server shutting down', clears every timer. */
  close(): Promise<void>;
  stats(): WsHubStats;
  /** Closes every socket of this token (4001 'token revoked'): it was revoked on some instance. */
  closeToken(jti: string): void;
  /** Verifies every open socket's token again and closes those no longer valid (revocations may have been missed). */
  recheckTokens(): Promise<void>;
}

/** setTimeout's ceiling; longer expiries re-arm. */
const MAX_TIMER_MS = 2_147_483_647;
const PONG_FRAME = '{"type":"pong"}';

export function createWsHub(opts: WsHubOptions): WsHub {
  return new Hub(opts);
}

class Hub implements WsHub {
  private readonly closeGraceMs: number;
  private readonly maxHeldEvents: number;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly clients = new Set<Client>();
  private readonly rooms = new Rooms<Client>();
  /** Open sockets by token id (jti), for the per-token cap and for closing a revoked token's sockets. */
  private readonly byToken = new Map<string, Set<Client>>();
  private readonly handshake: Handshake;
  private readonly sender: FrameSender;
  private readonly replay: ReplayDeps;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private revokedCloses = 0;
  private closing: Promise<void> | null = null;

  constructor(private readonly opts: WsHubOptions) {
    this.closeGraceMs = opts.closeGraceMs ?? 2000;
    this.maxHeldEvents = Math.max(1, opts.maxHeldEvents ?? 10_000);
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger;
    const closeClient = (client: Client, code: number, reason: string) => this.closeClient(client, code, reason);
    this.handshake = new Handshake({
      path: opts.path ?? '/ws',
      verifyToken: opts.verifyToken,
      now: this.now,
      logger: opts.logger,
      maxSockets: Math.max(1, opts.maxSockets ?? 20_000),
      maxSocketsPerToken: Math.max(1, opts.maxSocketsPerToken ?? 10),
      open: { total: () => this.clients.size, forToken: (jti) => this.byToken.get(jti)?.size ?? 0 },
      isClosing: () => this.closing !== null,
      accepted: (ws, claims, token, lastEventId) => this.onConnection(ws, claims, token, lastEventId),
    });
    this.sender = new FrameSender({
      maxBufferedBytes: opts.maxBufferedBytes ?? 1024 * 1024,
      replayDrainTimeoutMs: opts.replayDrainTimeoutMs ?? 5000,
      logger: opts.logger,
      closeClient,
    });
    this.replay = { eventLog: opts.eventLog, replayLimit: Math.max(1, opts.replayLimit ?? 10_000), sender: this.sender, logger: opts.logger, closeClient };
    this.unsubscribe = opts.eventLog.subscribe((event) => this.route(event));
    this.heartbeat = setInterval(() => this.beat(), opts.heartbeatIntervalMs ?? 30_000);
    opts.server?.on('upgrade', this.onUpgrade);
    opts.revocations?.onMessage((jti) => this.closeToken(jti));
    opts.revocations?.onReconnect(() => void this.recheckTokens());
    if (opts.registry) registerHubMetrics(opts.registry, this);
  }

  stats(): WsHubStats {
    return { sockets: this.clients.size, ...this.sender.counters, ...this.handshake.counters, revokedCloses: this.revokedCloses };
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    return this.handshake.handle(req, socket, head);
  }

  closeToken(jti: string): void {
    const clients = this.byToken.get(jti);
    if (!clients) return;
    for (const client of [...clients]) {
      if (!client.closing) this.revokedCloses++;
      this.closeClient(client, CLOSE_TOKEN_EXPIRED, 'token revoked');
    }
  }

  async recheckTokens(): Promise<void> {
    for (const [jti, clients] of [...this.byToken]) {
      const first = clients.values().next().value;
      if (!first) continue;
      let claims: AgentClaims | null;
      try {
        claims = await this.opts.verifyToken(first.token);
      } catch (err) {
        // Redis is unreachable: every other token would fail the same way; the next round checks them.
        if (isRedisUnreachable(err)) {
          this.logger.debug({ err: err.message }, 'could not re-check the websocket tokens: Redis is unreachable');
          return;
        }
        this.logger.warn({ err }, 'could not re-check a websocket token');
        continue;
      }
      if (!claims) this.closeToken(jti);
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.opts.server?.off('upgrade', this.onUpgrade);
    clearInterval(this.heartbeat);
    this.unsubscribe();
    const closed = [...this.clients].map(
      (client) =>
        new Promise<void>((resolve) => {
          if (client.ws.readyState === WebSocket.CLOSED) return resolve();
          client.ws.once('close', () => resolve());
          this.closeClient(client, CLOSE_GOING_AWAY, 'server shutting down');
        }),
    );
    await Promise.all(closed);
    await this.handshake.close();
  }

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Someone else's path: leave it to them, but never leave it hanging when nobody else listens.
    if (!this.handleUpgrade(req, socket, head) && (this.opts.server?.listenerCount('upgrade') ?? 0) <= 1) socket.destroy();
  };

  // ---- sockets ------------------------------------------------------------------------------------------

  private onConnection(ws: WebSocket, claims: AgentClaims, token: string, lastEventId: string | null): void {
    const client = newClient(ws, claims, token);
    this.clients.add(client);
    let sameToken = this.byToken.get(claims.jti);
    if (!sameToken) this.byToken.set(claims.jti, (sameToken = new Set()));
    sameToken.add(client);
    ws.on('pong', () => (client.isAlive = true));
    ws.on('message', (data, isBinary) => this.onMessage(client, data, isBinary));
    ws.on('error', (err) => this.logger.debug({ err, extension: claims.extension }, 'websocket error'));
    ws.on('close', () => this.forget(client));
    this.armExpiry(client);
    // Registered for live events before the replay is read: nothing appended meanwhile can fall in between.
    this.rooms.join(client, client.room);
    this.notify(this.opts.onAgentConnected, claims);
    if (this.closing) return this.closeClient(client, CLOSE_GOING_AWAY, 'server shutting down');
    if (lastEventId === null) void startFresh(this.replay, client);
    else void resume(this.replay, client, lastEventId);
  }

  private onMessage(client: Client, data: RawData, isBinary: boolean): void {
    client.isAlive = true;
    // Agents send almost nothing; answer an app-level ping, ignore everything else.
    if (isBinary || !Buffer.isBuffer(data) || data.length > 64) return;
    let message: unknown;
    try {
      message = JSON.parse(data.toString('utf8'));
    } catch {
      return;
    }
    if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'ping') {
      this.sender.send(client, PONG_FRAME);
    }
  }

  private route(event: StoredEvent): void {
    this.rooms.forEachRecipient(event.extension, (client) => {
      if (!client.held) {
        if (!isRepeat(client, event)) this.sender.send(client, event.json);
        return;
      }
      if (client.held.length < this.maxHeldEvents) return void client.held.push(event);
      // A replay that cannot keep up (or a log read that hangs) must not hold events without bound.
      this.sender.dropForSlowReader(client);
    });
  }

  // ---- lifecycle ----------------------------------------------------------------------------------------

  private beat(): void {
    for (const client of this.clients) {
      if (!client.isAlive) {
        client.ws.terminate();
        continue;
      }
      client.isAlive = false;
      if (client.ws.readyState === WebSocket.OPEN) client.ws.ping();
    }
  }

  private armExpiry(client: Client): void {
    const remaining = client.claims.exp * 1000 - this.now();
    if (remaining <= 0) return this.closeClient(client, CLOSE_TOKEN_EXPIRED, 'token expired');
    client.expiryTimer = setTimeout(() => this.armExpiry(client), Math.min(remaining, MAX_TIMER_MS));
  }

  /** Starts the close handshake and stops routing to the socket; terminates it if the handshake stalls. */
  private closeClient(client: Client, code: number, reason: string): void {
    if (client.closing) return;
    client.closing = true;
    client.held = null;
    this.rooms.leave(client, client.room);
    clearTimeout(client.expiryTimer);
    if (client.ws.readyState === WebSocket.CLOSED) return;
    client.ws.close(code, reason);
    // A reader too slow to take the data is too slow to take the close frame queued behind it.
    client.killTimer = setTimeout(() => client.ws.terminate(), this.closeGraceMs);
  }

  private forget(client: Client): void {
    client.closing = true;
    client.held = null;
    clearTimeout(client.expiryTimer);
    clearTimeout(client.killTimer);
    this.rooms.leave(client, client.room);
    const sameToken = this.byToken.get(client.claims.jti);
    if (sameToken?.delete(client) && sameToken.size === 0) this.byToken.delete(client.claims.jti);
    if (this.clients.delete(client)) this.notify(this.opts.onAgentDisconnected, client.claims);
  }

  private notify(callback: ((claims: AgentClaims) => void) | undefined, claims: AgentClaims): void {
    if (!callback) return;
    try {
      callback(claims);
    } catch (err) {
      this.logger.error({ err }, 'websocket hub callback threw');
    }
  }
}
