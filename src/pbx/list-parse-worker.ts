/**
 * The worker that parses a large list answer (list-reader.ts, list-worker.ts): the bridge's thread posts the
 * answer's bytes chunk by chunk, and gets back, per chunk, its complete elements as JSON texts of
 * `batchSize` elements each. The parser's garbage (tokens, partial strings, the objects it builds) lives and
 * dies in this worker's heap, so the bridge's collector never sees it.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { ListTokenizer } from './list-tokenizer.js';
import type { FromListWorker, ToListWorker } from './list-worker.js';

const port = parentPort;
if (port === null) throw new Error('list-parse-worker.ts runs as a worker thread');
const batchSize = Math.max(1, Number((workerData as { batchSize?: unknown } | null)?.batchSize) || 64);
const tokenizer = new ListTokenizer();

// On Linux the nice value is per thread: with the CPUs short, this parse gives way to the bridge's event loop
// (which it feeds anyway) rather than taking its turn from it.
try {
  setPriority(10);
} catch {
  // not allowed here: the same priority as the bridge
}

/** The complete elements as JSON texts of batchSize each; with `all`, the last shorter one too. */
function batches(all: boolean): string[] {
  const out: string[] = [];
  while (tokenizer.values.length >= batchSize || (all && tokenizer.values.length > 0)) out.push(JSON.stringify(tokenizer.take(batchSize)));
  return out;
}

port.on('message', (message: ToListWorker) => {
  let reply: FromListWorker;
  if (message.type === 'chunk') {
    if (!tokenizer.stopped) tokenizer.write(tokenizer.mend(message.bytes));
    reply = { type: 'chunk', batches: batches(false), failed: tokenizer.failed, odd: tokenizer.odd };
  } else {
    tokenizer.end();
    reply = { type: 'end', batches: batches(true), failed: tokenizer.failed, odd: tokenizer.odd, complete: tokenizer.complete, envelope: tokenizer.envelope };
  }
  port.postMessage(reply);
});
