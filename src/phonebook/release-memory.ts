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
import { MessageChannel } from 'node:worker_threads';

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
