/**
 * Giving a replaced phonebook index's memory back at once, without a garbage collection.
 *
 * The old index (~45 MB for 100,000 contacts, nearly all of it array buffers outside the JS heap: the
 * compact store's 1 MiB blocks and the typed arrays of the number maps) is garbage once a new one is in,
 * but V8 frees array buffers only when a full collection finds their objects dead, which an idle bridge may
 * not run for minutes, and a forced one pauses the event loop for 20-80 ms (1,000 agent sockets).
 * Transferring a buffer detaches it from its objects and moves its memory into the message; a message
 * posted on a channel whose ports are closed before it is received is dropped, and its memory is freed
 * then, on the next turn of the event loop (~2 ms for 300 buffers). docs/phonebook.md has the figures.
 */
import { setFlagsFromString } from 'node:v8';
import { MessageChannel } from 'node:worker_threads';

const GROWING_FLAG = '--heap-growing-percent';
/** How long the old generation stays tight after a build ends: the collections that free its garbage. */
const TIGHT_AFTER_MS = 30_000;
/** A build that never ends (it failed) loosens it after this at the latest. */
const TIGHT_AT_MOST_MS = 10 * 60_000;
let loosenTimer: NodeJS.Timeout | null = null;

/**
 * While a phonebook build runs and for 30 s after it, lets V8's old generation grow only 30 % past what its
 * last full collection left live (V8's default: up to 4x), so what a refresh or a snapshot reload promotes
 * (tens of MB of short-lived objects) is collected soon, incrementally, instead of staying committed: in
 * Redis mode an idle bridge held 212-238 MB after two refreshes without it and 158-163 MB with it. Only for
 * that window: kept on all the time, the frequent full collections it brings cut the callback path's
 * sustained rate to a third (docs/performance.md). V8 reads the flag at each collection; Node refuses it in
 * NODE_OPTIONS, so the bridge sets it here. One given on the command line wins, and is never changed.
 */
export function tightenOldGeneration(): void {
  if (fixedOnCommandLine()) return;
  if (loosenTimer === null) setFlagsFromString(`${GROWING_FLAG}=30`);
  loosenAfter(TIGHT_AT_MOST_MS);
}

/** The build is over: back to V8's own growing once its garbage is collected. */
export function loosenOldGenerationSoon(): void {
  if (loosenTimer !== null) loosenAfter(TIGHT_AFTER_MS);
}

function loosenAfter(ms: number): void {
  if (loosenTimer !== null) clearTimeout(loosenTimer);
  loosenTimer = setTimeout(() => {
    loosenTimer = null;
    setFlagsFromString(`${GROWING_FLAG}=0`); // 0: V8's default (its own growing factor)
  }, ms);
  loosenTimer.unref();
}

function fixedOnCommandLine(): boolean {
  return process.execArgv.some((a) => a.startsWith(GROWING_FLAG));
}

/** Frees the buffers' memory now. Every view on them reads as empty afterwards: only for what nothing uses any more. */
export function freeBuffers(buffers: readonly ArrayBufferLike[]): void {
  const distinct = [...new Set(buffers)].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer && b.byteLength > 0);
  if (distinct.length === 0) return;
  const { port1, port2 } = new MessageChannel();
  try {
    port1.postMessage(null, distinct);
  } catch {
    // One that cannot be transferred (none of the index's are): all are left to the collector, as before.
  } finally {
    port1.close();
    port2.close();
  }
}
