/**
 * The one way tests capture log lines: a destination for `createLogger` (like pino's own test `sink()`), with
 * the lines kept as written and parsed into objects, so tests assert on fields, and can check that no secret
 * reaches any line.
 */
import { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export type LogRecord = Record<string, unknown>;

export class LogCapture {
  /** Every line written, as written (pino writes one JSON object per line). */
  readonly lines: string[] = [];
  /** A line cut across chunks (a child process's stdout piped in); pino in-process writes whole lines. */
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');
  /** Pass this to `createLogger(level, stream)`, or pipe a child process's stdout into it. */
  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      const parts = (this.partial + this.decoder.write(chunk)).split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts.filter((l) => l.trim() !== ''));
      done();
    },
    final: (done) => {
      const rest = this.partial + this.decoder.end();
      if (rest.trim() !== '') this.lines.push(rest);
      this.partial = '';
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
