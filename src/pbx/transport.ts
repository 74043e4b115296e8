/**
 * The HTTP side of a PBX request: the response size cap (PBX_MAX_RESPONSE_BYTES), the time limit that
 * stops while the bridge indexes what it already received, and turning undici/socket failures into
 * PbxError (only the error's code is kept in the message, never its text).
 */
import { performance } from 'node:perf_hooks';
import { PbxError } from '../errors.js';
import { utf8Text } from './list-reader.js';

export type PbxRequestOutcome = 'ok' | 'rejected' | 'timeout' | 'unreachable' | 'bad_response';

export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

const OUTCOME_OF_CODE: Record<string, PbxRequestOutcome> = {
  PBX_ERR_TIMEOUT: 'timeout',
  PBX_ERR_UNREACHABLE: 'unreachable',
  PBX_ERR_BAD_RESPONSE: 'bad_response',
  PBX_ERR_REJECTED: 'rejected',
};

export function outcomeOf(err: PbxError): PbxRequestOutcome {
  return OUTCOME_OF_CODE[err.code] ?? 'bad_response';
}

function errorCode(err: unknown): string | null {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return null;
}

/** Translates an undici/socket failure. */
export function transportError(endpoint: string, err: unknown, timedOut: boolean, timeoutMs: number): PbxError {
  const code = errorCode(err);
  if (timedOut || (code !== null && TIMEOUT_CODES.has(code))) {
    return new PbxError('PBX_ERR_TIMEOUT', endpoint, `PBX ${endpoint} did not answer within ${timeoutMs} ms`, { cause: err });
  }
  const reason = code ?? (err instanceof Error ? err.name : 'unknown error');
  return new PbxError('PBX_ERR_UNREACHABLE', endpoint, `PBX ${endpoint} unreachable (${reason})`, { cause: err });
}

export class ResponseTooLarge extends Error {}

/** The body's chunks, failing with ResponseTooLarge once more than `max` bytes came (or were announced). */
export async function* capped(chunks: AsyncIterable<Uint8Array>, max: number, announced: number | null): AsyncGenerator<Uint8Array> {
  if (announced !== null && announced > max) throw new ResponseTooLarge();
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.length;
    if (total > max) throw new ResponseTooLarge();
    yield chunk;
  }
}

export async function cappedText(chunks: AsyncIterable<Uint8Array>, max: number, announced: number | null): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of capped(chunks, max, announced)) parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  return utf8Text(parts);
}

/**
 * The chunks, with `deadline`'s clock running only while the next one is awaited: the time limit counts
 * time spent waiting on the PBX, not time the bridge spends parsing and indexing what it already received.
 */
export async function* timedWhileWaiting(chunks: AsyncIterable<Uint8Array>, deadline: { pause(): void; resume(): void }): AsyncGenerator<Uint8Array> {
  const it = chunks[Symbol.asyncIterator]();
  try {
    for (;;) {
      deadline.resume();
      const next = await it.next();
      deadline.pause();
      if (next.done === true) return;
      yield next.value;
    }
  } finally {
    deadline.resume();
    await it.return?.();
  }
}

/** An abort signal after `ms`, with the clock stopped between pause() and resume(). */
export function pausableTimeout(ms: number): { signal: AbortSignal; pause(): void; resume(): void; clear(): void } {
  const controller = new AbortController();
  let remaining = ms;
  let since = performance.now();
  let timer: NodeJS.Timeout | null = null;
  const arm = (): void => {
    timer = setTimeout(() => controller.abort(new DOMException('The PBX did not answer in time', 'TimeoutError')), Math.max(0, remaining));
    timer.unref();
  };
  arm();
  return {
    signal: controller.signal,
    pause() {
      if (timer === null) return;
      clearTimeout(timer);
      timer = null;
      remaining -= performance.now() - since;
    },
    resume() {
      if (timer !== null || controller.signal.aborted) return;
      since = performance.now();
      arm();
    },
    clear() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}
