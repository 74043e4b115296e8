/**
 * The bridge's side of the list-parsing worker (list-parse-worker.ts): one worker per large answer, fed its
 * chunks in order, each answered in order. A worker that fails (it could not start, or it crashed) rejects
 * every answer still awaited; list-reader.ts then parses in its own thread if it still can.
 */
import { Worker } from 'node:worker_threads';
import type { JsonObject } from './answer.js';

export type ToListWorker = { type: 'chunk'; bytes: Uint8Array } | { type: 'end' };

export type FromListWorker =
  | { type: 'chunk'; batches: string[]; failed: boolean; odd: boolean }
  | { type: 'end'; batches: string[]; failed: boolean; odd: boolean; complete: boolean; envelope: JsonObject };

/**
 * Run from the sources (tests, benchmarks: this module is a .ts file), the worker loads tsx first;
 * built, it is plain JavaScript next to this file.
 */
function startWorker(batchSize: number): Worker {
  const fromSources = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSources ? './list-parse-worker.ts' : './list-parse-worker.js', import.meta.url);
  if (!fromSources) return new Worker(entry, { workerData: { batchSize } });
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData: { batchSize } });
}

export class ListWorker {
  private readonly worker: Worker;
  /** Answers that came and were not taken yet, in order. */
  private readonly replies: FromListWorker[] = [];
  private waiter: { resolve: (m: FromListWorker) => void; reject: (err: Error) => void } | null = null;
  private failure: Error | null = null;
  private posted = 0;
  private taken = 0;

  constructor(batchSize: number) {
    this.worker = startWorker(batchSize);
    this.worker.on('message', (m: FromListWorker) => {
      const w = this.waiter;
      this.waiter = null;
      if (w) w.resolve(m);
      else this.replies.push(m);
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the list parser worker exited (${code})`)));
  }

  /** Chunks (and the end) posted whose answer was not taken yet. */
  get inFlight(): number {
    return this.posted - this.taken;
  }

  /** Posts a copy of the chunk (the caller may keep the original). */
  write(chunk: Uint8Array): void {
    const bytes = new Uint8Array(chunk);
    this.send({ type: 'chunk', bytes }, [bytes.buffer]);
  }

  end(): void {
    this.send({ type: 'end' }, []);
  }

  /** The answer to the oldest chunk (or end) whose answer was not taken yet. */
  next(): Promise<FromListWorker> {
    this.taken++;
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  close(): void {
    this.failure ??= new Error('the list parser worker was closed');
    void this.worker.terminate();
  }

  private send(message: ToListWorker, transfer: ArrayBuffer[]): void {
    if (this.failure) return; // next() says why
    this.posted++;
    this.worker.postMessage(message, transfer);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(this.failure);
  }
}
