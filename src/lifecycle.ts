/**
 * What a bridge started, closed in the reverse order of starting: the HTTP server first, the stores last.
 * A part that fails to close is logged and the others still close.
 *
 * The close is bounded: a part still closing when the deadline (CLOSE_DEADLINE_MS, under the process's 10 s
 * shutdown deadline in main.ts) comes is abandoned and logged by name, and the parts after it are still closed
 * in order, each given at least LAST_CHANCE_MS (most drop their connections at once when Redis is down).
 */
import type { Logger } from './logger.js';

interface Closable {
  close(): void | Promise<void>;
}

/** How long closing every part may take in all. */
export const CLOSE_DEADLINE_MS = 8000;
/** What each part still closing after the deadline gets. */
const LAST_CHANCE_MS = 250;

export interface LifecycleOptions {
  /** Default CLOSE_DEADLINE_MS. */
  deadlineMs?: number;
}

export class Lifecycle {
  private readonly parts: Array<{ part: Closable; name: string }> = [];
  private closing: Promise<void> | null = null;
  private readonly deadlineMs: number;

  constructor(
    private readonly logger: Logger,
    opts: LifecycleOptions = {},
  ) {
    this.deadlineMs = opts.deadlineMs ?? CLOSE_DEADLINE_MS;
  }

  /** Closes `part` with the others, before everything owned earlier; answers it. `name` is what the logs call it. */
  own<T extends Closable>(part: T, name?: string): T {
    this.parts.push({ part, name: name ?? partName(part, this.parts.length) });
    return part;
  }

  /** Closes every part once, newest first; later calls wait for the same close. */
  close(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    const until = Date.now() + this.deadlineMs;
    const abandoned: string[] = [];
    for (const { part, name } of [...this.parts].reverse()) {
      const waitMs = Math.max(LAST_CHANCE_MS, until - Date.now());
      let timer: NodeJS.Timeout | undefined;
      const closed = Promise.resolve()
        .then(() => part.close())
        .then(
          () => true,
          (err: unknown) => {
            this.logger.warn({ err, part: name }, 'error while closing');
            return true;
          },
        );
      const done = await Promise.race([closed, new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), waitMs)))]);
      clearTimeout(timer);
      if (!done) abandoned.push(name);
    }
    if (abandoned.length > 0) {
      this.logger.warn({ abandoned, deadlineMs: this.deadlineMs }, 'closed with parts abandoned: they did not close in time');
    }
  }
}

/** A class instance's class name; a plain object (most parts) by its place in the start order. */
function partName(part: Closable, index: number): string {
  const name = part.constructor.name;
  return name && name !== 'Object' ? name : `part ${index + 1}`;
}
