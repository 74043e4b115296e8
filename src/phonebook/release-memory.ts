/** Giving a replaced phonebook index's memory back to the OS (PhonebookService calls it after a swap). */
const gc = (globalThis as { gc?: (options?: { type?: 'major' | 'minor' }) => void }).gc;

/**
 * The old index (~50 MB for 100,000 contacts, most of it buffers outside the JS heap) is garbage once a new
 * one is in, but V8 collects it only when it next needs memory, which an idle bridge may not for a long
 * time. With --expose-gc (the image's NODE_OPTIONS): one full collection, then a young-generation one that
 * finishes freeing the dead buffers (V8 releases them on the collection after the one that found them);
 * docs/phonebook.md has the figures. A young collection goes first, and the full one on a later turn: forced
 * right after the swap, next to the refresh's last slice and with the young generation still full of parsed
 * objects, the full one paused the loop for 30-70 ms (1,000 agent sockets).
 */
export function collectOldIndex(): void {
  if (!gc) return;
  const collect = gc;
  setImmediate(() => {
    collect({ type: 'minor' });
    setTimeout(() => {
      collect();
      setTimeout(() => collect({ type: 'minor' }), 100).unref();
    }, 50).unref();
  }).unref();
}
