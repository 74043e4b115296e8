/**
 * The one way tests capture log lines: a destination for `createLogger` (like pino's own test `sink()`), with
 * the lines kept as written and parsed into objects, so tests assert on fields, and can check that no secret
 * reaches any line.
 */
import { Writable } from 'node:stream';

export type LogRecord = Record<string, unknown>;

export class LogCapture {
  /** Every line written, as written (pino writes one JSON object per line). */
  readonly lines: string[] = [];
  /** Pass this to `createLogger(level, stream)`. */
  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      this.lines.push(...String(chunk).split('\n').filter((l) => l.trim() !== ''));
      done();
    },
  });

  /** The lines parsed into objects (`level`, `msg`, and the logged fields). */
  parsed(): LogRecord[] {
    return this.lines.map((l) => JSON.parse(l) as LogRecord);
  }

  /** Everything written, for "this secret appears nowhere" checks. */
  text(): string {
    return this.lines.join('\n');
  }
}
