/**
 * Reading a list answer (`{"status": "SUCCESS", …, "data": [ {…}, {…}, … ]}`, ~30 MB for 100,000
 * contacts) while it arrives, without ever holding it whole and without blocking the event loop: one
 * `JSON.parse` of the whole text takes most of a second and needs the 30 MB string plus every object.
 *
 * The parse itself (the lenient mending and `@streamparser/json`, list-tokenizer.ts) runs in a worker
 * thread once the answer reaches `offThreadBytes` (list-worker.ts): the bridge's thread only passes the
 * bytes on and gets back each `batchSize` elements as one JSON text, which `JSON.parse` turns into objects
 * when they are handed to `onEntries`. The parser's own work and garbage (a few times what `JSON.parse`
 * makes) then never reach the bridge's event loop or its collector. A smaller answer, or one whose worker
 * could not run, is parsed here, a few KiB at a time, with a yield to the event loop every `sliceMs`.
 *
 * Until the first batch is handed over, the raw bytes are kept too: an answer that turns out not to be a
 * plain list (not JSON, no `data` array, `data` a keyed object, two `data` arrays, a refusal without
 * data) is then read whole, exactly as a small answer is (`readPbxAnswer`). Once a batch was handed over
 * that is no longer possible, and an answer unreadable past that point is `broken`.
 */
import { TimeSlice } from '../core/time-slice.js';
import type { JsonObject } from './answer.js';
import { ListTokenizer } from './list-tokenizer.js';
import { ListWorker, type FromListWorker } from './list-worker.js';

export interface ListReadOptions {
  /** Work done between two yields to the event loop, in ms. Default 5. */
  sliceMs?: number;
  /** Elements per onEntries call while the answer arrives. Default 64 (few parsed objects live at once, so few outlive a young-generation collection). */
  batchSize?: number;
  /** Nothing is handed over before this many bytes came (a smaller answer is read as one). Default 0. */
  minBytes?: number;
  /**
   * From this many bytes on, the answer is parsed in a worker thread (a smaller one here, once it has all
   * come). Default 1 MiB. Infinity: always here.
   */
  offThreadBytes?: number;
  /** Where the worker comes from (tests make one that fails). Default: a new ListWorker. */
  newWorker?: (batchSize: number) => ListWorker;
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

const DEFAULT_BATCH = 64;
const DEFAULT_OFF_THREAD_BYTES = 1024 * 1024;
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
  const read = new ListRead(onEntries, opts);
  try {
    for await (const chunk of chunks) {
      // Leaving the loop stops reading (the body is destroyed).
      if (!(await read.push(toBuffer(chunk)))) return { kind: 'broken' };
    }
    return await read.finish();
  } finally {
    read.close();
  }
}

/**
 * One answer being read. `waiting`: the bytes are only kept, until offThreadBytes came (then `worker`) or
 * the answer ended (then `here`); `here`: parsed in this thread; `worker`: parsed in a worker.
 */
class ListRead {
  private readonly slice: TimeSlice;
  private readonly batchSize: number;
  private readonly minBytes: number;
  private readonly offThreadBytes: number;
  private readonly newWorker: (batchSize: number) => ListWorker;
  private mode: 'waiting' | 'here' | 'worker' = 'waiting';
  private received = 0;
  private kept: Buffer[] | null = [];
  private handed = false;
  private failed = false;
  private odd = false;
  /** `here`: the parse. */
  private tokenizer: ListTokenizer | null = null;
  /** `worker`: the parse, and the batches it gave that were not handed over yet (JSON texts). */
  private worker: ListWorker | null = null;
  private readonly queued: string[] = [];
  private envelope: JsonObject = {};
  private complete = false;

  constructor(
    private readonly onEntries: (values: unknown[]) => Promise<void>,
    opts: ListReadOptions,
  ) {
    this.slice = new TimeSlice(opts.sliceMs);
    this.batchSize = opts.batchSize ?? DEFAULT_BATCH;
    this.minBytes = opts.minBytes ?? 0;
    this.offThreadBytes = opts.offThreadBytes ?? DEFAULT_OFF_THREAD_BYTES;
    this.newWorker = opts.newWorker ?? ((batchSize) => new ListWorker(batchSize));
  }

  private get stopped(): boolean {
    return this.failed || this.odd;
  }

  /** False once the answer is known to be broken (something was handed over, and the rest is unreadable). */
  async push(chunk: Buffer): Promise<boolean> {
    this.received += chunk.length;
    if (this.kept !== null) this.kept.push(chunk);
    // Not a list that can be handed over: only keep the bytes, for the whole-text reading.
    if (this.stopped) return true;
    if (this.mode === 'waiting') {
      if (this.received < this.offThreadBytes) return true;
      this.mode = 'worker';
      this.worker = this.newWorker(this.batchSize);
      for (const part of this.kept ?? []) this.worker.write(part);
    } else if (this.mode === 'worker') {
      this.worker?.write(chunk);
    } else {
      await this.parseHere(chunk);
    }
    // One chunk ahead: the worker parses the next while this thread indexes what it gave.
    while (this.mode === 'worker' && this.worker !== null && this.worker.inFlight > 1 && !this.stopped) await this.takeReply();
    return !(this.handed && this.stopped);
  }

  async finish(): Promise<ListBody> {
    if (this.mode === 'waiting' && !this.stopped) {
      this.mode = 'here';
      for (const part of this.kept ?? []) await this.parseHere(part);
    }
    if (this.mode === 'worker' && this.worker !== null && !this.stopped) {
      this.worker.end();
      while (this.mode === 'worker' && this.worker.inFlight > 0 && !this.stopped) await this.takeReply();
    }
    if (this.mode === 'here' && this.tokenizer !== null) {
      this.tokenizer.end();
      this.settleHere();
    }
    const complete = this.complete && !this.stopped;
    const rest = this.tokenizer?.values ?? this.queued.flatMap((json) => JSON.parse(json) as unknown[]);
    if (this.handed) return complete ? { kind: 'list', envelope: this.envelope, rest, handed: true } : { kind: 'broken' };
    if (complete) return { kind: 'list', envelope: this.envelope, rest, handed: false };
    return { kind: 'text', text: utf8Text(this.kept ?? []) };
  }

  close(): void {
    this.worker?.close();
  }

  // --- in this thread ---

  private async parseHere(chunk: Buffer): Promise<void> {
    const t = (this.tokenizer ??= new ListTokenizer());
    const mended = t.mend(chunk);
    for (let at = 0; at < mended.length && !t.stopped; at += WRITE_STEP) {
      t.write(mended.subarray(at, at + WRITE_STEP));
      this.settleHere();
      await this.handOver();
      await this.maybeYield();
    }
  }

  private settleHere(): void {
    const t = this.tokenizer;
    if (t === null) return;
    this.failed = t.failed;
    this.odd = t.odd;
    this.envelope = t.envelope;
    this.complete = t.complete;
  }

  // --- in the worker ---

  private async takeReply(): Promise<void> {
    const worker = this.worker as ListWorker;
    let reply: FromListWorker;
    try {
      reply = await worker.next();
    } catch (err) {
      // Nothing handed over yet: everything is still in `kept`, and this thread reads it instead.
      if (this.handed || this.kept === null) throw err;
      worker.close();
      this.worker = null;
      this.queued.length = 0;
      this.mode = 'here';
      for (const part of this.kept) await this.parseHere(part);
      return;
    }
    this.slice.restart(); // waiting for the answer was a turn of the event loop
    for (const json of reply.batches) this.queued.push(json);
    this.failed = reply.failed;
    this.odd = reply.odd;
    if (reply.type === 'end') {
      this.envelope = reply.envelope;
      this.complete = reply.complete;
    }
    await this.handOver(reply.type === 'end');
  }

  // --- handing over ---

  /** The complete batches, while allowed; at the end (`last`) the shorter last one stays for `rest`. */
  private async handOver(last = false): Promise<void> {
    while (!this.stopped && this.received >= this.minBytes) {
      const batch = this.nextBatch(last);
      if (batch === null) return;
      this.handed = true;
      this.kept = null; // the whole text can no longer decide: let its bytes go
      await this.onEntries(batch);
      await this.maybeYield();
    }
  }

  private nextBatch(last: boolean): unknown[] | null {
    if (this.tokenizer !== null) return this.tokenizer.values.length >= this.batchSize ? this.tokenizer.take(this.batchSize) : null;
    // The worker's batches are full ones, except the very last of the answer.
    if (this.queued.length === 0 || (last && this.queued.length === 1)) return null;
    return JSON.parse(this.queued.shift() as string) as unknown[];
  }

  private async maybeYield(): Promise<void> {
    if (this.slice.due()) await this.slice.yield();
  }
}
