/**
 * Reading a list answer (`{"status": "SUCCESS", …, "data": [ {…}, {…}, … ]}`, ~30 MB for 100,000
 * contacts) while it arrives, without ever holding it whole and without blocking the event loop: one
 * `JSON.parse` of the whole text takes most of a second and needs the 30 MB string plus every object.
 *
 * The bytes go through the lenient mending (`lenient-json.ts`) into `@streamparser/json`, which gives
 * each element of the top-level `data` array as soon as it is complete and forgets it then
 * (`keepStack: false`); the top-level fields an answer is read by (`ANSWER_FIELDS`) are kept as they come.
 * Elements go to `onEntries` `batchSize` at a time, the parser is fed a few KiB at a time, and the reader
 * yields to the event loop every `sliceMs`.
 *
 * Until the first batch is handed over, the raw bytes are kept too: an answer that turns out not to be a
 * plain list (not JSON, no `data` array, `data` a keyed object, two `data` arrays, a refusal without
 * data) is then read whole, exactly as a small answer is (`readPbxAnswer`). Once a batch was handed over
 * that is no longer possible, and an answer unreadable past that point is `broken`.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { JSONParser, TokenType } from '@streamparser/json';
import { ANSWER_FIELDS, type JsonObject } from './answer.js';
import { JsonRepair } from './lenient-json.js';

export interface ListReadOptions {
  /** Work done between two yields to the event loop, in ms. Default 5. */
  sliceMs?: number;
  /** Elements per onEntries call while the answer arrives. Default 64 (few parsed objects live at once, so few outlive a young-generation collection). */
  batchSize?: number;
  /** Nothing is handed over before this many bytes came (a smaller answer is read as one). Default 0. */
  minBytes?: number;
}

export type ListBody =
  /**
   * One JSON object with one `data` array. The elements not handed over yet are in `rest` (all of them
   * when the answer was smaller than a batch: a small refusal never reaches onEntries).
   */
  | { kind: 'list'; envelope: JsonObject; rest: unknown[]; handed: boolean }
  /** Something went to onEntries and the rest of the answer cannot be read (cut short, not JSON, a second list). */
  | { kind: 'broken' }
  /** Nothing went to onEntries and the answer is not a plain list: its whole text, to be read the ordinary way. */
  | { kind: 'text'; text: string };

const DEFAULT_SLICE_MS = 5;
const DEFAULT_BATCH = 64;
/** Bytes per parser write: ~1 ms of parsing each. */
const WRITE_STEP = 16 * 1024;

/** The body's bytes as text, as undici's `body.text()` gives it (UTF-8, a leading BOM dropped). */
export function utf8Text(parts: Buffer[]): string {
  const bytes = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  return bytes.toString('utf8', bom);
}

function toBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Errors of the stream and what onEntries throws come out as they are. */
export async function readListBody(
  chunks: AsyncIterable<Uint8Array>,
  onEntries: (values: unknown[]) => Promise<void>,
  opts: ListReadOptions = {},
): Promise<ListBody> {
  const sliceMs = opts.sliceMs ?? DEFAULT_SLICE_MS;
  const batchSize = opts.batchSize ?? DEFAULT_BATCH;
  const minBytes = opts.minBytes ?? 0;
  let received = 0;
  const repair = new JsonRepair();
  const parser = new JSONParser({ paths: ['$.data.*', ...ANSWER_FIELDS.map((f) => `$.${f}`)], keepStack: false });
  const envelope: JsonObject = {};
  let kept: Buffer[] | null = [];
  let data: unknown[] | null = null;
  /** Not a plain list: `data` a keyed object, or a second `data` array. */
  let odd = false;
  let failed = false;
  let handed = false;
  const batch: unknown[] = [];

  parser.onValue = ({ value, key, parent, stack }) => {
    if (stack.length === 1) {
      if (typeof key === 'string') envelope[key] = value;
      return;
    }
    if (!Array.isArray(parent)) odd = true;
    else if (data === null) data = parent;
    else if (parent !== data) odd = true;
    if (!odd) batch.push(value);
  };
  // A second top-level `data` key (an empty array gives no element): JSON.parse would take the last one.
  let depth = 0;
  let keyNext = false;
  let dataKeys = 0;
  parser.onToken = ({ token, value }) => {
    if (token === TokenType.LEFT_BRACE || token === TokenType.LEFT_BRACKET) {
      depth++;
      keyNext = depth === 1 && token === TokenType.LEFT_BRACE;
    } else if (token === TokenType.RIGHT_BRACE || token === TokenType.RIGHT_BRACKET) {
      depth--;
    } else if (depth === 1) {
      if (token === TokenType.COMMA) keyNext = true;
      else if (keyNext && token === TokenType.STRING) {
        keyNext = false;
        if (value === 'data' && ++dataKeys > 1) odd = true;
      }
    }
  };
  const write = (bytes: Uint8Array): void => {
    try {
      parser.write(bytes);
    } catch {
      failed = true;
    }
  };

  let sliceStart = performance.now();
  for await (const chunk of chunks) {
    received += chunk.length;
    if (kept !== null) kept.push(toBuffer(chunk));
    // Not a list that can be handed over: only keep the bytes, for the whole-text reading.
    if (failed || odd) continue;
    const mended = repair.push(chunk);
    for (let at = 0; at < mended.length && !failed && !odd; at += WRITE_STEP) {
      write(mended.subarray(at, at + WRITE_STEP));
      while (batch.length >= batchSize && received >= minBytes && !failed && !odd) {
        handed = true;
        kept = null; // the whole text can no longer decide: let its bytes go
        await onEntries(batch.splice(0, batchSize));
        if (performance.now() - sliceStart >= sliceMs) {
          await yieldToEventLoop();
          sliceStart = performance.now();
        }
      }
      if (performance.now() - sliceStart >= sliceMs) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }
    // Leaving the loop stops reading (the body is destroyed).
    if (handed && (failed || odd)) return { kind: 'broken' };
  }
  if (!failed && !odd) {
    write(repair.end());
    if (!failed && !parser.isEnded) failed = true; // cut short
  }
  const complete = !failed && !odd && data !== null;
  if (handed) return complete ? { kind: 'list', envelope, rest: batch, handed } : { kind: 'broken' };
  if (complete) return { kind: 'list', envelope, rest: batch, handed };
  return { kind: 'text', text: utf8Text(kept ?? []) };
}
