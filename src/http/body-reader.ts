/**
 * Reads a request body as bytes, within a byte limit, for the callback route (docs/performance.md): the same
 * answers Express's raw body parser gave (no body, 413 past the limit, 415 for an unknown Content-Encoding,
 * 400 when the bytes cannot be read), without its per-request middleware chain.
 */
import type { IncomingMessage } from 'node:http';
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';

export type BodyReadFailure = 'too_large' | 'unsupported_encoding' | 'unreadable';

export class BodyReadError extends Error {
  constructor(readonly failure: BodyReadFailure) {
    super(`request body: ${failure}`);
    this.name = 'BodyReadError';
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
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const cleanup = () => {
      source.removeListener('data', onData);
      source.removeListener('end', onEnd);
      source.removeListener('error', onError);
      req.removeListener('aborted', onAborted);
      req.removeListener('error', onError);
    };
    const fail = (failure: BodyReadFailure) => {
      if (settled) return;
      settled = true;
      cleanup();
      if (inflater) {
        inflater.on('error', () => undefined);
        inflater.destroy();
      }
      discardRest(req);
      reject(new BodyReadError(failure));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        fail('too_large');
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = () => fail('unreadable');
    const onAborted = () => fail('unreadable');
    source.on('data', onData);
    source.on('end', onEnd);
    source.on('error', onError);
    if (source !== req) req.on('error', onError);
    req.on('aborted', onAborted);
  });
}
