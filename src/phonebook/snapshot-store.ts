/**
 * The phonebook snapshot shared by all instances, kept in the KeyValueStore.
 *
 * 100,000 contacts are ~30 MB of JSON: one JSON.parse of that blocks the event loop for a few hundred ms, so
 * the contacts are stored in chunks of CHUNK_SIZE, each parsed on its own with a yield in between. A reader
 * takes chunks of any size (the manifest counts chunks, not entries). A small
 * manifest names the version; instances poll only the manifest. Each chunk holds the contacts' compact entries
 * (compact-contact.ts), written by joining the index's strings, and read straight into a new index.
 *
 * Chunks live in two slots ('a', 'b'): a writer fills the slot the manifest does not point at, then flips the
 * manifest, so readers never see a half-written snapshot and a crashed writer leaves nothing behind but a slot
 * that the next write overwrites. Every chunk carries its version; a reader that meets a chunk of another
 * version (a second write reused the slot while it was reading) gives up and reads the manifest again.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { CountryCode } from '../core/phone-number.js';
import type { KeyValueStore, PbxCustomField, PbxExtension } from '../core/ports.js';
import { contactFromArray } from './compact-contact.js';
import { PhonebookIndex } from './index.js';

/** What the snapshot says besides its contacts (those come from, and go into, a PhonebookIndex). */
export interface SnapshotMeta {
  version: string;
  /** When the PBX was read, in ms since the epoch. */
  fetchedAtMs: number;
  extensions: readonly PbxExtension[];
  customFields: readonly PbxCustomField[];
}

export interface SnapshotManifest {
  /** 2: chunks hold compact entries (compact-contact.ts). A format-1 manifest reads as none: the PBX is read again. */
  format: 2;
  version: string;
  fetchedAtMs: number;
  slot: 'a' | 'b';
  chunks: number;
  contacts: number;
  /** Chunks each slot holds, so the next writer can delete what its smaller snapshot does not overwrite. */
  slotChunks: { a: number; b: number };
}

interface ChunkBody {
  v: string;
  entries: unknown[];
}

interface MetaBody {
  v: string;
  extensions: PbxExtension[];
  customFields: PbxCustomField[];
}

/**
 * Entries per chunk: ~75 KB of text, under V8's large-object size (128 KiB), so a chunk read and its parsed
 * entries are young garbage that a scavenge frees; 1,000-entry chunks (~300 KB) went straight to the old
 * generation, 30 MB of it per reload that only a full collection gives back.
 */
export const CHUNK_SIZE = 250;
const MANIFEST_KEY = 'phonebook:manifest';
const metaKey = (slot: string): string => `phonebook:${slot}:meta`;
const chunkKey = (slot: string, i: number): string => `phonebook:${slot}:chunk:${i}`;

export class SnapshotStore {
  constructor(private readonly kv: KeyValueStore) {}

  async readManifest(): Promise<SnapshotManifest | null> {
    const raw = await this.kv.get(MANIFEST_KEY);
    if (raw === null) return null;
    try {
      const m = JSON.parse(raw) as Partial<SnapshotManifest>;
      if (m.format !== 2 || typeof m.version !== 'string' || (m.slot !== 'a' && m.slot !== 'b')) return null;
      if (typeof m.chunks !== 'number' || typeof m.fetchedAtMs !== 'number') return null;
      return m as SnapshotManifest;
    } catch {
      return null;
    }
  }

  /**
   * Builds an index of the snapshot the manifest names, chunk by chunk (each parsed on its own, the index
   * built in slices), or null when it changed under us (read the manifest again).
   */
  async read(manifest: SnapshotManifest, country: CountryCode): Promise<{ meta: SnapshotMeta; index: PhonebookIndex } | null> {
    const meta = await this.getJson<MetaBody>(metaKey(manifest.slot));
    if (!meta || meta.v !== manifest.version) return null;
    const index = PhonebookIndex.builder(meta.extensions, meta.customFields, country, manifest.contacts);
    for (let i = 0; i < manifest.chunks; i++) {
      const chunk = await this.getJson<ChunkBody>(chunkKey(manifest.slot, i));
      if (!chunk || chunk.v !== manifest.version || !Array.isArray(chunk.entries)) return null;
      await index.addManyOf(chunk.entries, contactFromArray);
      await yieldToEventLoop();
    }
    index.finishBuild();
    return {
      meta: { version: manifest.version, fetchedAtMs: manifest.fetchedAtMs, extensions: meta.extensions, customFields: meta.customFields },
      index,
    };
  }

  /** Writes the index's contacts into the free slot, then publishes them. Returns the manifest written. */
  async write(snapshot: SnapshotMeta, index: PhonebookIndex): Promise<SnapshotManifest> {
    const previous = await this.readManifest();
    const slot = previous?.slot === 'a' ? 'b' : 'a';
    const size = index.size;
    const chunks = Math.ceil(size / CHUNK_SIZE);
    const meta: MetaBody = { v: snapshot.version, extensions: [...snapshot.extensions], customFields: [...snapshot.customFields] };
    await this.kv.set(metaKey(slot), JSON.stringify(meta));
    const version = JSON.stringify(snapshot.version);
    for (let i = 0; i < chunks; i++) {
      // The entries are JSON already: joined, never parsed or serialized again.
      const body = `{"v":${version},"entries":[${index.entriesSlice(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE).join(',')}]}`;
      // Replaced (and emptied) by a newer index while this one was being written: a snapshot of it now would
      // be short of contacts, so none is published (the manifest still names the last complete one).
      if (index.released) throw new Error('the phonebook index was replaced while it was being shared');
      await this.kv.set(chunkKey(slot, i), body);
      await yieldToEventLoop();
    }
    const slotChunks = { a: previous?.slotChunks?.a ?? 0, b: previous?.slotChunks?.b ?? 0 };
    const leftOver = slotChunks[slot];
    slotChunks[slot] = chunks;
    const manifest: SnapshotManifest = {
      format: 2,
      version: snapshot.version,
      fetchedAtMs: snapshot.fetchedAtMs,
      slot,
      chunks,
      contacts: size,
      slotChunks,
    };
    await this.kv.set(MANIFEST_KEY, JSON.stringify(manifest));
    // What an earlier, larger snapshot left in this slot past the new last chunk.
    for (let i = chunks; i < leftOver; i++) await this.kv.del(chunkKey(slot, i));
    return manifest;
  }

  private async getJson<T>(key: string): Promise<T | null> {
    const raw = await this.kv.get(key);
    if (raw === null) return null;
    try {
      return JSON.parse(raw) as T;
    } catch {
      return null;
    }
  }
}
