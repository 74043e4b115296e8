/**
 * The list reader's worker path (src/pbx/list-reader.ts with list-worker.ts): a list answer parsed in a
 * worker thread must give exactly what the in-thread parse gives, which is what one parse of the whole text
 * gives: the same elements in the same order, the same 'text' for what is not one list, the same 'broken'.
 * `offThreadBytes` makes small answers take that path (0: from the first byte).
 */
import { describe, expect, it } from 'vitest';
import { readListBody, type ListBody, type ListReadOptions } from '../../src/pbx/list-reader.js';
import { ListWorker, type FromListWorker } from '../../src/pbx/list-worker.js';

/** A worker whose answers fail from the `failAt`-th on, as one that crashed would. */
class FailingWorker extends ListWorker {
  private answers = 0;
  constructor(batchSize: number, private readonly failAt: number) {
    super(batchSize);
  }
  override next(): Promise<FromListWorker> {
    const answer = super.next();
    if (++this.answers < this.failAt) return answer;
    answer.catch(() => undefined);
    return Promise.reject(new Error('the list parser worker exited (1)'));
  }
}

async function* chunksOf(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

type Outcome = { envelope: unknown; data: unknown[]; batches: number[] } | 'text' | 'broken';

async function read(text: string, opts: ListReadOptions & { chunk?: number } = {}): Promise<Outcome> {
  const bytes = Buffer.from(text, 'utf8');
  const data: unknown[] = [];
  const batches: number[] = [];
  const { chunk, ...readOpts } = opts;
  const body: ListBody = await readListBody(chunksOf(bytes, chunk ?? bytes.length + 1), async (values) => {
    batches.push(values.length);
    data.push(...values);
  }, readOpts);
  if (body.kind === 'text') {
    expect(body.text).toBe(text.replace(/^\uFEFF/, ''));
    return 'text';
  }
  if (body.kind === 'broken') return 'broken';
  return { envelope: body.envelope, data: [...data, ...body.rest], batches };
}

function contact(i: number): Record<string, unknown> {
  return {
    'Phonebook ID': String(i),
    'First Name': `Zoë ${i} "quoted" \\ back`,
    'Phone Number': `+91 98247 ${String(40000 + i).padStart(5, '0')}`,
    'Custom Details': { City: i % 3 === 0 ? 'Kochi' : '😀 {[,:]}', 'Office No': '' },
  };
}

const ANSWER = JSON.stringify({ status: 'SUCCESS', message: 'Phonebook Details.', data: Array.from({ length: 300 }, (_, i) => contact(i)) }, null, 2);

describe('readListBody in a worker thread', () => {
  it('gives what the in-thread parse gives, in any chunk size and batch size, from the first byte or from a threshold on', async () => {
    const here = await read(ANSWER, { offThreadBytes: Infinity, batchSize: 7, chunk: 1000 });
    expect(here).not.toBe('text');
    const expected = { ...JSON.parse(ANSWER), data: undefined } as Record<string, unknown>;
    if (typeof here === 'object') {
      expect(here.envelope).toEqual({ status: 'SUCCESS', message: expected.message });
      expect(here.data).toEqual((JSON.parse(ANSWER) as { data: unknown[] }).data);
    }
    for (const opts of [
      { offThreadBytes: 0, batchSize: 7, chunk: 1000 },
      { offThreadBytes: 0, batchSize: 64, chunk: 3 },
      { offThreadBytes: 0, batchSize: 1, chunk: 65536 },
      { offThreadBytes: 5000, batchSize: 7, chunk: 777 },
    ]) {
      const got = await read(ANSWER, opts);
      expect(typeof got === 'object' && { envelope: got.envelope, data: got.data }, JSON.stringify(opts)).toEqual(typeof here === 'object' && { envelope: here.envelope, data: here.data });
      // Full batches while the answer arrives; only the rest at the end may be shorter.
      if (typeof got === 'object') expect(got.batches.every((n) => n === opts.batchSize)).toBe(true);
    }
  });

  it("mends the manual's slips the same way", async () => {
    const text = '{"status": "SUCCESS",\n"message": "Extension Details."\n"data": [\n{"a": "1",}\n{"b": [1, 2,],}\n]\n}';
    const got = await read(text, { offThreadBytes: 0, batchSize: 1, chunk: 5 });
    expect(got).toMatchObject({ envelope: { status: 'SUCCESS', message: 'Extension Details.' }, data: [{ a: '1' }, { b: [1, 2] }] });
  });

  it('gives the whole text back when nothing was handed over and the answer is not one list', async () => {
    for (const text of [
      '<html><body>502 Bad Gateway</body></html>',
      '{"status":"FAILED","status_code":601,"message":"Data Not Found"}',
      '{"status":"SUCCESS","data":{"0":{"a":1},"2":{"b":2}}}',
      '{"status":"SUCCESS","data":[{"first":1}],"data":[{"second":2}]}',
      '{"status":"SUCCESS","data":[{"a":1}',
      '{"status":"SUCCESS","data":[{"a":1} {"b":2}]}',
      '{"status":"SUCCESS","data":[{"a":1}]} trailing',
    ]) {
      expect(await read(text, { offThreadBytes: 0 }), text).toBe('text');
      expect(await read(text, { offThreadBytes: 0, chunk: 4 }), text).toBe('text');
    }
  });

  it('is broken when the answer turns out unreadable after elements were handed over', async () => {
    const head = '{"status":"SUCCESS","data":[{"a":1},{"a":2},{"a":3}';
    for (const tail of ['', ',{"a":4} {"b":5}]}', ']}{}', '],"data":[{"again":1}]}', ',{"a":4x}]}']) {
      expect(await read(head + tail, { offThreadBytes: 0, batchSize: 2, chunk: 8 }), tail).toBe('broken');
    }
  });

  it('hands nothing over before minBytes came', async () => {
    const got = await read(ANSWER, { offThreadBytes: 0, batchSize: 10, chunk: 512, minBytes: Buffer.byteLength(ANSWER) + 1 });
    expect(typeof got === 'object' && got.batches).toEqual([]);
    expect(typeof got === 'object' && got.data.length).toBe(300);
  });

  it('what onEntries throws comes out as it is', async () => {
    const thrown = new Error('index full');
    await expect(readListBody(chunksOf(Buffer.from(ANSWER), 512), async () => Promise.reject(thrown), { offThreadBytes: 0, batchSize: 2 })).rejects.toBe(thrown);
  });

  it('parses in its own thread when the worker fails before anything was handed over, and fails the read when it fails after', async () => {
    const here = await read(ANSWER, { offThreadBytes: Infinity, batchSize: 10, chunk: 700 });
    const early = await read(ANSWER, { offThreadBytes: 0, batchSize: 10, chunk: 700, minBytes: 5000, newWorker: (n) => new FailingWorker(n, 1) });
    expect(typeof early === 'object' && early.data).toEqual(typeof here === 'object' && here.data);
    const late = readListBody(chunksOf(Buffer.from(ANSWER), 700), async () => undefined, { offThreadBytes: 0, batchSize: 10, newWorker: (n) => new FailingWorker(n, 20) });
    await expect(late).rejects.toThrow('the list parser worker exited');
  });
});
