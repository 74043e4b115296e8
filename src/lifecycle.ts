/**
 * What a bridge started, closed in the reverse order of starting: the HTTP server first, the stores last.
 * A part that fails to close is logged and the others still close.
 */
import type { Logger } from './logger.js';

interface Closable {
  close(): void | Promise<void>;
}

export class Lifecycle {
  private readonly parts: Closable[] = [];
  private closing: Promise<void> | null = null;

  constructor(private readonly logger: Logger) {}

  /** Closes `part` with the others, before everything owned earlier; answers it. */
  own<T extends Closable>(part: T): T {
    this.parts.push(part);
    return part;
  }

  /** Closes every part once, newest first; later calls wait for the same close. */
  close(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    for (const part of [...this.parts].reverse()) {
      try {
        await part.close();
      } catch (err) {
        this.logger.warn({ err }, 'error while closing');
      }
    }
  }
}
