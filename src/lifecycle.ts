/**
 * What a bridge started, closed in the reverse order of starting: the HTTP server first, the stores last.
 * A part that fails to close is logged and the others still close.
 *
 * The close is bounded: a part still closing when the deadline comes (CLOSE_DEADLINE_MS: after the HTTP
 * server's own 8 s cut, before the process's 10 s shutdown deadline in main.ts) is abandoned and logged by
 * name, and the parts after it still get their close called, in order, within LAST_CHANCE_MS in all (most
 * drop their connections at once, synchronously, when Redis is down).
 */
import { withTimeout } from './timeouts.js';
import type { Logger } from './logger.js';

interface Closable {
  close(): void | Promise<void>;
}

/** How long closing every part may take, before the parts left are only given their last chance. */
export const CLOSE_DEADLINE_MS = 9000;
/** What the parts closed after the deadline get in all (each at most half of what is left). */
const LAST_CHANCE_MS = 500;

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
    const lastChanceUntil = until + LAST_CHANCE_MS;
    const abandoned: string[] = [];
    for (const { part, name } of [...this.parts].reverse()) {
      const now = Date.now();
      const waitMs = now < until ? until - now : Math.max(0, Math.floor((lastChanceUntil - now) / 2));
      const closed = Promise.resolve()
        .then(() => part.close())
        .catch((err: unknown) => this.logger.warn({ err, part: name }, 'error while closing'));
      // `closed` never rejects, so withTimeout rejects only when the part is still closing at waitMs.
      const done = await withTimeout(closed, waitMs, name).then(
        () => true,
        () => false,
      );
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
