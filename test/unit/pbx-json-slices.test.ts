/**
 * The sliced reader of large list answers (src/pbx/json-slices.ts): the scanner that finds the top-level
 * `data` array and cuts it into elements, and the sliced element parse. On valid JSON its result must be
 * exactly what one JSON.parse of the whole text gives; on anything it does not expect it must give up
 * (null / false) so that the client parses the whole text instead.
 */
import { describe, expect, it } from 'vitest';
import { ByteChunks, parseElementsSliced, readAndScan, readScanAndParse, stripTrailingCommas } from '../../src/pbx/json-slices.js';

interface Sliced {
  envelope: unknown;
  data: unknown[];
}

interface ReadOptions {
  sliceMs?: number;
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

/** What the sliced path reads from `text`: the envelope (data: null) and the data array; null when it gives up. */
async function sliced(text: string | Buffer, opts: ReadOptions = {}): Promise<Sliced | null> {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const sliceOpts = opts.sliceMs === undefined ? {} : { sliceMs: opts.sliceMs };
  const { bytes: chunks, scanner } = await readAndScan(chunksOf(bytes, opts.chunkSizes), sliceOpts);
  expect(chunks.length).toBe(bytes.length);
  expect(chunks.join().equals(bytes)).toBe(true);
  const layout = scanner.finish();
  if (layout === null) return null;
  const data: unknown[] = [];
  const ok = await parseElementsSliced(chunks, layout, (values) => {
    data.push(...values);
  }, sliceOpts);
  if (!ok) return null;
  return { envelope: JSON.parse(stripTrailingCommas(layout.envelope)), data };
}

/** What one JSON.parse of the whole (valid) text gives, in the same shape. */
function whole(text: string): Sliced {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  return { envelope: { ...parsed, data: null }, data: parsed.data as unknown[] };
}

/** The same result as JSON.parse, read in one chunk and cut into odd chunk sizes. */
async function expectSameAsJsonParse(text: string, opts: ReadOptions = {}): Promise<void> {
  const expected = whole(text);
  expect(await sliced(text, opts)).toEqual(expected);
  expect(await sliced(text, { ...opts, chunkSizes: [1, 2, 3, 5, 7, 11, 64, 1000] })).toEqual(expected);
  if (expected !== null) expect(await streamed(text, [3, 64, 1000])).toEqual(expected);
}

/** What readScanAndParse hands over while the body arrives (from the first byte on), with the envelope. */
async function streamed(text: string, chunkSizes: number[]): Promise<Sliced | null> {
  const data: unknown[] = [];
  const r = await readScanAndParse(chunksOf(Buffer.from(text, 'utf8'), chunkSizes), async (values) => {
    data.push(...values);
  });
  if (r.layout === null || !r.complete) return null;
  return { envelope: JSON.parse(stripTrailingCommas(r.layout.envelope)), data };
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

const NASTY = ['{', '}', '[', ']', ',', ':', '"', '\\', '\\"', '",}', ',]', '\n', '\t', '\u0000', '\u2028', 'é', '日本', '😀', '\uFEFF', ' ', 'data', '"data":[', '\\u0041'];

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

describe('scanListBody + parseElementsSliced', () => {
  it('reads the plain manual shape', async () => {
    await expectSameAsJsonParse(JSON.stringify({ status: 'SUCCESS', message: 'Phonebook Details:', Count: 2, data: [{ a: 1 }, { b: 2 }] }));
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
    const php = '{"status":"SUCCESS","data":[{"name":"Zo\\u00eb","url":"http:\\/\\/x","e":"\\ud83d\\ude00"}]}';
    await expectSameAsJsonParse(php);
    const withBom = await sliced(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]));
    expect(withBom).toEqual(whole(text));
  });

  it('whitespace variants: none, spaces, tabs, CRLF, around every token', async () => {
    const data = [{ a: 1, b: [1, 2] }, { c: 'x' }, 7, null];
    const compact = JSON.stringify({ status: 'SUCCESS', data });
    await expectSameAsJsonParse(compact);
    const spaced = ' \r\n\t{ \r\n "status" \t:\r\n "SUCCESS" , "data"\n:\n[\r\n { "a" : 1 , "b" : [ 1 , 2 ] } ,\t{"c":"x"}\n,\n7 , null\r\n]\r\n}\r\n ';
    await expectSameAsJsonParse(spaced);
    expect((await sliced(spaced))?.data).toEqual(data);
  });

  it('an empty data array', async () => {
    await expectSameAsJsonParse('{"status":"SUCCESS","data":[]}');
    await expectSameAsJsonParse('{"status":"SUCCESS","data":[ \n ]}');
    expect((await sliced('{"status":"SUCCESS","data":[]}'))?.data).toEqual([]);
  });

  it('data not the last key', async () => {
    await expectSameAsJsonParse('{"data":[{"a":1},{"b":{"c":[]}}],"status":"SUCCESS","Count":2,"tail":{"data":"not this one","x":[1,{"y":2}]}}');
    await expectSameAsJsonParse('{"status":"SUCCESS","data":[{"a":1}],"message":"after"}');
  });

  it('"data" keys nested inside elements or other values are not the list', async () => {
    const text = JSON.stringify({ status: 'SUCCESS', meta: { data: [9, 9] }, data: [{ data: [1, 2], x: { data: {} } }], other: [{ data: 3 }] });
    await expectSameAsJsonParse(text);
    expect((await sliced(text))?.data).toEqual([{ data: [1, 2], x: { data: {} } }]);
  });

  it('with several top-level "data" keys the last one counts, as with JSON.parse; an escaped spelling is the same key', async () => {
    await expectSameAsJsonParse('{"status":"SUCCESS","data":[{"first":1}],"data":[{"second":2}]}');
    await expectSameAsJsonParse('{"status":"SUCCESS","d\\u0061ta":[{"escaped":1}]}');
    expect((await sliced('{"status":"SUCCESS","data":[{"first":1}],"data":[{"second":2}]}'))?.data).toEqual([{ second: 2 }]);
  });

  it('trailing commas (as in the manual): inside elements, after the last element, after the array', async () => {
    const text = `{
 "status": "SUCCESS",
 "message": "Phonebook Details:",
 "Count": 2,
 "data": [
 {
"Phonebook ID": "41",
"Display Name": "Nisha, Patel",
"Custom Details": {
  "Company": "Ecosmob",
  "Office No": "9879973234",
},
},
 {"Phonebook ID": "42", "list": [1, 2, ], "s": "keeps ,} and ,] inside strings",},
],
}`;
    const got = await sliced(text);
    expect(got?.data).toEqual([
      { 'Phonebook ID': '41', 'Display Name': 'Nisha, Patel', 'Custom Details': { Company: 'Ecosmob', 'Office No': '9879973234' } },
      { 'Phonebook ID': '42', list: [1, 2], s: 'keeps ,} and ,] inside strings' },
    ]);
    expect(got?.envelope).toEqual({ status: 'SUCCESS', message: 'Phonebook Details:', Count: 2, data: null });
  });

  it('gives up (null) when data is missing, null, an object or a string: the whole text is parsed then', async () => {
    expect(await sliced('{"status":"SUCCESS","Count":0}')).toBeNull();
    expect(await sliced('{"status":"SUCCESS","data":null}')).toBeNull();
    expect(await sliced('{"status":"SUCCESS","data":{"0":{"a":1},"2":{"b":2}}}')).toBeNull();
    expect(await sliced('{"status":"SUCCESS","data":"oops"}')).toBeNull();
    expect(await sliced('{"status":"SUCCESS","data":[{"a":1}],"data":null}')).toBeNull();
  });

  it('gives up on what is not one JSON object with a well-formed data array', async () => {
    const bad = [
      '',
      '   ',
      '[1,2]',
      '<html><body>502 Bad Gateway</body></html>',
      '{"status":"SUCCESS","data":[{"a":1}]', // unterminated object
      '{"status":"SUCCESS","data":[{"a":1}', // unterminated array
      '{"status":"SUCCESS","data":[{"a":"unterminated}]}',
      '{"status":"SUCCESS","data":[{"a":1} {"b":2}]}', // missing comma
      '{"status":"SUCCESS","data":["a" "b"]}',
      '{"status":"SUCCESS","data":[{"a":1},,{"b":2}]}', // empty element
      '{"status":"SUCCESS","data":[,]}',
      '{"status":"SUCCESS","data":[{"a":1}}}',
      '{"status":"SUCCESS","data":[{"a":1}]} trailing',
      '{"status":"SUCCESS","data":[{"a":1}]}{}',
      '{"status":"SUCCESS" "data":[]}',
      '{"status":"SUCCESS","data" [1]}',
      '{"status":"SUCCESS","data":[1]]',
      '{"status":"SUCCESS","data":[{"a":1]}]}', // bracket mismatch inside an element
      '{"status":"SUCCESS","data":[1 2]}',
      '{"status":"SUCCESS","data":[{"a":tru}]}',
      '{"status":"SUCCESS","data":[{"a":"\\',
    ];
    for (const text of bad) {
      expect(await sliced(text), text).toBeNull();
    }
  });

  it('equals JSON.parse on random-ish nested records, in any layout, across many parse groups and with yields', async () => {
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
      await expectSameAsJsonParse(text, round % 3 === 0 ? { sliceMs: 0 } : {});
    }
  });

  it('with releaseParsed, lets go of the bytes already parsed and still reads every element', async () => {
    const data = Array.from({ length: 1500 }, (_, i) => ({ 'Phonebook ID': String(i), 'First Name': `Zoë ${i}`, pad: 'x'.repeat(i % 300) }));
    const text = JSON.stringify({ status: 'SUCCESS', data });
    const { bytes: chunks, scanner } = await readAndScan(chunksOf(Buffer.from(text), [997]));
    const layout = scanner.finish();
    if (layout === null) throw new Error('no layout');
    const got: unknown[] = [];
    const ok = await parseElementsSliced(chunks, layout, (values) => {
      got.push(...values);
    }, { releaseParsed: true });
    expect(ok).toBe(true);
    expect(got).toEqual(data);
    // The first elements' bytes are gone: their chunks now read as nothing.
    expect(chunks.chunk(0).bytes.length).toBe(0);
  });

  it('gives the same result wherever the chunks split it (escapes, multi-byte characters, the BOM, keys)', async () => {
    const text = '\uFEFF{"st\\"atus":"SUCCESS","d\\u0061ta":[{"a":"x\\\\","b":"\\"}]","c":"日本😀"},[1,{"d":[]}],"e\\\\"],"data":[ {"k":"é\\"","Custom Details":{"x":"}"},}, "z" ,],"t":1}';
    const bytes = Buffer.from(text, 'utf8');
    const expected = whole(text.slice(1).replace(',},', '},').replace(',],', '],'));
    expect(await sliced(bytes)).toEqual(expected);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(await sliced(bytes, { chunkSizes: [cut, bytes.length] }), `cut at ${cut}`).toEqual(expected);
    }
    expect(await sliced(bytes, { chunkSizes: [1] })).toEqual(expected);
  });

  it('gives up on bad bodies also when they arrive byte by byte', async () => {
    for (const text of ['{"status":"SUCCESS","data":[{"a":1} {"b":2}]}', '{"status":"SUCCESS","data":[{"a":"\\', '\uFEFF \uFEFF{"data":[]}', '{"data":[1]}x']) {
      expect(await sliced(Buffer.from(text), { chunkSizes: [1] }), text).toBeNull();
    }
  });

  it('yields to the event loop while scanning and parsing a large body', async () => {
    const data = Array.from({ length: 20_000 }, (_, i) => contactLike(mulberry32(i), i));
    const text = JSON.stringify({ status: 'SUCCESS', Count: data.length, data });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    try {
      const got = await sliced(text, { sliceMs: 0, chunkSizes: [65536] });
      expect(got?.data).toHaveLength(data.length);
      expect(got).toEqual(whole(text));
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
  });
});

describe('stripTrailingCommas', () => {
  it('drops commas before } and ] outside strings only', () => {
    expect(stripTrailingCommas('{"a":1,}')).toBe('{"a":1}');
    expect(stripTrailingCommas('[1,2 ,\n\t]')).toBe('[1,2 \n\t]');
    expect(stripTrailingCommas('{"s":",}",}')).toBe('{"s":",}"}');
    expect(stripTrailingCommas('{"s":"\\",]",}')).toBe('{"s":"\\",]"}');
    expect(stripTrailingCommas('{"a":[1,],"b":{"c":2,},}')).toBe('{"a":[1],"b":{"c":2}}');
    expect(stripTrailingCommas('{"a":1}')).toBe('{"a":1}');
  });
});

describe('ByteChunks', () => {
  it('decodes ranges that span chunks, also through a character split between them', () => {
    const text = 'ab日本😀cd';
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const chunks = new ByteChunks();
      chunks.push(bytes.subarray(0, cut));
      chunks.push(new Uint8Array(0));
      chunks.push(new Uint8Array(bytes.subarray(cut)));
      expect(chunks.length).toBe(bytes.length);
      expect(chunks.decode(0, bytes.length)).toBe(text);
      expect(chunks.decode(2, bytes.length - 2)).toBe('日本😀');
      expect(chunks.decode(5, 5)).toBe('');
      expect(chunks.join().equals(bytes)).toBe(true);
    }
    expect(ByteChunks.of(bytes).decode(0, 2)).toBe('ab');
  });
});
