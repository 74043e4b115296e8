/**
 * The one lenient reading of PBX answers. The manual's own sample answers are not quite JSON, and PBX
 * builds answer the way the manual shows, so two slips are mended before parsing (everything else must be
 * JSON):
 *
 * 1. **Trailing commas**: a comma directly before `}` or `]` (whitespace between allowed) is dropped
 *    (`"Office No": "9879973234",}` in the getPhoneNumber sample).
 * 2. **A comma missing at a line end**: where a value ends, a line break follows, and the next line starts
 *    another value or key, a comma is put in (`"message": "Extension Details."⏎"count": 3`, and
 *    `}⏎{` between list entries, in the getExtension sample). On one line (`{"a":1} {"b":2}`) nothing is
 *    mended: that is not a slip the manual makes, and the answer stays unreadable.
 *
 * Nothing inside strings is touched. `JsonRepair` works on a byte stream as it arrives (JSON's structural
 * characters are ASCII, and UTF-8 never uses bytes below 0x80 inside a multi-byte character, so scanning
 * bytes is safe); `parseLenientJson` is the same for a whole text: strict `JSON.parse` first, the mended
 * text only when that fails.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const LF = 0x0a;
const CR = 0x0d;
const COMMA_BYTES = Buffer.from(',');
const EMPTY = Buffer.alloc(0);

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === LF || c === CR || c === 0x09;
}

/** The last byte of a value (outside strings): a closing bracket, or the end of a number or literal. */
function endsValue(c: number): boolean {
  return c === CLOSE_BRACE || c === CLOSE_BRACKET || (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || c === 0x2e;
}

/** The first byte of a value or key: `"`, `{`, `[`, a digit, `-`, or a literal's `t`/`f`/`n`. */
function startsValue(c: number): boolean {
  return c === QUOTE || c === 0x7b || c === 0x5b || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x74 || c === 0x66 || c === 0x6e;
}

function toBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * Mends a JSON byte stream chunk by chunk (the rules above). A comma is held back until the next
 * significant byte shows whether it is a trailing one, so `push` may give back less than it got; `end`
 * gives the rest. Valid JSON comes out byte for byte as it went in (a held-back comma only moves after
 * the whitespace that followed it).
 */
export class JsonRepair {
  private inString = false;
  private escaped = false;
  /** The last significant byte outside strings ended a value (a string's closing quote counts). */
  private afterValue = false;
  private lineBreak = false;
  /** A held-back comma and the whitespace after it, from the previous chunk. */
  private carry: Buffer = EMPTY;

  push(chunk: Uint8Array): Buffer {
    const buf = this.carry.length === 0 ? toBuffer(chunk) : Buffer.concat([this.carry, chunk]);
    this.carry = EMPTY;
    /** Index of the held-back comma in buf, -1 when none. */
    let pending = -1;
    const drops: number[] = [];
    const inserts: number[] = [];
    let inString = this.inString;
    let escaped = this.escaped;
    let afterValue = this.afterValue;
    let lineBreak = this.lineBreak;
    const len = buf.length;
    for (let i = 0; i < len; i++) {
      const c = buf[i] as number;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) {
          inString = false;
          afterValue = true;
          lineBreak = false;
        }
        continue;
      }
      if (isWhitespace(c)) {
        if (c === LF || c === CR) lineBreak = true;
        continue;
      }
      if (c === COMMA) {
        // Only a comma after a value can be a trailing one: `[,]` and `,,` stay unreadable.
        if (afterValue) pending = i;
        afterValue = false;
        lineBreak = false;
        continue;
      }
      if (pending !== -1) {
        if (c === CLOSE_BRACE || c === CLOSE_BRACKET) drops.push(pending);
        pending = -1;
      } else if (afterValue && lineBreak && startsValue(c)) {
        inserts.push(i);
      }
      if (c === QUOTE) inString = true;
      afterValue = endsValue(c);
      lineBreak = false;
    }
    this.inString = inString;
    this.escaped = escaped;
    this.afterValue = afterValue;
    this.lineBreak = lineBreak;
    let cut = len;
    if (pending !== -1) {
      // Copied: the chunk itself is let go. The carry is scanned again with the next chunk, from the state
      // just before its comma: after a value, outside strings.
      this.carry = Buffer.from(buf.subarray(pending));
      cut = pending;
      this.inString = false;
      this.escaped = false;
      this.afterValue = true;
      this.lineBreak = false;
    }
    return splice(buf, cut, drops, inserts);
  }

  /** What is still held back (a comma the stream ended on: the text stays unreadable, as it was). */
  end(): Buffer {
    const rest = this.carry;
    this.carry = EMPTY;
    return rest;
  }
}

/** buf[0, cut) without the bytes at `drops` and with a comma before each index in `inserts` (both ascending). */
function splice(buf: Buffer, cut: number, drops: number[], inserts: number[]): Buffer {
  if (drops.length === 0 && inserts.length === 0) return cut === buf.length ? buf : buf.subarray(0, cut);
  const parts: Buffer[] = [];
  let from = 0;
  let d = 0;
  let n = 0;
  while (d < drops.length || n < inserts.length) {
    const drop = d < drops.length ? (drops[d] as number) : Number.POSITIVE_INFINITY;
    const insert = n < inserts.length ? (inserts[n] as number) : Number.POSITIVE_INFINITY;
    if (drop < insert) {
      parts.push(buf.subarray(from, drop));
      from = drop + 1;
      d++;
    } else {
      parts.push(buf.subarray(from, insert), COMMA_BYTES);
      from = insert;
      n++;
    }
  }
  parts.push(buf.subarray(from, cut));
  return Buffer.concat(parts);
}

/** The whole text mended (the rules above). */
export function repairJsonText(text: string): string {
  const repair = new JsonRepair();
  const head = repair.push(Buffer.from(text, 'utf8'));
  return Buffer.concat([head, repair.end()]).toString('utf8');
}

/** JSON.parse of the text (a BOM and outer whitespace aside); when that fails, of the mended text. */
export function parseLenientJson(text: string): { ok: true; value: unknown } | { ok: false } {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed === '') return { ok: false };
  try {
    return { ok: true, value: JSON.parse(trimmed) };
  } catch {
    try {
      return { ok: true, value: JSON.parse(repairJsonText(trimmed)) };
    } catch {
      return { ok: false };
    }
  }
}
