/**
 * The agents' WebSocket endpoint (CONTRACT section 4): auth on upgrade, one room per extension plus the
 * supervisors, replay on `?lastEventId=`, heartbeat, backpressure and token expiry.
 *
 * Caps (docs/security.md): at most maxSocketsPerToken sockets per token (HTTP 429 past it) and maxSockets per
 * process (503); closeToken() closes a revoked token's sockets with 4001.
 *
 * The hub subscribes to the event log once and sends each event's `json` (serialized once, at append) as is
 * to every socket that should get it: nothing is serialized per socket except the small `ready` frame.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { AgentClaims, TokenVerifier } from '../core/agent.js';
import { compareEventIds, isEventId, type StoredEvent } from '../core/event.js';
import type { EventLog, ReplayResult } from '../core/ports.js';
import type { Logger } from '../logger.js';
import { registerHubMetrics } from './metrics.js';
import { Rooms } from './rooms.js';
import { refuseUpgrade, requestUrl, tokenFromRequest } from './upgrade-auth.js';

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
  onRevoked(listener: (jti: string) => void): void;
  onResync(listener: () => void): void;
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

export const CLOSE_TOKEN_EXPIRED = 4001;
export const CLOSE_TOO_SLOW = 1013;
export const CLOSE_GOING_AWAY = 1001;
const CLOSE_INTERNAL_ERROR = 1011;

/** setTimeout's ceiling; longer expiries re-arm. */
const MAX_TIMER_MS = 2_147_483_647;
const PONG_FRAME = '{"type":"pong"}';

interface Client {
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
  closing: boolean;
  expiryTimer: NodeJS.Timeout | undefined;
  killTimer: NodeJS.Timeout | undefined;
}

export function createWsHub(opts: WsHubOptions): WsHub {
  return new Hub(opts);
}

class Hub implements WsHub {
  private readonly path: string;
  private readonly maxBufferedBytes: number;
  private readonly replayLimit: number;
  private readonly closeGraceMs: number;
  private readonly replayDrainTimeoutMs: number;
  private readonly maxHeldEvents: number;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  private readonly clients = new Set<Client>();
  private readonly rooms = new Rooms<Client>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private readonly counters = { framesSent: 0, framesDropped: 0, slowReaderCloses: 0, refusedTokenLimit: 0, refusedProcessLimit: 0, revokedCloses: 0 };
  /** Open sockets by token id (jti), for the per-token cap and for closing a revoked token's sockets. */
  private readonly byToken = new Map<string, Set<Client>>();
  private readonly maxSocketsPerToken: number;
  private readonly maxSockets: number;
  private closing: Promise<void> | null = null;

  constructor(private readonly opts: WsHubOptions) {
    this.path = opts.path ?? '/ws';
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 1024 * 1024;
    this.replayLimit = Math.max(1, opts.replayLimit ?? 10_000);
    this.closeGraceMs = opts.closeGraceMs ?? 2000;
    this.replayDrainTimeoutMs = opts.replayDrainTimeoutMs ?? 5000;
    this.maxHeldEvents = Math.max(1, opts.maxHeldEvents ?? 10_000);
    this.now = opts.now ?? Date.now;
    this.maxSocketsPerToken = Math.max(1, opts.maxSocketsPerToken ?? 10);
    this.maxSockets = Math.max(1, opts.maxSockets ?? 20_000);
    this.logger = opts.logger;
    this.unsubscribe = opts.eventLog.subscribe((event) => this.route(event));
    this.heartbeat = setInterval(() => this.beat(), opts.heartbeatIntervalMs ?? 30_000);
    opts.server?.on('upgrade', this.onUpgrade);
    opts.revocations?.onRevoked((jti) => this.closeToken(jti));
    opts.revocations?.onResync(() => void this.recheckTokens());
    if (opts.registry) registerHubMetrics(opts.registry, this);
  }

  stats(): WsHubStats {
    return { sockets: this.clients.size, ...this.counters };
  }

  closeToken(jti: string): void {
    const clients = this.byToken.get(jti);
    if (!clients) return;
    for (const client of [...clients]) {
      if (!client.closing) this.counters.revokedCloses++;
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
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  // ---- handshake ----------------------------------------------------------------------------------------

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = requestUrl(req);
    if (this.closing || url?.pathname !== this.path) return false;
    void this.authorize(req, socket, head, url);
    return true;
  }

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Someone else's path: leave it to them, but never leave it hanging when nobody else listens.
    if (!this.handleUpgrade(req, socket, head) && (this.opts.server?.listenerCount('upgrade') ?? 0) <= 1) socket.destroy();
  };

  private async authorize(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    const onSocketError = (err: Error): void => this.logger.debug({ err }, 'websocket handshake socket error');
    socket.on('error', onSocketError);
    const token = tokenFromRequest(url, req.headers);
    let claims: AgentClaims | null = null;
    if (token) {
      try {
        claims = await this.opts.verifyToken(token);
      } catch (err) {
        this.logger.warn({ err }, 'token verification failed; refusing the websocket');
        refuseUpgrade(socket, 503, 'unavailable');
        return;
      }
    }
    if (this.closing) return refuseUpgrade(socket, 503, 'shutting_down');
    if (!claims || claims.exp * 1000 <= this.now()) return refuseUpgrade(socket, 401, 'invalid_token');
    if (socket.destroyed) return;
    // Checked and counted in the same tick as the upgrade below (handleUpgrade calls back synchronously).
    if (this.clients.size >= this.maxSockets) {
      this.counters.refusedProcessLimit++;
      return refuseUpgrade(socket, 503, 'too_many_sockets');
    }
    if ((this.byToken.get(claims.jti)?.size ?? 0) >= this.maxSocketsPerToken) {
      this.counters.refusedTokenLimit++;
      return refuseUpgrade(socket, 429, 'too_many_sockets_for_token');
    }
    socket.off('error', onSocketError);
    const accepted = claims;
    const acceptedToken = token ?? '';
    const lastEventId = url.searchParams.get('lastEventId');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, accepted, acceptedToken, lastEventId || null));
  }

  // ---- sockets ------------------------------------------------------------------------------------------

  private onConnection(ws: WebSocket, claims: AgentClaims, token: string, lastEventId: string | null): void {
    const client: Client = {
      ws,
      claims,
      token,
      room: claims.role === 'supervisor' ? null : claims.extension,
      isAlive: true,
      held: lastEventId === null ? null : [],
      skipThrough: null,
      closing: false,
      expiryTimer: undefined,
      killTimer: undefined,
    };
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
    if (lastEventId === null) this.send(client, this.readyFrame(client, false));
    else void this.resume(client, lastEventId);
  }

  /**
   * Sends `ready`, the events after `afterId` (when the log still has all of them), then the live events held
   * meanwhile that are newer than the replay: no gaps, no repeats. When the log cannot vouch for everything
   * after the id (malformed, unknown, too old), `resumed` is false and only live events follow.
   */
  private async resume(client: Client, afterId: string): Promise<void> {
    let first: ReplayResult | null = null;
    if (isEventId(afterId)) {
      try {
        first = await this.opts.eventLog.readAfter(afterId, this.replayLimit);
      } catch (err) {
        this.logger.warn({ err }, 'could not read the event log for a resume; sending live events only');
      }
    }
    if (!this.isOpen(client)) return;
    const resumed = first?.complete === true;
    this.send(client, this.readyFrame(client, resumed));
    if (resumed && first) {
      let page = first;
      let through = afterId;
      for (;;) {
        for (const event of page.events) {
          if (!this.isOpen(client)) return;
          through = event.id;
          if (this.routesTo(client, event)) await this.sendPaced(client, event.json);
        }
        if (page.events.length < this.replayLimit || !this.isOpen(client)) break;
        try {
          page = await this.opts.eventLog.readAfter(through, this.replayLimit);
        } catch (err) {
          // Half a replay would be a gap the client cannot see: make it reconnect and resume instead.
          this.logger.warn({ err }, 'event log read failed in the middle of a replay');
          return this.closeClient(client, CLOSE_INTERNAL_ERROR, 'replay failed');
        }
      }
      client.skipThrough = through;
    }
    // Live events that arrive while the held ones are flushed join the same array, so the loop takes them too.
    const held = client.held;
    for (let i = 0; held && client.held === held && this.isOpen(client) && i < held.length; i++) {
      const event = held[i] as StoredEvent;
      if (!this.isRepeat(client, event)) await this.sendPaced(client, event.json);
    }
    client.held = null;
  }

  private readyFrame(client: Client, resumed: boolean): string {
    // Supervisors get "*": their stream carries every extension, whatever extension their token names.
    return JSON.stringify({ type: 'ready', extension: client.room ?? '*', resumed });
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
      this.send(client, PONG_FRAME);
    }
  }

  // ---- events -------------------------------------------------------------------------------------------

  private route(event: StoredEvent): void {
    // Sent to this instance's sockets when it was accepted during a Redis outage; now only read back from the stream.
    if (event.echo) return;
    this.rooms.forEachRecipient(event.extension, (client) => {
      if (!client.held) return this.deliverLive(client, event);
      if (client.held.length < this.maxHeldEvents) return void client.held.push(event);
      // A replay that cannot keep up (or a log read that hangs) must not hold events without bound.
      this.counters.framesDropped++;
      this.closeSlowReader(client);
    });
  }

  private routesTo(client: Client, event: StoredEvent): boolean {
    return client.room === null || client.room === event.extension;
  }

  private deliverLive(client: Client, event: StoredEvent): void {
    if (!this.isRepeat(client, event)) this.send(client, event.json);
  }

  /** Whether the replay already covered this live event; live events come in id order, so one check suffices. */
  private isRepeat(client: Client, event: StoredEvent): boolean {
    if (client.skipThrough === null) return false;
    if (compareEventIds(event.id, client.skipThrough) <= 0) return true;
    client.skipThrough = null;
    return false;
  }

  /** Live sends: never wait; a socket whose backlog passed the limit is a slow reader and is closed. */
  private send(client: Client, frame: string): void {
    const { ws } = client;
    if (client.closing || ws.readyState !== WebSocket.OPEN) {
      this.counters.framesDropped++;
      return;
    }
    if (ws.bufferedAmount > this.maxBufferedBytes) {
      this.counters.framesDropped++;
      this.closeSlowReader(client);
      return;
    }
    ws.send(frame);
    this.counters.framesSent++;
  }

  private closeSlowReader(client: Client): void {
    if (client.closing) return;
    this.counters.slowReaderCloses++;
    this.logger.info({ extension: client.claims.extension, bufferedAmount: client.ws.bufferedAmount }, 'closing a websocket that reads too slowly');
    this.closeClient(client, CLOSE_TOO_SLOW, 'client reads too slowly');
  }

  /**
   * Replay sends: a replay is a burst by nature, so past half the limit wait for the socket to flush before
   * going on, instead of calling a healthy resuming client slow. One that does not drain within
   * replayDrainTimeoutMs is a slow reader after all.
   */
  private async sendPaced(client: Client, frame: string): Promise<void> {
    const { ws } = client;
    const backlog = ws.bufferedAmount;
    if (client.closing || ws.readyState !== WebSocket.OPEN || backlog <= this.maxBufferedBytes / 2 || backlog > this.maxBufferedBytes) {
      return this.send(client, frame);
    }
    this.counters.framesSent++;
    const drained = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), this.replayDrainTimeoutMs);
      // The callback fires once this frame, and so everything queued before it, is flushed to the socket.
      ws.send(frame, (err) => {
        clearTimeout(timer);
        resolve(!err);
      });
    });
    if (!drained) this.closeSlowReader(client);
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

  private isOpen(client: Client): boolean {
    return !client.closing && client.ws.readyState === WebSocket.OPEN;
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
