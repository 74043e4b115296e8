/**
 * The one lenient reading of PBX answers (src/pbx/lenient-json.ts): what it accepts (the manual's own
 * slips: trailing commas, commas missing at line ends) and what it still refuses.
 */
import { describe, expect, it } from 'vitest';
import { JsonRepair, parseLenientJson, repairJsonText } from '../../src/pbx/lenient-json.js';

function parsed(text: string): unknown {
  const r = parseLenientJson(text);
  if (!r.ok) throw new Error(`not read: ${text}`);
  return r.value;
}

/** The mended text when fed to JsonRepair in pieces of `size` bytes. */
function repairedInPieces(text: string, size: number): string {
  const repair = new JsonRepair();
  const bytes = Buffer.from(text);
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(repair.push(bytes.subarray(at, at + size)));
  out.push(repair.end());
  return Buffer.concat(out).toString();
}

describe('parseLenientJson: accepted', () => {
  it('plain JSON, as JSON.parse reads it (a BOM and outer whitespace aside)', () => {
    expect(parsed('\uFEFF  {"a":[1,2,{"b":null}]}\n')).toEqual({ a: [1, 2, { b: null }] });
  });

  it('trailing commas before } and ], with whitespace between', () => {
    expect(parsed('{"a":1,}')).toEqual({ a: 1 });
    expect(parsed('[1,2 ,\n\t]')).toEqual([1, 2]);
    expect(parsed('{"a":[1,],"b":{"c":2,},}')).toEqual({ a: [1], b: { c: 2 } });
  });

  it('a comma missing where a line ends: between members and between list entries', () => {
    expect(parsed('{"message": "Extension Details."\n "count": 3,\n "ok": true\n "n": null\r\n "x": 1.5\n "o": {}\n "l": []\n}')).toEqual({
      message: 'Extension Details.',
      count: 3,
      ok: true,
      n: null,
      x: 1.5,
      o: {},
      l: [],
    });
    expect(parsed('[\n {"a": 1}\n {"b": 2}\n "c"\n 4\n]')).toEqual([{ a: 1 }, { b: 2 }, 'c', 4]);
  });

  it('never touches strings: commas, brackets and line breaks inside them stay', () => {
    expect(parsed('{"s": ",}", "t": "x\\",]",}')).toEqual({ s: ',}', t: 'x",]' });
    expect(repairJsonText('{"s":",}",}')).toBe('{"s":",}"}');
    expect(repairJsonText('{"s":"\\\\",}')).toBe('{"s":"\\\\"}');
  });

  it("the manual's getExtension sample answer (commas missing at line ends), as the manual prints it", () => {
    const extensions = `{
  "status": "SUCCESS",
  "message": "Extension Details."
  "count": 3,
  "data": [
    {
      "ext_id": "645",
      "ext_name": "1001103-1001103"
    }
    {
      "ext_id": "485",
      "ext_name": "102_name-102"
    }
    {
      "ext_id": "625",
      "ext_name": "118-118"
    }
  ]
}`;
    expect(() => JSON.parse(extensions)).toThrow();
    expect(parsed(extensions)).toEqual({
      status: 'SUCCESS',
      message: 'Extension Details.',
      count: 3,
      data: [
        { ext_id: '645', ext_name: '1001103-1001103' },
        { ext_id: '485', ext_name: '102_name-102' },
        { ext_id: '625', ext_name: '118-118' },
      ],
    });
  });

  it("the manual's getPhoneNumber sample answer (trailing commas)", () => {
    const entry = (id: string, name: string): string => `{
"Phonebook ID": "${id}",
"First Name": "${name}",
"Phone Number": "98988778",
"Custom Details": {
  "Company": "Ecosmob",
  "City": "Abd",
  "Office No": "9879973234",
}
}`;
    const phonebook = `{\n "status": "SUCCESS",\n "message": "Phonebook Details:",\n "Count": 2,\n "data": [\n ${entry('41', 'Nisha')},\n${entry('42', 'Anjali')}\n]\n}`;
    expect(parsed(phonebook)).toMatchObject({
      Count: 2,
      data: [
        { 'Phonebook ID': '41', 'Custom Details': { 'Office No': '9879973234' } },
        { 'Phonebook ID': '42', 'First Name': 'Anjali' },
      ],
    });
  });

  it('gives the same text wherever the stream is cut, and valid JSON byte for byte', () => {
    const text = '{"a": "x,}"\n "b": [1,\n 2 ,\n],\n "c": {"d": "\\\\"\n "e": "日本😀",\t}\n,}';
    const whole = repairJsonText(text);
    expect(JSON.parse(whole)).toEqual({ a: 'x,}', b: [1, 2], c: { d: '\\', e: '日本😀' } });
    for (let size = 1; size <= text.length; size++) expect(repairedInPieces(text, size), `pieces of ${size}`).toBe(whole);
    const valid = JSON.stringify({ a: [1, 2, { b: 'c,]' }], d: 'é' }, null, 2);
    expect(repairJsonText(valid)).toBe(valid);
  });
});

describe('parseLenientJson: refused', () => {
  it.each([
    ['empty', ''],
    ['not JSON', '<html>502</html>'],
    ['a comma missing on one line', '{"a":1 "b":2}'],
    ['list entries without a comma on one line', '[{"a":1} {"b":2}]'],
    ['two commas', '[1,,2]'],
    ['two commas before a bracket', '[1,,]'],
    ['a comma with nothing before it', '[,]'],
    ['a leading comma', '{,"a":1}'],
    ['an unterminated string', '{"a":"x}'],
    ['cut short', '{"a":[1,2'],
    ['trailing text', '{"a":1} x'],
    ['single quotes', "{'a':1}"],
    ['a comma after the top-level value', '{"a":1},'],
  ])('%s', (_what, text) => {
    expect(parseLenientJson(text)).toEqual({ ok: false });
  });
});
