/**
 * Reading a large list answer (`{"status": "SUCCESS", …, "data": [ {…}, {…}, … ]}`, ~30 MB for 100,000
 * contacts) without blocking the event loop: one `JSON.parse` of the whole text takes most of a second,
 * and even joining the body's chunks into one 30 MB buffer or string takes tens of ms.
 *
 * 1. While the body streams in, `ListBodyScanner` walks its chunks (kept as received, never joined) and
 *    tracks structure only (depth, strings with escapes): it finds the top-level `data` array and the byte
 *    range of each of its elements. JSON's structural characters are ASCII and UTF-8 never uses bytes
 *    below 0x80 inside a multi-byte character, so scanning bytes is safe.
 * 2. The rest of the top-level object (`data` replaced by `null`) is small: it is parsed as before to read
 *    the status.
 * 3. `parseElementsSliced` parses the elements a few hundred at a time (one `JSON.parse` per group, each
 *    element on its own only when its group fails, e.g. for a trailing comma), yielding between
 *    time-boxed steps.
 *
 * The scanner does not validate JSON: the envelope and every element go through `JSON.parse`, and any
 * shape it does not expect makes it give up (null / false), so that the caller parses the whole text
 * instead, exactly as for a small answer.
 */

export interface SliceOptions {
  /** Work done between two yields to the event loop, in ms. Default 5. */
  sliceMs?: number;
  /**
   * parseElementsSliced: let go of the bytes of elements already handed to onValues, so a large body's
   * memory is freed while the rest is parsed (the bytes cannot be read again afterwards).
   */
  releaseParsed?: boolean;
}

export interface ListBodyLayout {
  /** The top-level object's text with the `data` array replaced by `null` (for the status fields). */
  envelope: string;
  /** Byte offsets of the `data` array's elements: element i is bytes [starts[i], ends[i]). */
  starts: number[];
  ends: number[];
}

const DEFAULT_SLICE_MS = 5;
/** Bytes scanned between two looks at the clock. */
const SCAN_STEP_BYTES = 64 * 1024;
/** Elements per `JSON.parse`. */
const PARSE_GROUP = 256;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const BOM = [0xef, 0xbb, 0xbf];

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function toBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

const EMPTY_CHUNK = Buffer.alloc(0);

/** A body as the chunks it arrived in (not joined), addressed by byte offset. */
export class ByteChunks {
  private readonly chunks: Buffer[] = [];
  /** offsets[i]: the byte offset of chunks[i]. */
  private readonly offsets: number[] = [];
  private total = 0;
  /** Chunks before this index were let go (releaseBefore). */
  private released = 0;

  static of(bytes: Uint8Array): ByteChunks {
    const out = new ByteChunks();
    out.push(bytes);
    return out;
  }

  get length(): number {
    return this.total;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(toBuffer(chunk));
    this.offsets.push(this.total);
    this.total += chunk.length;
  }

  /** The chunk holding byte `offset`, found from `hint` (an index at or before it) onwards. */
  chunkIndexAt(offset: number, hint = 0): number {
    let lo = hint;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.offsets[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  chunk(index: number): { bytes: Buffer; offset: number } {
    return { bytes: this.chunks[index] as Buffer, offset: this.offsets[index] as number };
  }

  /** UTF-8 text of bytes [start, end) (invalid sequences become U+FFFD, as in undici's `body.text()`). */
  decode(start: number, end: number): string {
    if (end <= start) return '';
    const first = this.chunkIndexAt(start);
    const firstChunk = this.chunks[first] as Buffer;
    const firstOffset = this.offsets[first] as number;
    if (end <= firstOffset + firstChunk.length) return firstChunk.toString('utf8', start - firstOffset, end - firstOffset);
    // Spans chunks: join just these bytes, so that a character split between chunks decodes whole.
    const parts: Buffer[] = [firstChunk.subarray(start - firstOffset)];
    for (let i = first + 1; i < this.chunks.length; i++) {
      const chunk = this.chunks[i] as Buffer;
      const offset = this.offsets[i] as number;
      if (offset >= end) break;
      parts.push(offset + chunk.length <= end ? chunk : chunk.subarray(0, end - offset));
    }
    return Buffer.concat(parts, end - start).toString('utf8');
  }

  /** Lets go of every chunk that ends at or before `offset` (nothing before it is read again). */
  releaseBefore(offset: number): void {
    for (let i = this.released; i < this.chunks.length; i++) {
      const chunk = this.chunks[i] as Buffer;
      if ((this.offsets[i] as number) + chunk.length > offset) break;
      this.chunks[i] = EMPTY_CHUNK;
      this.released = i + 1;
    }
  }

  /** All the bytes in one buffer (the whole-text path). */
  join(): Buffer {
    if (this.chunks.length === 1) return this.chunks[0] as Buffer;
    return Buffer.concat(this.chunks, this.total);
  }
}

const enum Phase {
  /** Before the top-level `{` (a BOM and whitespace allowed). */
  Start,
  Object,
  /** After the top-level `}`: only whitespace. */
  Done,
  Failed,
}

/** Where the top-level object's scan is (depth 1). */
const enum Top {
  /** After `{` or `,`: a key or `}`. */
  Key,
  /** After a key: `:`. */
  Colon,
  /** After `:`: the value's first byte. */
  ValueStart,
  /** Inside a value that is not the `data` array: until `,` or `}` at depth 1. */
  Value,
  /** After the `data` array's `]`: `,` or `}`. */
  AfterData,
}

/** `closingQuote` found no quote before `to`, and the last byte is not / is an escaping backslash. */
const ENDS_PLAIN = -1;
const ENDS_ESCAPED = -2;

/**
 * The index of the quote that ends the string whose content goes on at `from` (not just after a
 * backslash); ENDS_PLAIN / ENDS_ESCAPED when the string does not end before `to`. Kept small: this loop
 * is nearly all of the scan.
 */
function closingQuote(buf: Uint8Array, from: number, to: number): number {
  let i = from;
  while (i < to) {
    const d = buf[i] as number;
    if (d === QUOTE) return i;
    i += d === BACKSLASH ? 2 : 1;
  }
  return i > to ? ENDS_ESCAPED : ENDS_PLAIN;
}

/**
 * Finds the top-level `data` array of a JSON object and its elements' byte ranges, over a body that may
 * still be arriving: `scan` reads what was pushed to `bytes` since, resuming where it stopped (also in
 * the middle of a string). `finish` gives the layout, or null when the body is not an object with a `data`
 * array (missing, null, an object…) or its structure is not as expected.
 *
 * With several `data` keys the last one counts, as with `JSON.parse`. A trailing comma after the last
 * element (`[{…},{…},]`) is accepted, as the manual's examples carry them.
 */
export class ListBodyScanner {
  private phase = Phase.Start;
  private pos = 0;
  private chunkIndex = 0;
  private bomMatched = 0;
  private depth = 0;
  private top = Top.Key;
  private keyIsData = false;
  private inString = false;
  private escaped = false;
  private stringIsKey = false;
  private stringStart = -1;
  private inData = false;
  private elementStart = -1;
  private elementEnd = -1;
  private starts: number[] = [];
  private ends: number[] = [];
  private dataValueStart = -1;
  private found: { valueStart: number; valueEnd: number; starts: number[]; ends: number[] } | null = null;

  constructor(private readonly bytes: ByteChunks) {}

  /** True when there is pushed data not yet scanned (and the scanner has not given up). */
  get pending(): boolean {
    return this.phase !== Phase.Failed && this.pos < this.bytes.length;
  }

  /** Scans at most `maxBytes` of what was pushed and not yet scanned. */
  scan(maxBytes = Number.POSITIVE_INFINITY): void {
    const stop = Math.min(this.bytes.length, this.pos + maxBytes);
    while (this.phase !== Phase.Failed && this.pos < stop) {
      this.chunkIndex = this.bytes.chunkIndexAt(this.pos, this.chunkIndex);
      const { bytes, offset } = this.bytes.chunk(this.chunkIndex);
      const end = Math.min(bytes.length, stop - offset);
      this.scanChunk(bytes, offset, this.pos - offset, end);
      if ((this.phase as Phase) === Phase.Failed) return;
      this.pos = offset + end;
    }
  }

  /**
   * The layout once the whole body was pushed and scanned; null when this is not a body it can read.
   * `prefix`: the text before the data array as prefixBefore gave it, when those bytes were let go since.
   */
  finish(prefix?: string): ListBodyLayout | null {
    this.scan();
    if (this.phase !== Phase.Done || this.found === null) return null;
    const bodyStart = this.bomMatched;
    const { valueStart, valueEnd, starts, ends } = this.found;
    const envelope = `${prefix ?? this.bytes.decode(bodyStart, valueStart)}null${this.bytes.decode(valueEnd, this.bytes.length)}`;
    return { envelope, starts, ends };
  }

  /**
   * For readers that parse while the body arrives: where the latest data array starts (-1: none yet) and
   * its elements complete so far (the arrays grow as scanning goes on; a new data array gets new ones).
   */
  progress(): { dataStart: number; starts: readonly number[]; ends: readonly number[] } {
    return { dataStart: this.dataValueStart, starts: this.starts, ends: this.ends };
  }

  /** The body's text before `dataStart`, the BOM left out (finish's envelope prefix). */
  prefixBefore(dataStart: number): string {
    return this.bytes.decode(this.bomMatched, dataStart);
  }

  private fail(): void {
    this.phase = Phase.Failed;
  }

  private isDataKey(start: number, end: number): boolean {
    // [start, end) includes the quotes.
    const raw = this.bytes.decode(start, end);
    if (raw === '"data"') return true;
    if (!raw.includes('\\')) return false;
    try {
      return JSON.parse(raw) === 'data'; // an escaped spelling ("d\u0061ta") is the same key for JSON.parse
    } catch {
      return false;
    }
  }

  /** Scans buf[from, to), whose byte 0 is at `base` in the body. */
  private scanChunk(buf: Buffer, base: number, from: number, to: number): void {
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    let i = from;
    try {
      while (i < to) {
        if (inString) {
          if (escaped) {
            escaped = false;
            i++;
            if (i >= to) break;
          }
          const close = closingQuote(buf, i, to);
          if (close < 0) {
            // The string goes on in the next chunk: was its last byte an unescaped backslash?
            escaped = close === ENDS_ESCAPED;
            i = to;
            break;
          }
          i = close;
          inString = false;
          const g = base + i;
          i++;
          if (depth === 1) {
            if (this.stringIsKey) {
              this.keyIsData = this.isDataKey(this.stringStart, g + 1);
              this.top = Top.Colon;
            }
          } else if (this.inData && depth === 2) {
            this.elementEnd = g + 1;
          }
          continue;
        }

        const c = buf[i] as number;
        const g = base + i;
        i++;
        if (isWhitespace(c)) continue;

        if (c === QUOTE) {
          inString = true;
          this.stringIsKey = false;
          if (depth === 1) {
            if (this.phase !== Phase.Object) return this.fail();
            if (this.top === Top.Key) {
              this.stringIsKey = true;
              this.stringStart = g;
            } else if (this.top === Top.ValueStart) {
              if (this.keyIsData) return this.fail(); // data that is not an array: the whole text decides
              this.top = Top.Value;
            } else if (this.top !== Top.Value) {
              return this.fail();
            }
          } else if (this.inData && depth === 2) {
            if (this.elementStart !== -1) return this.fail(); // two values without a comma
            this.elementStart = g;
          } else if (depth === 0) {
            return this.fail();
          }
          continue;
        }

        if (depth === 0) {
          if (this.phase === Phase.Start && c === OPEN_BRACE) {
            if (this.bomMatched !== 0 && this.bomMatched !== BOM.length) return this.fail();
            this.phase = Phase.Object;
            this.top = Top.Key;
            depth = 1;
            continue;
          }
          if (this.phase === Phase.Start && g === this.bomMatched && g < BOM.length && c === BOM[g]) {
            this.bomMatched++;
            continue;
          }
          return this.fail(); // anything else before `{`, or after the closing `}`
        }

        if (depth === 1) {
          switch (this.top) {
            case Top.Key:
              if (c !== CLOSE_BRACE) return this.fail();
              depth = 0;
              break;
            case Top.Colon:
              if (c !== COLON) return this.fail();
              this.top = Top.ValueStart;
              break;
            case Top.ValueStart:
              if (this.keyIsData) {
                if (c !== OPEN_BRACKET) return this.fail(); // data that is not an array: the whole text decides
                this.inData = true;
                this.dataValueStart = g;
                this.starts = [];
                this.ends = [];
                this.elementStart = -1;
                this.elementEnd = -1;
                depth = 2;
                break;
              }
              if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || c === COLON) return this.fail();
              this.top = Top.Value;
              if (c === OPEN_BRACE || c === OPEN_BRACKET) depth = 2;
              break;
            case Top.Value:
            case Top.AfterData:
              if (c === COMMA) this.top = Top.Key;
              else if (c === CLOSE_BRACE) depth = 0;
              else if (this.top === Top.AfterData || c === CLOSE_BRACKET || c === COLON) return this.fail();
              else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth = 2;
              break;
          }
          if (depth === 0) this.phase = Phase.Done;
          continue;
        }

        if (this.inData && depth === 2) {
          // Directly inside the data array: element boundaries.
          if (c === COMMA || c === CLOSE_BRACKET) {
            if (this.elementStart !== -1) {
              this.starts.push(this.elementStart);
              this.ends.push(this.elementEnd);
            } else if (c === COMMA) {
              return this.fail(); // an empty element; before `]` it is `[]` or a trailing comma
            }
            this.elementStart = -1;
            this.elementEnd = -1;
            if (c === CLOSE_BRACKET) {
              this.inData = false;
              this.found = { valueStart: this.dataValueStart, valueEnd: g + 1, starts: this.starts, ends: this.ends };
              this.top = Top.AfterData;
              depth = 1;
            }
            continue;
          }
          if (c === CLOSE_BRACE || c === COLON) return this.fail();
          if (this.elementStart === -1) this.elementStart = g;
          else if (this.elementEnd !== g) return this.fail(); // two values without a comma
          if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
          this.elementEnd = g + 1;
          continue;
        }

        // Deeper: only brackets matter (strings are skipped above).
        if (c === OPEN_BRACE || c === OPEN_BRACKET) {
          depth++;
        } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
          depth--;
          if (this.inData && depth === 2) this.elementEnd = g + 1;
        }
      }
    } finally {
      this.depth = depth;
      this.inString = inString;
      this.escaped = escaped;
    }
  }
}

/**
 * Reads a body from `chunks`, scanning it as it arrives and yielding to the event loop every `sliceMs`
 * of scanning. Errors of the stream are thrown as they are.
 */
export async function readAndScan(
  chunks: AsyncIterable<Uint8Array>,
  opts: SliceOptions = {},
): Promise<{ bytes: ByteChunks; scanner: ListBodyScanner }> {
  const sliceMs = opts.sliceMs ?? DEFAULT_SLICE_MS;
  const bytes = new ByteChunks();
  const scanner = new ListBodyScanner(bytes);
  let sliceStart = performance.now();
  for await (const chunk of chunks) {
    bytes.push(chunk);
    while (scanner.pending) {
      scanner.scan(SCAN_STEP_BYTES);
      if (performance.now() - sliceStart >= sliceMs) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }
  }
  return { bytes, scanner };
}

/**
 * Drops every comma that directly precedes (whitespace aside) a `}` or `]`, outside strings: the manual's
 * examples carry such trailing commas (`"Office No": "…",}`).
 */
export function stripTrailingCommas(text: string): string {
  let out = '';
  let copiedUpTo = 0;
  const len = text.length;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      for (i++; i < len; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
      continue;
    }
    if (c !== COMMA) continue;
    let j = i + 1;
    while (j < len && isWhitespace(text.charCodeAt(j))) j++;
    const next = text.charCodeAt(j);
    if (next === CLOSE_BRACE || next === CLOSE_BRACKET) {
      out += text.slice(copiedUpTo, i);
      copiedUpTo = i + 1;
    }
  }
  return copiedUpTo === 0 ? text : out + text.slice(copiedUpTo);
}

/** JSON.parse, then once more without trailing commas. */
function parseLenient(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    try {
      return { ok: true, value: JSON.parse(stripTrailingCommas(text)) };
    } catch {
      return { ok: false };
    }
  }
}

/** Elements [from, to) of a data array, parsed in one go (or one by one, leniently); null when one cannot be. */
function parseGroup(bytes: ByteChunks, starts: readonly number[], ends: readonly number[], from: number, to: number): unknown[] | null {
  try {
    // The bytes from the group's first element to its last are `el , el , … el`.
    const group: unknown = JSON.parse(`[${bytes.decode(starts[from] as number, ends[to - 1] as number)}]`);
    if (Array.isArray(group) && group.length === to - from) return group;
  } catch {
    // read one by one below
  }
  const values: unknown[] = [];
  for (let k = from; k < to; k++) {
    const parsed = parseLenient(bytes.decode(starts[k] as number, ends[k] as number));
    if (!parsed.ok) return null;
    values.push(parsed.value);
  }
  return values;
}

/**
 * Parses the elements the scanner found, a group at a time, and hands each group's values to `onValues`
 * in order; yields to the event loop every `sliceMs`. False when an element is not JSON even without
 * trailing commas (nothing more is handed over then).
 */
export async function parseElementsSliced(
  bytes: ByteChunks,
  layout: Pick<ListBodyLayout, 'starts' | 'ends'>,
  onValues: (values: unknown[]) => void | Promise<void>,
  opts: SliceOptions = {},
): Promise<boolean> {
  const sliceMs = opts.sliceMs ?? DEFAULT_SLICE_MS;
  const { starts, ends } = layout;
  const count = Math.min(starts.length, ends.length);
  let sliceStart = performance.now();
  for (let from = 0; from < count; from += PARSE_GROUP) {
    const to = Math.min(count, from + PARSE_GROUP);
    const values = parseGroup(bytes, starts, ends, from, to);
    if (values === null) return false;
    await onValues(values);
    if (opts.releaseParsed === true && to < count) bytes.releaseBefore(starts[to] as number);
    if (to < count && performance.now() - sliceStart >= sliceMs) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  }
  return true;
}

export interface StreamedList {
  bytes: ByteChunks;
  /** The layout when the body is a list body that was read whole (null otherwise). */
  layout: ListBodyLayout | null;
  /** Something went to onValues: the bytes of what was handed are gone, the whole text cannot be read. */
  handed: boolean;
  /** Every element was handed over, in order, once. */
  complete: boolean;
  /** What onValues threw, if it did (reading stopped there). */
  error: unknown;
}

/**
 * readAndScan that also parses the data array while the body arrives, once `minBytes` have come: elements
 * go to onValues PARSE_GROUP at a time as soon as they are complete, and their bytes are let go, so a large
 * body is never held whole. Not `complete` (and the caller must not read the text again when `handed`)
 * when the body turns out not to be a list body, an element cannot be parsed, a second top-level `data`
 * array follows the one handed over (JSON.parse would take the last), or onValues throws.
 */
export async function readScanAndParse(
  chunks: AsyncIterable<Uint8Array>,
  onValues: (values: unknown[]) => Promise<void>,
  opts: SliceOptions & { minBytes?: number } = {},
): Promise<StreamedList> {
  const sliceMs = opts.sliceMs ?? DEFAULT_SLICE_MS;
  const minBytes = opts.minBytes ?? 0;
  const bytes = new ByteChunks();
  const scanner = new ListBodyScanner(bytes);
  let sliceStart = performance.now();
  let dataStart = -1;
  let prefix: string | undefined;
  let parsed = 0;
  let handed = false;
  let failed = false;
  let error: unknown = null;

  const handOver = async (final: boolean): Promise<void> => {
    const p = scanner.progress();
    if (p.dataStart !== dataStart) {
      if (handed) {
        failed = true;
        return;
      }
      dataStart = p.dataStart;
      parsed = 0;
      prefix = dataStart >= 0 ? scanner.prefixBefore(dataStart) : undefined;
    }
    if (dataStart < 0 || bytes.length < minBytes) return;
    while (!failed) {
      const available = p.starts.length - parsed;
      const n = final ? Math.min(available, PARSE_GROUP) : available >= PARSE_GROUP ? PARSE_GROUP : 0;
      if (n === 0) return;
      const values = parseGroup(bytes, p.starts, p.ends, parsed, parsed + n);
      if (values === null) {
        failed = true;
        return;
      }
      handed = true;
      try {
        await onValues(values);
      } catch (err) {
        error = err;
        failed = true;
        return;
      }
      parsed += n;
      bytes.releaseBefore(parsed < p.starts.length ? (p.starts[parsed] as number) : (p.ends[parsed - 1] as number));
      if (performance.now() - sliceStart >= sliceMs) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }
  };

  for await (const chunk of chunks) {
    bytes.push(chunk);
    while (scanner.pending) {
      scanner.scan(SCAN_STEP_BYTES);
      if (performance.now() - sliceStart >= sliceMs) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }
    await handOver(false);
    if (failed && handed) break;
  }
  const layout = failed && handed ? null : scanner.finish(prefix);
  if (layout !== null && (handed || bytes.length >= minBytes)) await handOver(true);
  const complete = layout !== null && !failed && (handed || layout.starts.length === 0) && parsed === layout.starts.length;
  return { bytes, layout: handed ? layout : failed ? null : layout, handed, complete, error };
}
