/**
 * One delivery attempt over HTTP with undici: POST, signed headers, no redirects followed, one deadline for
 * the whole attempt (connect, headers and body), at most a few KB of the answer read for the error message.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { guardedConnector, type Resolver } from './ssrf.js';
import { parseRetryAfter } from './retry-policy.js';

export interface AttemptResult {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  retryAfterMs: number | null;
  /** The attempt was cut short because the sender is closing: it does not count. */
  interrupted: boolean;
}

export interface SenderOptions {
  timeoutMs: number;
  allowPrivate: boolean;
  /** Replaces DNS resolution, for tests. */
  resolve?: Resolver;
}

const ERROR_BODY_BYTES = 2048;

export class WebhookSender {
  private readonly agent: Agent;
  private readonly timeoutMs: number;
  private readonly closing = new AbortController();

  constructor(opts: SenderOptions) {
    this.timeoutMs = opts.timeoutMs;
    this.agent = new Agent({
      connect: guardedConnector({ allowPrivate: opts.allowPrivate, connectTimeoutMs: Math.min(opts.timeoutMs, 10_000), resolve: opts.resolve }),
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      keepAliveTimeout: 4_000,
      connections: 64,
    });
  }

  get dispatcher(): Dispatcher {
    return this.agent;
  }

  async send(url: string, headers: Record<string, string>, body: string): Promise<AttemptResult> {
    const started = performance.now();
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.timeoutMs);
    const signal = AbortSignal.any([deadline.signal, this.closing.signal]);
    const done = (r: Omit<AttemptResult, 'durationMs' | 'interrupted'>): AttemptResult => ({
      ...r,
      durationMs: Math.round(performance.now() - started),
      interrupted: this.closing.signal.aborted && !r.ok,
    });
    try {
      const res = await request(url, { method: 'POST', headers, body, dispatcher: this.agent, signal });
      const status = res.statusCode;
      if (status >= 200 && status < 300) {
        await res.body.dump({ limit: 64 * 1024, signal });
        return done({ ok: true, statusCode: status, error: null, retryAfterMs: null });
      }
      const text = await readSome(res.body, ERROR_BODY_BYTES);
      const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
      let error: string;
      if (status >= 300 && status < 400) {
        const loc = res.headers.location;
        error = `HTTP ${status}: redirects are not followed${loc ? ` (Location: ${String(loc).slice(0, 200)})` : ''}`;
      } else {
        error = `HTTP ${status}${text ? `: ${text}` : ''}`;
      }
      return done({ ok: false, statusCode: status, error, retryAfterMs });
    } catch (err) {
      if (deadline.signal.aborted && !this.closing.signal.aborted) {
        return done({ ok: false, statusCode: null, error: `timed out after ${this.timeoutMs} ms`, retryAfterMs: null });
      }
      return done({ ok: false, statusCode: null, error: describeError(err), retryAfterMs: null });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Cuts in-flight attempts short: they report `interrupted` and are put back in the queue. */
  async abortInFlight(): Promise<void> {
    this.closing.abort();
  }

  /** Cuts in-flight attempts short and closes pooled connections. */
  async close(): Promise<void> {
    this.closing.abort();
    await this.agent.destroy().catch(() => undefined);
  }
}

async function readSome(body: Dispatcher.ResponseData['body'], max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      chunks.push(buf);
      size += buf.length;
      if (size >= max) break;
    }
  } catch {
    // The status code is what matters; a broken body only shortens the message.
  }
  if (!body.destroyed) body.destroy();
  return Buffer.concat(chunks)
    .subarray(0, max)
    .toString('utf8')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  const code = (err as Error & { code?: unknown }).code;
  const base = typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  if (cause instanceof Error && cause.message && !base.includes(cause.message)) return `${base} (${cause.message})`;
  return base;
}
