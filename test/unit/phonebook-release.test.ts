/**
 * Freeing a replaced index at once (src/phonebook/release-memory.ts, PhonebookIndex.release): its buffers
 * go back without a garbage collection, and the released index answers as an empty one rather than failing.
 */
import { describe, expect, it } from 'vitest';
import type { PhonebookContact } from '../../src/core/event.js';
import { PhonebookIndex } from '../../src/phonebook/index.js';
import { freeBuffers } from '../../src/phonebook/release-memory.js';
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
});
