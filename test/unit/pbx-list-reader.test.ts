/**
 * The list reader (src/pbx/list-reader.ts): a list answer read while it arrives. On JSON (and on what the
 * lenient mending accepts) it must give exactly what one parse of the whole text gives; on anything else it
 * must give the whole text back when nothing was handed over yet ('text'), or say it is broken.
 */
import { describe, expect, it } from 'vitest';
import { ANSWER_FIELDS } from '../../src/pbx/answer.js';
import { readListBody, type ListBody } from '../../src/pbx/list-reader.js';

interface Read {
  envelope: unknown;
  data: unknown[];
}

interface ReadOptions {
  sliceMs?: number;
  batchSize?: number;
  minBytes?: number;
  /** Cut the body into chunks of these sizes (cycled), as a network would deliver it. Default: one chunk. */
  chunkSizes?: number[];
}

async function* chunksOf(bytes: Buffer, sizes: number[] | undefined): AsyncGenerator<Uint8Array> {
  if (!sizes || sizes.length === 0) {
    yield bytes;
    return;
  }
  let k = 0;
  for (let at = 0; at < bytes.length; k++) {
    const size = Math.max(1, sizes[k % sizes.length] as number);
    // Some chunks as plain Uint8Arrays, as undici may hand them.
    const piece = bytes.subarray(at, at + size);
    yield k % 2 === 0 ? piece : new Uint8Array(piece);
    at += size;
  }
}

/** What the reader makes of `text`: the envelope and every element (handed over, then the rest), or its verdict. */
async function read(text: string | Buffer, opts: ReadOptions = {}): Promise<Read | 'text' | 'broken'> {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const data: unknown[] = [];
  const { chunkSizes, ...readOpts } = opts;
  const body: ListBody = await readListBody(chunksOf(bytes, chunkSizes), async (values) => {
    data.push(...values);
  }, readOpts);
  if (body.kind === 'text') {
    expect(data).toEqual([]);
    expect(body.text).toBe(bytes.toString('utf8').replace(/^\uFEFF/, ''));
    return 'text';
  }
  if (body.kind === 'broken') return 'broken';
  return { envelope: body.envelope, data: [...data, ...body.rest] };
}

/** What one JSON.parse of the whole (valid) text gives, in the same shape (the envelope: the fields an answer is read by). */
function whole(text: string): Read {
  const parsed = JSON.parse(text.replace(/^\uFEFF/, '')) as Record<string, unknown>;
  const envelope = Object.fromEntries(Object.entries(parsed).filter(([k]) => ANSWER_FIELDS.includes(k)));
  return { envelope, data: parsed.data as unknown[] };
}

/** The same result as JSON.parse: in one chunk, in odd chunk sizes, and handed over a few elements at a time. */
async function expectSameAsJsonParse(text: string, opts: ReadOptions = {}): Promise<void> {
  const expected = whole(text);
  expect(await read(text, opts)).toEqual(expected);
  expect(await read(text, { ...opts, chunkSizes: [1, 2, 3, 5, 7, 11, 64, 1000] })).toEqual(expected);
  expect(await read(text, { ...opts, chunkSizes: [3, 64, 1000], batchSize: 2 })).toEqual(expected);
}

// ---- random-ish records ----------------------------------------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NASTY = ['{', '}', '[', ']', ',', ':', '"', '\\', '\\"', '",}', ',]', '\n', '\t', '\u0000', '\u2028', 'é', '日本', '😀', ' ', 'data', '"data":[', '\\u0041'];

function randomString(r: () => number): string {
  let s = '';
  const n = Math.floor(r() * 8);
  for (let i = 0; i < n; i++) s += r() < 0.5 ? (NASTY[Math.floor(r() * NASTY.length)] as string) : String.fromCharCode(32 + Math.floor(r() * 90));
  return s;
}

function randomValue(r: () => number, depth: number): unknown {
  const k = r();
  if (depth > 3 || k < 0.3) return randomString(r);
  if (k < 0.4) return Math.floor(r() * 1e6) - 5e5;
  if (k < 0.45) return r() * 1e-3;
  if (k < 0.5) return r() < 0.5;
  if (k < 0.55) return null;
  if (k < 0.75) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
  return randomRecord(r, depth + 1);
}

function randomRecord(r: () => number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const n = Math.floor(r() * 6);
  for (let i = 0; i < n; i++) out[randomString(r)] = randomValue(r, depth);
  return out;
}

function contactLike(r: () => number, i: number): Record<string, unknown> {
  return {
    'Phonebook ID': String(i),
    'First Name': randomString(r),
    'Last Name': 'Patel',
    'Display Name': `Nisha "the {boss}" [${i}]`,
    'Phone Number': `+91 98${String(i).padStart(8, '0')}`,
    'Custom Details': { Company: 'Ecosmob', City: randomString(r), nested: randomRecord(r, 2) },
    extra: randomValue(r, 1),
  };
}

// ---- tests -------------------------------------------------------------------------------------------------

describe('readListBody', () => {
  it('reads the plain manual shape; the envelope keeps the fields an answer is read by', async () => {
    const text = JSON.stringify({ status: 'SUCCESS', message: 'Phonebook Details:', Count: 2, data: [{ a: 1 }, { b: 2 }] });
    await expectSameAsJsonParse(text);
    expect(await read(text)).toEqual({ envelope: { status: 'SUCCESS', message: 'Phonebook Details:' }, data: [{ a: 1 }, { b: 2 }] });
  });

  it('strings holding braces, brackets, commas, colons and escaped quotes or backslashes', async () => {
    const data = [
      { 'Display Name': 'a } b ] c { d [ e', x: '",}', y: 'ends with a backslash \\', z: '\\"', w: '"quoted"' },
      { 'Display Name': '\\\\', x: '}}]]', y: ',,', z: ':' },
      '{not an object}',
      '[',
    ];
    await expectSameAsJsonParse(JSON.stringify({ status: 'SUCCESS', data }));
    await expectSameAsJsonParse(JSON.stringify({ status: 'SUCCESS', data }, null, 2));
  });

  it('nested Custom Details objects and arrays', async () => {
    const data = [
      { 'Phonebook ID': '41', 'Custom Details': { Company: 'Ecosmob', City: 'Abd', deeper: { list: [1, [2, [3, { four: '}' }]]] } } },
      { 'Phonebook ID': '42', 'Custom Details': [] },
      { 'Phonebook ID': '43', 'Custom Details': [{ name: 'City', value: '[x]' }] },
    ];
    await expectSameAsJsonParse(JSON.stringify({ status: 'SUCCESS', data }, null, '\t'));
  });

  it('unicode: multi-byte characters, emoji, \\u escapes, U+2028, and a BOM before the object', async () => {
    const data = [{ name: 'Zoë Ångström 日本語 😀', esc: '\u00e9\ud83d\ude00', sep: 'a\u2028b\u2029c' }, { 'n\u00e4me': 'x' }];
    const text = JSON.stringify({ status: 'SUCCESS', message: 'Détails', data });
    await expectSameAsJsonParse(text);
    // Escapes as written by PHP's json_encode (\\u00e9, \\/).
    await expectSameAsJsonParse('{"status":"SUCCESS","data":[{"name":"Zo\\u00eb","url":"http:\\/\\/x","e":"\\ud83d\\ude00"}]}');
    await expectSameAsJsonParse(`\uFEFF${text}`);
  });

  it('whitespace variants: none, spaces, tabs, CRLF, around every token', async () => {
    const data = [{ a: 1, b: [1, 2] }, { c: 'x' }, 7, null];
    await expectSameAsJsonParse(JSON.stringify({ status: 'SUCCESS', data }));
    const spaced = ' \r\n\t{ \r\n "status" \t:\r\n "SUCCESS" , "data"\n:\n[\r\n { "a" : 1 , "b" : [ 1 , 2 ] } ,\t{"c":"x"}\n,\n7 , null\r\n]\r\n}\r\n ';
    await expectSameAsJsonParse(spaced);
  });

  it('data not the last key; "data" keys inside elements or other values are not the list', async () => {
    await expectSameAsJsonParse('{"data":[{"a":1},{"b":{"c":[]}}],"status":"SUCCESS","Count":2,"tail":{"data":"not this one","x":[1,{"y":2}]}}');
    await expectSameAsJsonParse('{"status":"SUCCESS","data":[{"a":1}],"message":"after"}');
    const text = JSON.stringify({ status: 'SUCCESS', meta: { data: [9, 9] }, data: [{ data: [1, 2], x: { data: {} } }], other: [{ data: 3 }] });
    await expectSameAsJsonParse(text);
  });

  it('drops U+FEFF inside strings (@streamparser/json decodes with TextDecoder, which drops it): an invisible character', async () => {
    const text = JSON.stringify({ status: 'SUCCESS', data: [{ 'First Name': '\uFEFFNisha' }] });
    expect(await read(text)).toEqual({ envelope: { status: 'SUCCESS' }, data: [{ 'First Name': 'Nisha' }] });
  });

  it('an escaped spelling of "data" is the same key', async () => {
    await expectSameAsJsonParse('{"status":"SUCCESS","d\\u0061ta":[{"escaped":1}]}');
  });

  it("mends the manual's slips: trailing commas, and commas missing at line ends", async () => {
    const text = `{
 "status": "SUCCESS",
 "message": "Phonebook Details:"
 "Count": 2,
 "data": [
 {
"Phonebook ID": "41",
"Display Name": "Nisha, Patel",
"Custom Details": {
  "Company": "Ecosmob",
  "Office No": "9879973234",
},
}
 {"Phonebook ID": "42", "list": [1, 2, ], "s": "keeps ,} and ,] inside strings",},
],
}`;
    const expected = {
      envelope: { status: 'SUCCESS', message: 'Phonebook Details:' },
      data: [
        { 'Phonebook ID': '41', 'Display Name': 'Nisha, Patel', 'Custom Details': { Company: 'Ecosmob', 'Office No': '9879973234' } },
        { 'Phonebook ID': '42', list: [1, 2], s: 'keeps ,} and ,] inside strings' },
      ],
    };
    expect(await read(text)).toEqual(expected);
    expect(await read(text, { batchSize: 1 })).toEqual(expected);
    for (let cut = 1; cut < text.length; cut += 7) expect(await read(text, { chunkSizes: [cut, text.length] }), `cut at ${cut}`).toEqual(expected);
  });

  it('gives the whole text back when nothing was handed over and the answer is not one list', async () => {
    const texts = [
      '',
      '   ',
      '[1,2]',
      '<html><body>502 Bad Gateway</body></html>',
      '{"status":"FAILED","status_code":601,"message":"Data Not Found"}',
      '{"status":"SUCCESS","Count":0}',
      '{"status":"SUCCESS","data":null}',
      '{"status":"SUCCESS","data":[]}',
      '{"status":"SUCCESS","data":{"0":{"a":1},"2":{"b":2}}}', // PHP's keyed list: read whole
      '{"status":"SUCCESS","data":"oops"}',
      '{"status":"SUCCESS","data":[{"first":1}],"data":[{"second":2}]}', // JSON.parse takes the last
      '{"status":"SUCCESS","data":[{"a":1}]', // unterminated object
      '{"status":"SUCCESS","data":[{"a":1}', // unterminated array
      '{"status":"SUCCESS","data":[{"a":"unterminated}]}',
      '{"status":"SUCCESS","data":[{"a":1} {"b":2}]}', // missing comma on one line
      '{"status":"SUCCESS","data":["a" "b"]}',
      '{"status":"SUCCESS","data":[{"a":1},,{"b":2}]}', // empty element
      '{"status":"SUCCESS","data":[,]}',
      '{"status":"SUCCESS","data":[{"a":1}}}',
      '{"status":"SUCCESS","data":[{"a":1}]} trailing',
      '{"status":"SUCCESS","data":[{"a":1}]}{}',
      '{"status":"SUCCESS","data":[1]]',
      '{"status":"SUCCESS","data":[{"a":1]}]}',
      '{"status":"SUCCESS","data":[1 2]}',
      '{"status":"SUCCESS","data":[{"a":tru}]}',
      '{"status":"SUCCESS","data":[{"a":"\\',
      '\uFEFF \uFEFF{"data":[1]}',
    ];
    for (const text of texts) {
      expect(await read(text), text).toBe('text');
      expect(await read(text, { chunkSizes: [1] }), text).toBe('text');
    }
  });

  it('is broken when the answer turns out unreadable after elements were handed over', async () => {
    const head = '{"status":"SUCCESS","data":[{"a":1},{"a":2},{"a":3}';
    for (const tail of [']', '', ',{"a":4} {"b":5}]}', ']}{}', '],"data":[{"again":1}]}', '],"data":[]}', '],"data":{"0":{}}}', ',{"a":4x}]}']) {
      expect(await read(head + tail, { batchSize: 2, chunkSizes: [8] }), tail).toBe('broken');
    }
    // ...and fine when it is not.
    expect(await read(`${head}]}`, { batchSize: 2 })).toEqual({ envelope: { status: 'SUCCESS' }, data: [{ a: 1 }, { a: 2 }, { a: 3 }] });
  });

  it('hands nothing over before minBytes came, so a smaller answer is read as one', async () => {
    const text = JSON.stringify({ status: 'SUCCESS', data: Array.from({ length: 10 }, (_, i) => ({ i })) });
    const batches: number[] = [];
    const body = await readListBody(chunksOf(Buffer.from(text), [16]), async (v) => void batches.push(v.length), { batchSize: 2, minBytes: text.length + 1 });
    expect(batches).toEqual([]);
    expect(body).toMatchObject({ kind: 'list', handed: false });
    if (body.kind === 'list') expect(body.rest).toHaveLength(10);
    const early = await readListBody(chunksOf(Buffer.from(text), [16]), async (v) => void batches.push(v.length), { batchSize: 2, minBytes: 40 });
    expect(early).toMatchObject({ kind: 'list', handed: true });
    expect(batches.every((n) => n === 2)).toBe(true);
  });

  it('what onEntries throws comes out as it is', async () => {
    const text = JSON.stringify({ status: 'SUCCESS', data: [1, 2, 3, 4] });
    const thrown = new Error('index full');
    await expect(readListBody(chunksOf(Buffer.from(text), [5]), async () => Promise.reject(thrown), { batchSize: 2 })).rejects.toBe(thrown);
  });

  it('equals JSON.parse on random-ish nested records, in any layout, across many batches and with yields', async () => {
    const r = mulberry32(7);
    for (let round = 0; round < 12; round++) {
      const n = [0, 1, 2, 255, 256, 257, 700, 1500][round % 8] as number;
      const data: unknown[] = Array.from({ length: n }, (_, i) => (r() < 0.9 ? contactLike(r, i) : randomValue(r, 1)));
      const envelope: Record<string, unknown> = { status: 'SUCCESS', message: randomString(r), Count: n, extra: randomRecord(r, 1) };
      const keys = Object.keys(envelope);
      const at = Math.floor(r() * (keys.length + 1));
      const ordered: Record<string, unknown> = {};
      keys.forEach((k, i) => {
        if (i === at) ordered.data = data;
        ordered[k] = envelope[k];
      });
      if (at === keys.length) ordered.data = data;
      const indent = [undefined, 1, 2, '\t', '\r\n'][round % 5];
      const text = JSON.stringify(ordered, null, indent as string | number | undefined);
      if (n === 0) {
        expect(await read(text)).toBe('text'); // an empty list is read whole
        continue;
      }
      await expectSameAsJsonParse(text, round % 3 === 0 ? { sliceMs: 0 } : {});
    }
  });

  it('yields to the event loop while reading a large body', async () => {
    const data = Array.from({ length: 5_000 }, (_, i) => contactLike(mulberry32(i), i));
    const text = JSON.stringify({ status: 'SUCCESS', Count: data.length, data });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    try {
      expect(await read(text, { sliceMs: 0, chunkSizes: [65536] })).toEqual(whole(text));
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
  });
});
