/**
 * The load generator: N WebSocket agents on N extensions, and callbacks sent over an undici Pool (keep-alive).
 *
 * Open loop (runOpenLoop): callbacks are scheduled by the clock at a fixed rate and latency is measured from
 * each callback's *scheduled* send time, so a server (or generator) falling behind shows up as latency instead
 * of silently lowering the offered rate (no coordinated omission). The sender wakes on timers (about every
 * millisecond at high rates) and sends whatever is due; it never spins.
 *
 * Every callback targets one agent's extension with a caller number from the phonebook and a unique call id
 * `bcid-<step>.<seq>`; the agent's socket finds that id in the frame (a byte search, no JSON.parse), and the
 * latency is the time the frame arrived minus the scheduled send time.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { WebSocket, type RawData } from 'ws';
import { summarize, type Summary } from './stats.js';

export interface TargetSpec {
  /** http://host:port */
  origin: string;
  /** Headers for every callback (the bridge's secret). */
  callbackHeaders: Record<string, string>;
  /** Body field names: the bridge and the baseline both read `extension_number`. */
  checkEnrichment: boolean;
}

export interface AgentSpec {
  extension: string;
  /** Full ws:// URL including auth. */
  url: string;
  /** Wait for a first frame (the bridge's `ready`) rather than just the open event. */
  waitForFirstFrame: boolean;
}

export interface StepRaw {
  mode: 'open' | 'closed';
  /** Offered rate (open loop) or concurrency (closed loop). */
  rate: number;
  concurrency?: number;
  durationS: number;
  sent: number;
  accepted: number;
  errors: number;
  /** Of the errors, the 503 answers (the server refusing past its limit; the PBX retries those). */
  refused: number;
  firstError: string | null;
  framesReceived: number;
  missing: number;
  duplicates: number;
  misrouted: number;
  /** Frames whose `contact` was null (the bridge only): enrichment missed. */
  unenriched: number;
  /** Callback-to-socket latency, ms from the scheduled send time. */
  frame: Summary;
  /** HTTP answer latency, ms from the scheduled send time. */
  ack: Summary;
  /** How late the generator itself sent, ms (its own health). */
  senderLag: Summary;
  /**
   * Open loop: ms from the scheduled send time to the request's headers written to a connection. Over the
   * timer's lateness (senderLag) this is the queue in the sender: every keep-alive connection busy with an
   * earlier callback. The answer latency minus this is the bridge's side (and the kernel's) of the round trip.
   */
  senderQueue: Summary;
  /** accepted callbacks per second over the sending window (closed loop: the throughput). */
  acceptedPerS: number;
}

const MARKER = Buffer.from('bcid-');
const CONTACT_NULL = Buffer.from('"contact":null');

interface Agent {
  index: number;
  extension: string;
  ws: WebSocket;
}

export class LoadGenerator {
  readonly pool: Pool;
  private agents: Agent[] = [];
  private step = 0;
  private scheduled = new Float64Array(0);
  private target = new Int32Array(0);
  private seen = new Uint8Array(0);
  private frameLat: number[] = [];
  /** The last step's latency per callback, by send order (NaN: no frame). */
  private latBySeq = new Float64Array(0);
  private counts = { framesReceived: 0, duplicates: 0, misrouted: 0, unenriched: 0 };
  private callerIndex = 0;
  /** The body of each callback in flight to its scheduled send time: undici's sendHeaders event carries the body. */
  private bodies = new WeakMap<Buffer, number>();
  private queued: number[] = [];
  private readonly onSendHeaders = (message: unknown): void => {
    const body = (message as { request?: { body?: unknown } }).request?.body;
    if (!Buffer.isBuffer(body)) return;
    const at = this.bodies.get(body);
    if (at !== undefined) this.queued.push(performance.now() - at);
  };

  constructor(
    private readonly spec: TargetSpec,
    private readonly callers: readonly string[],
    connections = 64,
  ) {
    this.pool = new Pool(spec.origin, { connections, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000 });
    diagnosticsChannel.subscribe('undici:client:sendHeaders', this.onSendHeaders);
  }

  get agentCount(): number {
    return this.agents.length;
  }

  /** Connects the load agents (these receive the callbacks' frames). */
  async connectAgents(specs: readonly AgentSpec[], concurrency = 50): Promise<void> {
    const base = this.agents.length;
    const sockets = await connectMany(specs, concurrency, (i, ws) => {
      ws.on('message', (data, isBinary) => this.onFrame(base + i, data, isBinary));
    });
    sockets.forEach((ws, i) => this.agents.push({ index: base + i, extension: specs[i]?.extension ?? '', ws }));
  }

  async close(): Promise<void> {
    await closeSockets(this.agents.map((a) => a.ws));
    this.agents = [];
    diagnosticsChannel.unsubscribe('undici:client:sendHeaders', this.onSendHeaders);
    await this.pool.close();
  }

  /** Open loop: `rate` callbacks/s for `durationMs`, then up to `drainMs` for late frames. */
  async runOpenLoop(rate: number, durationMs: number, drainMs = 3000): Promise<StepRaw> {
    const n = Math.max(1, Math.round((rate * durationMs) / 1000));
    const state = this.beginStep(n);
    const interval = 1000 / rate;
    const start = performance.now() + 5;
    const senderLag: number[] = [];
    let next = 0;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const now = performance.now();
        while (next < n && start + next * interval <= now) {
          const at = start + next * interval;
          senderLag.push(now - at);
          this.fire(state, next, at);
          next++;
        }
        if (next >= n) return resolve();
        const wait = start + next * interval - performance.now();
        setTimeout(tick, Math.max(1, Math.floor(wait)));
      };
      setTimeout(tick, 5);
    });
    const windowS = (performance.now() - start) / 1000;
    await this.drain(state, n, drainMs);
    return this.endStep(state, 'open', rate, durationMs / 1000, windowS, n, senderLag);
  }

  /**
   * Closed loop: `concurrency` callbacks in flight at all times for `durationMs`; gives the maximum accepted
   * rate. Latency here is from the actual send (a closed loop cannot measure queueing honestly).
   */
  async runClosedLoop(concurrency: number, durationMs: number, drainMs = 3000): Promise<StepRaw> {
    const cap = 200_000;
    const state = this.beginStep(cap);
    const start = performance.now();
    const deadline = start + durationMs;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (performance.now() < deadline && next < cap) {
        const seq = next++;
        await this.fire(state, seq, performance.now());
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const windowS = (performance.now() - start) / 1000;
    await this.drain(state, next, drainMs);
    const raw = this.endStep(state, 'closed', concurrency, durationMs / 1000, windowS, next, []);
    raw.concurrency = concurrency;
    return raw;
  }

  // ---- internals ----------------------------------------------------------------------------------------

  private beginStep(n: number): StepState {
    this.step++;
    this.scheduled = new Float64Array(n);
    this.target = new Int32Array(n).fill(-1);
    this.seen = new Uint8Array(n);
    this.frameLat = [];
    this.queued = [];
    this.latBySeq = new Float64Array(n).fill(NaN);
    this.counts = { framesReceived: 0, duplicates: 0, misrouted: 0, unenriched: 0 };
    return { step: this.step, sent: 0, settled: 0, accepted: 0, errors: 0, refused: 0, firstError: null, ack: [] };
  }

  private fire(state: StepState, seq: number, scheduledAt: number): Promise<void> {
    const agent = this.agents[seq % this.agents.length];
    if (!agent) throw new Error('no agents connected');
    const caller = this.callers[this.callerIndex++ % this.callers.length] ?? '+919800000000';
    this.scheduled[seq] = scheduledAt;
    this.target[seq] = agent.index;
    state.sent++;
    const body = Buffer.from(
      JSON.stringify({
        extension_number: agent.extension,
        caller_number: caller,
        caller_name: 'BENCH',
        call_id: `bcid-${state.step}.${seq}`,
        event: 'ringing',
      }),
    );
    this.bodies.set(body, scheduledAt);
    return this.pool
      .request({
        path: '/pbx/callback',
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.spec.callbackHeaders },
        body,
      })
      .then(async (res) => {
        const text = await res.body.text();
        state.ack.push(performance.now() - scheduledAt);
        if (res.statusCode === 200) state.accepted++;
        else {
          state.errors++;
          if (res.statusCode === 503) state.refused++;
          state.firstError ??= `HTTP ${res.statusCode} ${text.slice(0, 200)}`;
        }
      })
      .catch((err: unknown) => {
        state.errors++;
        state.firstError ??= err instanceof Error ? err.message : String(err);
      })
      .finally(() => {
        state.settled++;
      });
  }

  private onFrame(agentIndex: number, data: RawData, isBinary: boolean): void {
    const now = performance.now();
    if (isBinary || !Buffer.isBuffer(data)) return;
    const at = data.indexOf(MARKER);
    if (at < 0) return; // ready, pong
    let p = at + MARKER.length;
    let step = 0;
    for (let c = data[p]; c !== undefined && c >= 48 && c <= 57; c = data[++p]) step = step * 10 + (c - 48);
    if (data[p] !== 46 /* . */ || step !== this.step) return; // a late frame from an earlier step
    p++;
    let seq = 0;
    for (let c = data[p]; c !== undefined && c >= 48 && c <= 57; c = data[++p]) seq = seq * 10 + (c - 48);
    if (seq >= this.seen.length) return;
    if (this.seen[seq]) {
      this.counts.duplicates++;
      return;
    }
    this.seen[seq] = 1;
    this.counts.framesReceived++;
    if (this.target[seq] !== agentIndex) this.counts.misrouted++;
    if (this.spec.checkEnrichment && data.indexOf(CONTACT_NULL) >= 0) this.counts.unenriched++;
    const latency = now - (this.scheduled[seq] ?? now);
    this.frameLat.push(latency);
    this.latBySeq[seq] = latency;
  }

  /** Callback-to-socket latency of the last step's callbacks number `from` to `to` (send order), received ones only. */
  latencyOfRange(from: number, to: number): Summary {
    return summarize(this.latBySeq.subarray(from, to).filter((v) => !Number.isNaN(v)));
  }

  /** Waits for every answer and every frame, at most drainMs for frames (and 30 s for answers). */
  private async drain(state: StepState, n: number, drainMs: number): Promise<void> {
    const until = performance.now() + drainMs;
    const hardUntil = performance.now() + 30_000;
    for (;;) {
      const answersDone = state.settled >= state.sent;
      const framesDone = this.counts.framesReceived >= state.accepted && answersDone;
      if (framesDone) return;
      const now = performance.now();
      if (now > hardUntil || (answersDone && now > until)) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    void n;
  }

  private endStep(state: StepState, mode: 'open' | 'closed', rate: number, durationS: number, windowS: number, n: number, senderLag: number[]): StepRaw {
    void n;
    return {
      mode,
      rate,
      durationS,
      sent: state.sent,
      accepted: state.accepted,
      errors: state.errors,
      refused: state.refused,
      firstError: state.firstError,
      framesReceived: this.counts.framesReceived,
      missing: Math.max(0, state.accepted - this.counts.framesReceived),
      duplicates: this.counts.duplicates,
      misrouted: this.counts.misrouted,
      unenriched: this.counts.unenriched,
      frame: summarize(this.frameLat),
      ack: summarize(state.ack),
      senderLag: summarize(senderLag),
      senderQueue: summarize(mode === 'open' ? this.queued : []),
      acceptedPerS: Math.round(state.accepted / windowS),
    };
  }
}

interface StepState {
  step: number;
  sent: number;
  settled: number;
  accepted: number;
  errors: number;
  refused: number;
  firstError: string | null;
  ack: number[];
}

/** Opens sockets `concurrency` at a time; each resolves on open, or on its first frame when asked to. */
export async function connectMany(
  specs: readonly AgentSpec[],
  concurrency: number,
  attach: (index: number, ws: WebSocket) => void = () => undefined,
): Promise<WebSocket[]> {
  const out = new Array<WebSocket>(specs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < specs.length) {
      const i = next++;
      const spec = specs[i];
      if (!spec) continue;
      out[i] = await connectOne(spec, (ws) => attach(i, ws));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, specs.length) }, worker));
  return out;
}

function connectOne(spec: AgentSpec, attach: (ws: WebSocket) => void): Promise<WebSocket> {
  return new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(spec.url, { perMessageDeflate: false });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`websocket for ${spec.extension} did not get ready within 15 s`));
    }, 15_000);
    const ready = (): void => {
      clearTimeout(timer);
      ws.off('error', fail);
      ws.on('error', () => undefined);
      attach(ws);
      resolve(ws);
    };
    const fail = (err: Error): void => {
      clearTimeout(timer);
      reject(new Error(`websocket for ${spec.extension}: ${err.message}`));
    };
    ws.once('error', fail);
    ws.once('unexpected-response', (_req, res) => fail(new Error(`HTTP ${res.statusCode}`)));
    if (spec.waitForFirstFrame) ws.once('message', ready);
    else ws.once('open', ready);
  });
}

export async function closeSockets(sockets: readonly WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once('close', () => resolve());
          ws.terminate();
        }),
    ),
  );
}
