/**
 * Reads a request body as bytes, within a byte limit, for the callback route (docs/performance.md): the same
 * answers Express's raw body parser gave (no body, 413 past the limit, 415 for an unknown Content-Encoding,
 * 400 when the bytes cannot be read), without its per-request middleware chain.
 */
import type { IncomingMessage } from 'node:http';
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import { CallbackError, type CallbackErrorCode } from '../errors.js';

export type BodyReadFailure = 'too_large' | 'unsupported_encoding' | 'unreadable';

const CODE_OF_FAILURE = {
  too_large: 'CALLBACK_ERR_TOO_LARGE',
  unsupported_encoding: 'CALLBACK_ERR_UNSUPPORTED_ENCODING',
  unreadable: 'CALLBACK_ERR_UNREADABLE',
} as const satisfies Record<BodyReadFailure, CallbackErrorCode>;

/** A body that cannot be read; its code (and so the answer's status and message) comes from the registry. */
export class BodyReadError extends CallbackError {
  constructor(readonly failure: BodyReadFailure) {
    super(CODE_OF_FAILURE[failure]);
  }
}

/** A body is there when the request says it sends one (a length or a transfer encoding), as type-is reads it. */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || !Number.isNaN(Number.parseInt(req.headers['content-length'] ?? '', 10));
}

function decompressor(encoding: string): Transform | null {
  switch (encoding) {
    case 'gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    default:
      return null;
  }
}

/** Lets Node read off (and discard) what is left of a request the answer no longer needs. */
function discardRest(req: IncomingMessage): void {
  req.unpipe();
  req.resume();
}

/**
 * The body, decompressed (gzip, deflate, br), or null when the request has none. Rejects with a BodyReadError;
 * past `limit` decompressed bytes it rejects at once (the rest of the request is read off and dropped).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  if (!hasBody(req)) return Promise.resolve(null);
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  let source: NodeJS.ReadableStream = req;
  let inflater: Transform | null = null;
  if (encoding !== 'identity') {
    inflater = decompressor(encoding);
    if (inflater === null) {
      discardRest(req);
      return Promise.reject(new BodyReadError('unsupported_encoding'));
    }
    req.pipe(inflater);
    source = inflater;
  } else {
    const declared = Number.parseInt(req.headers['content-length'] ?? '', 10);
    if (declared > limit) {
      discardRest(req);
      return Promise.reject(new BodyReadError('too_large'));
    }
  }

  return new Promise<Buffer | null>((resolve, reject) => {
    new BodyCollector(req, source, inflater, limit, resolve, reject).start();
  });
}

/**
 * One body being read. A class rather than closures made per request: its listeners are bound methods, which
 * cost less to create than a handful of fresh functions (and, under tsx, than their name bookkeeping).
 */
class BodyCollector {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private settled = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly source: NodeJS.ReadableStream,
    private readonly inflater: Transform | null,
    private readonly limit: number,
    private readonly resolve: (body: Buffer) => void,
    private readonly reject: (err: BodyReadError) => void,
  ) {
    this.onData = this.onData.bind(this);
    this.onEnd = this.onEnd.bind(this);
    this.onError = this.onError.bind(this);
  }

  start(): void {
    this.source.on('data', this.onData);
    this.source.on('end', this.onEnd);
    this.source.on('error', this.onError);
    if (this.source !== this.req) this.req.on('error', this.onError);
    this.req.on('aborted', this.onError);
  }

  private onData(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.limit) {
      this.fail('too_large');
      return;
    }
    this.chunks.push(chunk);
  }

  private onEnd(): void {
    if (this.settled) return;
    this.settled = true;
    this.cleanup();
    this.resolve(this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.size));
  }

  private onError(): void {
    this.fail('unreadable');
  }

  private fail(failure: BodyReadFailure): void {
    if (this.settled) return;
    this.settled = true;
    this.cleanup();
    if (this.inflater) {
      this.inflater.on('error', () => undefined);
      this.inflater.destroy();
    }
    discardRest(this.req);
    this.reject(new BodyReadError(failure));
  }

  private cleanup(): void {
    this.source.removeListener('data', this.onData);
    this.source.removeListener('end', this.onEnd);
    this.source.removeListener('error', this.onError);
    this.req.removeListener('aborted', this.onError);
    this.req.removeListener('error', this.onError);
  }
}
