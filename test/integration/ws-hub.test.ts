/** The WebSocket hub over a real http.Server, real `ws` clients, raw sockets where a client must misbehave. */
import { randomBytes } from 'node:crypto';
import { request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { describe, expect, inject, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import type { AgentClaims } from '../../src/core/agent.js';
import type { NewCallEvent } from '../../src/core/event.js';
import type { EventLog } from '../../src/core/ports.js';
import { MemoryEventLog } from '../../src/events/memory-event-log.js';
import { RedisEventLog } from '../../src/events/redis-event-log.js';
import { createRedisClient } from '../../src/store/redis.js';
import type { WsHub, WsHubOptions } from '../../src/ws/hub.js';
import { startHubServer } from '../helpers/agent-hub.js';
import { cleanupsAfterEach } from '../helpers/cleanups.js';
import { eventually, letTimePass } from '../helpers/wait.js';
import { uniquePrefix } from '../helpers/redis-server.js';

const logger = pino({ level: 'silent' });
const cleanups = cleanupsAfterEach();

const farFuture = () => Math.floor(Date.now() / 1000) + 3600;
const tokens = new Map<string, AgentClaims>();
function token(extension: string, role: AgentClaims['role'] = 'agent', exp = farFuture()): string {
  const t = randomBytes(12).toString('hex');
  tokens.set(t, { extension, role, exp, jti: t });
  return t;
}
const verifyToken = async (t: string): Promise<AgentClaims | null> => tokens.get(t) ?? null;

function memoryLog(maxEvents?: number): MemoryEventLog {
  const log = new MemoryEventLog({ logger, maxEvents });
  cleanups.push(() => log.close());
  return log;
}

async function redisLog(): Promise<RedisEventLog> {
  const clients: Redis[] = [createRedisClient(inject('redisUrl'), 'test-hub'), createRedisClient(inject('redisUrl'), 'test-hub-tail')];
  cleanups.push(() => clients.forEach((c) => c.disconnect()));
  const log = new RedisEventLog({ redis: clients[0] as Redis, subscriberRedis: clients[1] as Redis, prefix: uniquePrefix('ws-hub'), logger });
  cleanups.push(() => log.close());
  await log.start();
  return log;
}

interface Started {
  hub: WsHub;
  server: Server;
  port: number;
  log: EventLog;
}

async function startHub(log: EventLog, extra: Partial<WsHubOptions> = {}): Promise<Started> {
  const { hub, server, port } = await startHubServer({ verifyToken, eventLog: log, logger, ...extra }, cleanups);
  return { hub, server, port, log };
}

interface TestClient {
  ws: WebSocket;
  frames: string[];
  closed: Promise<{ code: number; reason: string }>;
}

async function connect(port: number, query: string, headers: Record<string, string> = {}): Promise<TestClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?${query}`, { headers });
  const frames: string[] = [];
  ws.on('message', (data) => frames.push(String(data)));
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: String(reason) })));
  cleanups.push(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, frames, closed };
}

function callEvent(extension: string, fromName: string | null = null): NewCallEvent {
  return {
    type: 'call.ringing',
    timestamp: new Date().toISOString(),
    data: {
      extension,
      call: { id: randomBytes(4).toString('hex'), from: '+15550100', fromRaw: '5550100', fromName, to: extension, direction: 'inbound', sessionId: 'session-1' },
      contact: null,
      otherContacts: [],
      links: {},
    },
  };
}

const idOf = (frame: string | undefined) => (JSON.parse(frame ?? 'null') as { id?: string } | null)?.id;
const eventIds = (frames: string[]) => frames.slice(1).map(idOf);

/** An upgrade request over plain http, to see the refusal the way any client would. */
function upgradeRequest(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        'Sec-WebSocket-Version': '13',
        ...headers,
      },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += String(c)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '', headers: res.headers });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A WebSocket client by hand: it does the handshake, then reads only when told to, and never answers pings. */
async function rawConnect(port: number, query: string): Promise<{ socket: Socket; reader: FrameReader }> {
  const socket = netConnect(port, '127.0.0.1');
  cleanups.push(() => void socket.destroy());
  const reader = new FrameReader();
  await new Promise<void>((resolve, reject) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      if (!head.subarray(0, end).toString().startsWith('HTTP/1.1 101')) return reject(new Error(head.toString()));
      reader.push(head.subarray(end + 4));
      resolve();
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.write(
      `GET /ws?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
  return { socket, reader };
}

/** Parses the server's (unmasked) frames as bytes arrive. */
class FrameReader {
  frames: Array<{ opcode: number; payload: Buffer }> = [];
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.buf.length < 2) return;
      const opcode = (this.buf[0] as number) & 0x0f;
      let len = (this.buf[1] as number) & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        offset = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.buf.length < offset + len) return;
      this.frames.push({ opcode, payload: this.buf.subarray(offset, offset + len) });
      this.buf = this.buf.subarray(offset + len);
    }
  }
}

describe('websocket hub: handshake', () => {
  it('when the token is missing, forged or expired, then the upgrade gets a 401 with a JSON body and no socket', async () => {
    const { port, hub } = await startHub(memoryLog());
    const expired = token('122', 'agent', Math.floor(Date.now() / 1000) - 5);
    for (const path of ['/ws', '/ws?token=forged', `/ws?token=${expired}`]) {
      const res = await upgradeRequest(port, path);
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toEqual({ error: 'invalid_token' });
      expect(res.headers.connection).toBe('close');
    }
    expect((await upgradeRequest(port, '/ws', { Authorization: 'Bearer forged' })).status).toBe(401);
    expect(hub.stats().sockets).toBe(0);
  });

  it('when the token is valid, then the first frame is ready; by query or by bearer header', async () => {
    const { port } = await startHub(memoryLog());
    const byQuery = await connect(port, `token=${token('122')}`);
    const byHeader = await connect(port, '', { Authorization: `Bearer ${token('123')}` });
    const supervisor = await connect(port, `token=${token('100', 'supervisor')}`);
    await eventually(() => byQuery.frames.length > 0 && byHeader.frames.length > 0 && supervisor.frames.length > 0);
    expect(byQuery.frames[0]).toBe('{"type":"ready","extension":"122","resumed":false}');
    expect(byHeader.frames[0]).toBe('{"type":"ready","extension":"123","resumed":false}');
    expect(supervisor.frames[0]).toBe('{"type":"ready","extension":"*","resumed":false}');
  });

  it('when an upgrade is for another path and nobody else handles it, then the socket is closed, not left hanging', async () => {
    const { port } = await startHub(memoryLog());
    await expect(upgradeRequest(port, `/elsewhere?token=${token('122')}`)).rejects.toThrow(/socket hang up|ECONNRESET/);
  });

  it('when another upgrade listener owns a path, then the hub leaves its sockets alone', async () => {
    const { port, server } = await startHub(memoryLog());
    server.on('upgrade', (req, socket) => {
      if (req.url?.startsWith('/other')) socket.end('HTTP/1.1 418 I am a teapot\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    expect((await upgradeRequest(port, '/other')).status).toBe(418);
  });
});

describe('websocket hub: routing', () => {
  it('when events arrive, then an agent gets only its extension and a supervisor gets all', async () => {
    const log = memoryLog();
    const { port } = await startHub(log);
    const a122 = await connect(port, `token=${token('122')}`);
    const a123 = await connect(port, `token=${token('123')}`);
    const sup = await connect(port, `token=${token('122', 'supervisor')}`);
    await eventually(() => a122.frames.length + a123.frames.length + sup.frames.length === 3);
    const e1 = await log.append(callEvent('122'), null);
    const e2 = await log.append(callEvent('123'), null);
    const e3 = await log.append(callEvent('124'), null);
    await eventually(() => sup.frames.length === 4 && a122.frames.length === 2 && a123.frames.length === 2);
    // No agent may get a third frame (another extension's event) in this time.
    await letTimePass(50);
    expect(eventIds(a122.frames)).toEqual([e1.id]);
    expect(eventIds(a123.frames)).toEqual([e2.id]);
    expect(eventIds(sup.frames)).toEqual([e1.id, e2.id, e3.id]);
    const stored = (await log.readAfter('0-0', 10)).events;
    expect(a122.frames[1]).toBe(stored[0]?.json);
  });

  it('when one event goes to many sockets, then it is serialized once, not once per socket', async () => {
    const log = memoryLog();
    const { port } = await startHub(log);
    const clients = await Promise.all([
      connect(port, `token=${token('122')}`),
      connect(port, `token=${token('122')}`),
      connect(port, `token=${token('1', 'supervisor')}`),
      connect(port, `token=${token('2', 'supervisor')}`),
      connect(port, `token=${token('3', 'supervisor')}`),
    ]);
    await eventually(() => clients.every((c) => c.frames.length === 1));
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      await log.append(callEvent('122'), null);
      await eventually(() => clients.every((c) => c.frames.length === 2));
      // The log serializes the body once at append (and quotes the id); sending to five sockets adds nothing.
      expect(stringify.mock.calls.filter(([value]) => typeof value === 'object')).toHaveLength(1);
      expect(stringify.mock.calls.length).toBeLessThan(clients.length);
    } finally {
      stringify.mockRestore();
    }
  });

  it('when a client sends a ping, junk or an oversized message, then it gets a pong and the hub keeps serving', async () => {
    const log = memoryLog();
    const { port } = await startHub(log);
    const agent = await connect(port, `token=${token('122')}`);
    const rude = await connect(port, `token=${token('122')}`);
    agent.ws.send('not json');
    agent.ws.send(Buffer.from([1, 2, 3]));
    agent.ws.send('{"type":"ping"}');
    await eventually(() => agent.frames.includes('{"type":"pong"}'));
    rude.ws.send('x'.repeat(10_000));
    expect((await rude.closed).code).toBe(1009);
    const e = await log.append(callEvent('122'), null);
    await eventually(() => agent.frames.some((f) => idOf(f) === e.id));
  });
});

describe.each([
  ['memory', async () => memoryLog()],
  ['redis', async () => redisLog()],
] as Array<[string, () => Promise<EventLog>]>)('websocket hub: resume (%s log)', (_name, makeLog) => {
  it('when an agent reconnects with lastEventId, then it gets exactly the missed events in order, then live ones, none twice', async () => {
    const log = await makeLog();
    const { port } = await startHub(log);
    const agent = token('122');
    const first = await connect(port, `token=${agent}`);
    const e1 = await log.append(callEvent('122'), null);
    await eventually(() => first.frames.length === 2);
    first.ws.close();
    await first.closed;

    const e2 = await log.append(callEvent('122'), null);
    await log.append(callEvent('123'), null);
    const e4 = await log.append(callEvent('122'), null);
    const again = await connect(port, `token=${agent}&lastEventId=${e1.id}`);
    await eventually(() => again.frames.length === 3);
    expect(JSON.parse(again.frames[0] as string)).toEqual({ type: 'ready', extension: '122', resumed: true });
    expect(eventIds(again.frames)).toEqual([e2.id, e4.id]);

    const e5 = await log.append(callEvent('122'), null);
    await eventually(() => again.frames.length === 4);
    // No event may arrive a second time (replayed and then sent live) in this time.
    await letTimePass(100);
    expect(eventIds(again.frames)).toEqual([e2.id, e4.id, e5.id]);
  });

  it('when events keep arriving while a supervisor resumes, then it sees every event after its id exactly once, in order', async () => {
    const log = await makeLog();
    const { port } = await startHub(log);
    const base = await log.append(callEvent('122'), null);
    const appended: string[] = [];
    const producer = (async () => {
      for (let i = 0; i < 150; i++) {
        appended.push((await log.append(callEvent(String(100 + (i % 4))), null)).id);
        // Spread over time so the supervisor's replay overlaps live appends.
        if (i % 5 === 0) await letTimePass(1);
      }
    })();
    await eventually(() => appended.length >= 30);
    const sup = await connect(port, `token=${token('1', 'supervisor')}&lastEventId=${base.id}`);
    await producer;
    await eventually(() => sup.frames.length === 151);
    // No event may arrive a second time in this time.
    await letTimePass(100);
    expect(JSON.parse(sup.frames[0] as string)).toMatchObject({ type: 'ready', resumed: true });
    expect(eventIds(sup.frames)).toEqual(appended);
  });

  it('when lastEventId is malformed or unknown, then ready says resumed false and only live events follow', async () => {
    const log = await makeLog();
    const { port } = await startHub(log);
    const before = await log.append(callEvent('122'), null);
    const malformed = await connect(port, `token=${token('122')}&lastEventId=yesterday`);
    const unknown = await connect(port, `token=${token('122')}&lastEventId=99999999999999-0`);
    await eventually(() => malformed.frames.length === 1 && unknown.frames.length === 1);
    // lastEventId: where the socket starts, the id to resume from even before its first event.
    expect(JSON.parse(malformed.frames[0] as string)).toEqual({ type: 'ready', extension: '122', resumed: false, lastEventId: before.id });
    expect(JSON.parse(unknown.frames[0] as string)).toEqual({ type: 'ready', extension: '122', resumed: false, lastEventId: before.id });
    const live = await log.append(callEvent('122'), null);
    await eventually(() => malformed.frames.length === 2 && unknown.frames.length === 2);
    expect(eventIds(malformed.frames)).toEqual([live.id]);
    expect(eventIds(unknown.frames)).toEqual([live.id]);
  });

  it('when a socket has seen no event yet, then its ready names where it starts, and a resume from there replays what rang during a blip', async () => {
    const log = await makeLog();
    const { port } = await startHub(log);
    const before = await log.append(callEvent('122'), null);
    const agent = token('122');
    const first = await connect(port, `token=${agent}`);
    await eventually(() => first.frames.length === 1);
    const ready = JSON.parse(first.frames[0] as string) as { lastEventId?: string };
    expect(ready).toEqual({ type: 'ready', extension: '122', resumed: false, lastEventId: before.id });
    first.ws.close();
    await first.closed;

    const during = await log.append(callEvent('122'), null);
    const again = await connect(port, `token=${agent}&lastEventId=${ready.lastEventId ?? ''}`);
    await eventually(() => again.frames.length === 2);
    expect(JSON.parse(again.frames[0] as string)).toEqual({ type: 'ready', extension: '122', resumed: true });
    expect(eventIds(again.frames)).toEqual([during.id]);
  });
});

describe('websocket hub: resume beyond the kept window', () => {
  it('when lastEventId is older than the log keeps, then ready says resumed false and no stale events are replayed', async () => {
    const log = memoryLog(5);
    const { port } = await startHub(log);
    const old = await log.append(callEvent('122'), null);
    let newest = old;
    for (let i = 0; i < 20; i++) newest = await log.append(callEvent('122'), null);
    const agent = await connect(port, `token=${token('122')}&lastEventId=${old.id}`);
    await eventually(() => agent.frames.length === 1);
    expect(JSON.parse(agent.frames[0] as string)).toEqual({ type: 'ready', extension: '122', resumed: false, lastEventId: newest.id });
    const live = await log.append(callEvent('122'), null);
    await eventually(() => agent.frames.length === 2);
    expect(eventIds(agent.frames)).toEqual([live.id]);
  });
});

describe('websocket hub: large replays', () => {
  it('when the missed events are far more than the buffer limit, then a reading client gets them all without a 1013', async () => {
    const log = memoryLog();
    const { port, hub } = await startHub(log, { maxBufferedBytes: 64 * 1024, replayLimit: 1000 });
    const base = await log.append(callEvent('122'), null);
    const padding = 'p'.repeat(2048);
    const ids: string[] = [];
    for (let i = 0; i < 3000; i++) ids.push((await log.append(callEvent('122', padding), null)).id);
    const agent = await connect(port, `token=${token('122')}&lastEventId=${base.id}`);
    const live = await log.append(callEvent('122'), null);
    await eventually(() => agent.frames.length === 3002, 15_000);
    expect(JSON.parse(agent.frames[0] as string)).toMatchObject({ resumed: true });
    expect(eventIds(agent.frames)).toEqual([...ids, live.id]);
    expect(hub.stats().slowReaderCloses).toBe(0);
  });
});

describe('websocket hub: closing sockets', () => {
  it('when a client stops reading, then it is closed with 1013 once its backlog passes the limit', async () => {
    const log = memoryLog(5);
    const { port, hub } = await startHub(log, { maxBufferedBytes: 256 * 1024, closeGraceMs: 10_000 });
    const { socket, reader } = await rawConnect(port, `token=${token('122')}`);
    const big = 'x'.repeat(128 * 1024);
    for (let i = 0; i < 3000 && hub.stats().slowReaderCloses === 0; i++) {
      await log.append(callEvent('122', big), null);
      await new Promise((r) => setImmediate(r));
    }
    expect(hub.stats().slowReaderCloses).toBe(1);
    const sentBefore = hub.stats().framesSent;
    await log.append(callEvent('122', big), null);
    expect(hub.stats().framesSent).toBe(sentBefore); // no longer routed to

    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.resume();
    await eventually(() => reader.frames.some((f) => f.opcode === 0x8), 15_000);
    const close = reader.frames.find((f) => f.opcode === 0x8)?.payload as Buffer;
    expect(close.readUInt16BE(0)).toBe(1013);
    expect(close.subarray(2).toString()).toBe('client reads too slowly');
    expect(reader.frames.filter((f) => f.opcode === 0x1).length).toBe(sentBefore);
  });

  it('when a resuming client does not read its replay, then it is closed with 1013 after the drain timeout', async () => {
    const log = memoryLog();
    const { port, hub } = await startHub(log, { maxBufferedBytes: 256 * 1024, replayDrainTimeoutMs: 300, closeGraceMs: 10_000 });
    const base = await log.append(callEvent('122'), null);
    const big = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 1500; i++) await log.append(callEvent('122', big), null);
    const { socket, reader } = await rawConnect(port, `token=${token('122')}&lastEventId=${base.id}`);
    await eventually(() => hub.stats().slowReaderCloses === 1, 10_000);
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.resume();
    await eventually(() => reader.frames.some((f) => f.opcode === 0x8), 15_000);
    const close = reader.frames.find((f) => f.opcode === 0x8)?.payload as Buffer;
    expect(close.readUInt16BE(0)).toBe(1013);
    expect(reader.frames.filter((f) => f.opcode === 0x1).length).toBeLessThan(1501);
  });

  it('when a client does not answer pings, then the heartbeat terminates it while a live client stays', async () => {
    const { port, hub } = await startHub(memoryLog(), { heartbeatIntervalMs: 100 });
    const alive = await connect(port, `token=${token('122')}`);
    const { socket } = await rawConnect(port, `token=${token('123')}`);
    const gone = new Promise<void>((r) => socket.once('close', () => r()));
    socket.resume(); // reads, but never pongs
    await gone;
    // Two more heartbeats: the client that answers pings must not be terminated by them.
    await letTimePass(250);
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
    expect(hub.stats().sockets).toBe(1);
  });

  it('when the token expires, then the socket is closed with 4001', async () => {
    const { port, hub } = await startHub(memoryLog());
    const soon = Math.floor(Date.now() / 1000) + 1;
    const agent = await connect(port, `token=${token('122', 'agent', soon)}`);
    const { code, reason } = await agent.closed;
    expect(code).toBe(4001);
    expect(reason).toBe('token expired');
    expect(Date.now()).toBeGreaterThanOrEqual(soon * 1000 - 5);
    await eventually(() => hub.stats().sockets === 0);
  });

  it('when the hub closes, then every client gets 1001, callbacks balance, and new upgrades are refused', async () => {
    const connected: string[] = [];
    const disconnected: string[] = [];
    const { port, hub } = await startHub(memoryLog(), {
      onAgentConnected: (c) => connected.push(c.extension),
      onAgentDisconnected: (c) => disconnected.push(c.extension),
    });
    const a = await connect(port, `token=${token('122')}`);
    const b = await connect(port, `token=${token('123', 'supervisor')}`);
    await eventually(() => connected.length === 2);
    await hub.close();
    expect(await a.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await b.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(hub.stats().sockets).toBe(0);
    expect(disconnected.sort()).toEqual(['122', '123']);
    await expect(connect(port, `token=${token('122')}`)).rejects.toThrow();
  });
});

/** An event the size of the benchmark's (~1.1 KB: a matched contact with custom fields). */
function benchSizedEvent(extension: string, n: number): NewCallEvent {
  return {
    type: 'call.ringing',
    timestamp: new Date().toISOString(),
    data: {
      extension,
      call: { id: `bcid-1.${n}`, from: '+919824740472', fromRaw: '+91 98247 40472', fromName: 'BENCH', to: extension, direction: 'inbound', sessionId: randomBytes(16).toString('hex') },
      contact: {
        phonebookId: String(1000 + n),
        displayName: 'Aarav Sharma',
        firstName: 'Aarav',
        lastName: 'Sharma',
        email: `aarav.sharma.${n}@example.com`,
        extension: '',
        phoneNumber: '+91 98247 40472',
        cellNumber: '08824740472',
        phoneGroup: '2',
        customFields: { Company: 'Hodusoft', City: 'Mumbai' },
        match: 'exact',
      },
      otherContacts: [],
      links: { crm: `https://crm.example.com/contacts/${1000 + n}?from=%2B919824740472&extension=${extension}` },
    },
  };
}

async function reader(port: number, t: string): Promise<{ count: () => number }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${t}`);
  let frames = 0;
  ws.on('message', () => frames++);
  cleanups.push(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await eventually(() => frames === 1);
  return { count: () => frames - 1 };
}

/**
 * The slow-reader cut-off (1013) against healthy clients at the benchmark's top rate: one agent and one
 * supervisor that read as ws clients do, live events paced at 3,000/s for 3 s, every one of them for the
 * agent's extension (the worst case: in the benchmark each agent gets a few per second), at the production
 * buffer limit (1 MiB). Nothing about time is asserted, only that nobody was cut off and nothing was lost.
 */
describe('websocket hub: healthy readers at the benchmark rate', () => {
  it('when 3,000 events a second go to one extension, then neither its agent nor a supervisor is cut off as slow, and both get every one', async () => {
    // The production limit (src/ws/hub.ts default).
    const { hub, port, log } = await startHub(memoryLog());
    const agent = await reader(port, token('2001', 'agent'));
    const supervisor = await reader(port, token('2001', 'supervisor'));

    // 30 events every 10 ms: 3,000/s, for 3 s.
    const total = 9_000;
    let sent = 0;
    await new Promise<void>((resolve, reject) => {
      const tick = (): void => {
        const batch: Array<Promise<unknown>> = [];
        for (let i = 0; i < 30 && sent < total; i++) batch.push(log.append(benchSizedEvent('2001', sent++), null));
        Promise.all(batch).then(() => (sent < total ? setTimeout(tick, 10) : resolve()), reject);
      };
      tick();
    });

    await eventually(() => agent.count() === total && supervisor.count() === total, 20_000);
    expect(hub.stats().slowReaderCloses).toBe(0);
    expect(hub.stats().framesDropped).toBe(0);
  });
});
