/** Reads the few XINFO STREAM fields the event log needs, treating a missing stream as an empty one. */

export interface StreamInfo {
  length: number;
  /** `0-0` when the stream does not exist. */
  lastGeneratedId: string;
  /** Entries ever added (Redis 7+); null when the server does not report it. */
  entriesAdded: number | null;
  firstEntryId: string | null;
}

const EMPTY: StreamInfo = { length: 0, lastGeneratedId: '0-0', entriesAdded: 0, firstEntryId: null };

/** Takes one `[error, reply]` pair as MULTI/EXEC returns it for `XINFO STREAM`. */
export function readStreamInfo(result: [Error | null, unknown] | undefined): StreamInfo {
  if (!result) return EMPTY;
  const [err, reply] = result;
  if (err) {
    if (isNoSuchKey(err)) return EMPTY;
    throw err;
  }
  return parseStreamInfo(reply);
}

export function isNoSuchKey(err: unknown): boolean {
  return err instanceof Error && /no such key/i.test(err.message);
}

export function parseStreamInfo(reply: unknown): StreamInfo {
  if (!Array.isArray(reply)) throw new Error('unexpected XINFO STREAM reply');
  const fields = new Map<string, unknown>();
  for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), reply[i + 1]);
  const length = fields.get('length');
  const lastGenerated = fields.get('last-generated-id');
  const entriesAdded = fields.get('entries-added');
  const firstEntry = fields.get('first-entry');
  return {
    length: typeof length === 'number' ? length : 0,
    lastGeneratedId: typeof lastGenerated === 'string' ? lastGenerated : '0-0',
    entriesAdded: typeof entriesAdded === 'number' ? entriesAdded : null,
    firstEntryId: Array.isArray(firstEntry) && typeof firstEntry[0] === 'string' ? firstEntry[0] : null,
  };
}
