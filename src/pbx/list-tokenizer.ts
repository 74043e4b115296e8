/**
 * The streaming parse of one list answer (`{"status": "SUCCESS", …, "data": [ {…}, … ]}`), fed bytes as they
 * arrive: the lenient mending (`lenient-json.ts`) then `@streamparser/json`, which gives each element of
 * the top-level `data` array as soon as it is complete and forgets it then (`keepStack: false`); the
 * top-level fields an answer is read by (`ANSWER_FIELDS`) are kept as they come. The same code runs in the
 * bridge's thread for a small answer and in a worker for a large one (list-reader.ts).
 */
import { JSONParser, TokenType } from '@streamparser/json';
import { ANSWER_FIELDS, type JsonObject } from './answer.js';
import { JsonRepair } from './lenient-json.js';

export class ListTokenizer {
  readonly envelope: JsonObject = {};
  /** Elements complete and not taken yet, in order. */
  values: unknown[] = [];
  /** Not JSON (after the mending), or cut short (known at end()). */
  failed = false;
  /** Not a plain list: `data` a keyed object, or a second `data` array. */
  odd = false;
  private data: unknown[] | null = null;
  private readonly repair = new JsonRepair();
  private readonly parser = new JSONParser({ paths: ['$.data.*', ...ANSWER_FIELDS.map((f) => `$.${f}`)], keepStack: false });

  constructor() {
    this.parser.onValue = ({ value, key, parent, stack }) => {
      if (stack.length === 1) {
        if (typeof key === 'string') this.envelope[key] = value;
        return;
      }
      if (!Array.isArray(parent)) this.odd = true;
      else if (this.data === null) this.data = parent;
      else if (parent !== this.data) this.odd = true;
      if (!this.odd) this.values.push(value);
    };
    // A second top-level `data` key (an empty array gives no element): JSON.parse would take the last one.
    let depth = 0;
    let keyNext = false;
    let dataKeys = 0;
    this.parser.onToken = ({ token, value }) => {
      if (token === TokenType.LEFT_BRACE || token === TokenType.LEFT_BRACKET) {
        depth++;
        keyNext = depth === 1 && token === TokenType.LEFT_BRACE;
      } else if (token === TokenType.RIGHT_BRACE || token === TokenType.RIGHT_BRACKET) {
        depth--;
      } else if (depth === 1) {
        if (token === TokenType.COMMA) keyNext = true;
        else if (keyNext && token === TokenType.STRING) {
          keyNext = false;
          if (value === 'data' && ++dataKeys > 1) this.odd = true;
        }
      }
    };
  }

  /** Nothing more can be handed over: failed or odd. */
  get stopped(): boolean {
    return this.failed || this.odd;
  }

  /** One plain list, read to its end (valid after end()). */
  get complete(): boolean {
    return !this.failed && !this.odd && this.data !== null;
  }

  /** The chunk mended, to be written (in one go or in steps). */
  mend(chunk: Uint8Array): Buffer {
    return this.repair.push(chunk);
  }

  write(bytes: Uint8Array): void {
    if (this.stopped) return;
    try {
      this.parser.write(bytes);
    } catch {
      this.failed = true;
    }
  }

  /** The end of the answer: what the mending held back, and whether the JSON was complete. */
  end(): void {
    if (this.stopped) return;
    this.write(this.repair.end());
    if (!this.failed && !this.parser.isEnded) this.failed = true; // cut short
  }

  /** The first `n` elements not taken yet. */
  take(n: number): unknown[] {
    return this.values.splice(0, n);
  }
}
