/**
 * Freeing a replaced index at once (src/phonebook/release-memory.ts, PhonebookIndex.release): its buffers
 * go back without a garbage collection, and the released index answers as an empty one rather than failing.
 */
import { describe, expect, it } from 'vitest';
import type { PhonebookContact } from '../../src/core/event.js';
import { PhonebookIndex } from '../../src/phonebook/index.js';
import { freeBuffers } from '../../src/phonebook/release-memory.js';
import { SnapshotStore } from '../../src/phonebook/snapshot-store.js';
import { MemoryKeyValueStore } from '../../src/store/memory.js';
import { eventually } from '../helpers/wait.js';

const arrayBuffersMb = (): number => process.memoryUsage().arrayBuffers / 1048576;

function contact(i: number): PhonebookContact {
  return {
    phonebookId: String(i),
    displayName: `Contact ${i} ${'x'.repeat(200)}`,
    firstName: 'First',
    lastName: String(i),
    email: '',
    extension: '',
    phoneNumber: `9${String(800000000 + i)}`,
    cellNumber: `7${String(800000000 + i)}`,
    phoneGroup: '1',
    customFields: {},
  };
}

describe('releasing memory without a collection', () => {
  it('freeBuffers gives the memory back on the next turn, and the views read as empty', async () => {
    const buffers = Array.from({ length: 40 }, () => Buffer.allocUnsafeSlow(1024 * 1024).fill(1));
    const before = arrayBuffersMb();
    freeBuffers(buffers.map((b) => b.buffer));
    expect(buffers[0]?.length).toBe(0);
    await eventually(() => arrayBuffersMb() <= before - 35, 5000, 'the 40 MB to be freed');
  });

  it('a released index frees its buffers, and afterwards finds nobody instead of failing', async () => {
    const index = await PhonebookIndex.build(Array.from({ length: 50_000 }, (_, i) => contact(i)), [], [], 'IN');
    expect(index.lookup('+919800000042').contact?.phonebookId).toBe('42');
    const before = arrayBuffersMb();
    index.release();
    await eventually(() => arrayBuffersMb() <= before - 10, 5000, 'the index buffers to be freed');
    expect(index.size).toBe(0);
    expect(index.lookup('+919800000043')).toMatchObject({ contact: null, otherContacts: [] });
    expect(index.entriesSlice(0, 10)).toEqual([]);
  });

  it('an index released while its snapshot is being written publishes no snapshot short of contacts', async () => {
    const kv = new MemoryKeyValueStore();
    const store = new SnapshotStore(kv);
    const meta = { version: 'v1', fetchedAtMs: 1, extensions: [], customFields: [] };
    const first = await PhonebookIndex.build(Array.from({ length: 1_000 }, (_, i) => contact(i)), [], [], 'IN');
    await store.write(meta, first);
    const second = await PhonebookIndex.build(Array.from({ length: 1_000 }, (_, i) => contact(i)), [], [], 'IN');
    // A newer index replaces the one being written after its first chunk.
    const set = kv.set.bind(kv);
    let chunks = 0;
    kv.set = async (key, value, ttlMs) => {
      await set(key, value, ttlMs);
      if (key.includes(':chunk:') && ++chunks === 1) second.release();
    };
    await expect(store.write({ ...meta, version: 'v2' }, second)).rejects.toThrow(/replaced while it was being shared/);
    const manifest = await store.readManifest();
    expect(manifest).toMatchObject({ version: 'v1', contacts: 1_000 });
    const read = await store.read(manifest as NonNullable<typeof manifest>, 'IN');
    expect(read?.index.size).toBe(1_000);
  });
});
