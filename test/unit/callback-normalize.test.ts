import { describe, expect, it } from 'vitest';
import {
  CALLBACK_FIELD_ALIASES,
  dedupeRule,
  mapCallState,
  normalizeCallback,
  type NormalizedCallback,
} from '../../src/core/callback.js';
import { redactForRecord, redactText } from '../../src/http/callback-redaction.js';
import { CallbackError } from '../../src/errors.js';

const base = { extension: '122', caller: '09824740472' };

function errorOf(fn: () => unknown): CallbackError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CallbackError) return err;
    throw err;
  }
  throw new Error('expected a CallbackError');
}

describe('normalizeCallback: the contract aliases', () => {
  describe.each([...CALLBACK_FIELD_ALIASES.extension])('extension alias %s', (alias) => {
    it('is read as the extension', () => {
      expect(normalizeCallback({ [alias]: '122', caller: '555' }, {}).extension).toBe('122');
    });
  });

  describe.each([...CALLBACK_FIELD_ALIASES.from])('caller alias %s', (alias) => {
    it('is read as the caller', () => {
      expect(normalizeCallback({ extension: '122', [alias]: '09824740472' }, {}).from).toBe('09824740472');
    });
  });

  describe.each([...CALLBACK_FIELD_ALIASES.fromName])('caller name alias %s', (alias) => {
    it('is read as the caller name', () => {
      expect(normalizeCallback({ ...base, [alias]: 'NISHA' }, {}).fromName).toBe('NISHA');
    });
  });

  describe.each([...CALLBACK_FIELD_ALIASES.callId])('call id alias %s', (alias) => {
    it('is read as the call id', () => {
      expect(normalizeCallback({ ...base, [alias]: '4fa3de7c' }, {}).callId).toBe('4fa3de7c');
    });
  });

  describe.each([...CALLBACK_FIELD_ALIASES.state])('state alias %s', (alias) => {
    it('is read as the state', () => {
      expect(normalizeCallback({ ...base, [alias]: 'answered' }, {}).state).toBe('answered');
    });
  });

  it('lists exactly the contract names', () => {
    expect(CALLBACK_FIELD_ALIASES.extension).toHaveLength(14);
    expect(CALLBACK_FIELD_ALIASES.from).toHaveLength(14);
    expect(CALLBACK_FIELD_ALIASES.fromName).toHaveLength(6);
    expect(CALLBACK_FIELD_ALIASES.callId).toHaveLength(7);
    expect(CALLBACK_FIELD_ALIASES.state).toHaveLength(7);
  });

  it('returns the canonical shape with nulls for what is absent', () => {
    expect(normalizeCallback(base, {})).toEqual<NormalizedCallback>({
      extension: '122',
      from: '09824740472',
      fromName: null,
      callId: null,
      state: 'ringing',
    });
  });
});

describe('normalizeCallback: names without regard to case, - or _', () => {
  it.each([
    [{ 'Caller-Destination-Number': '122', 'Caller-Caller-ID-Number': '555' }],
    [{ CALLER_DESTINATION_NUMBER: '122', CALLER_ID_NUMBER: '555' }],
    [{ callerDestinationNumber: '122', callerId: '555' }],
    [{ 'EXTENSION-NUMBER': '122', 'caller-id': '555' }],
    [{ Ext: '122', CID: '555' }],
  ])('%o', (fields) => {
    const cb = normalizeCallback(fields, {});
    expect(cb.extension).toBe('122');
    expect(cb.from).toBe('555');
  });

  it('reads FreeSWITCH-style names for every field', () => {
    const cb = normalizeCallback(
      {
        'Caller-Destination-Number': '122',
        'Caller-Caller-ID-Number': '+15551230000',
        'Caller-Caller-ID-Name': 'Nisha',
        'Unique-ID': 'abc-123',
        'Event-Name': 'CHANNEL_PROGRESS_MEDIA',
      },
      {},
    );
    expect(cb).toEqual({ extension: '122', from: '+15551230000', fromName: 'Nisha', callId: 'abc-123', state: 'ringing' });
  });
});

describe('normalizeCallback: precedence', () => {
  it('takes the first listed alias when several are present', () => {
    const cb = normalizeCallback({ to: '999', extension: '122', extension_number: '101', number: '1', caller: '2' }, {});
    expect(cb.extension).toBe('101');
    expect(cb.from).toBe('2');
  });

  it('skips empty values and takes the next alias', () => {
    expect(normalizeCallback({ extension_number: '', extension: '  ', to: '122', caller: '5' }, {}).extension).toBe('122');
    expect(normalizeCallback({ ...base, caller_name: '', cid_name: 'N' }, {}).fromName).toBe('N');
    expect(normalizeCallback({ ...base, call_id: null, uuid: 'u' }, {}).callId).toBe('u');
  });

  it('reads fields nested under data, which win over the top level', () => {
    const cb = normalizeCallback({ status: 'SUCCESS', extension: '999', data: { extension: '122', caller: '555', call_id: 'x' } }, {});
    expect(cb).toMatchObject({ extension: '122', from: '555', callId: 'x', state: 'ringing' });
  });

  it('fills from the top level what data lacks', () => {
    expect(normalizeCallback({ caller: '555', data: { extension: '122' } }, {})).toMatchObject({ extension: '122', from: '555' });
  });

  it('ignores a data field that is not an object', () => {
    expect(normalizeCallback({ ...base, data: 'x' }, {}).extension).toBe('122');
  });
});

describe('normalizeCallback: site field names (PBX_CALLBACK_FIELDS)', () => {
  it('are tried before the built-in aliases', () => {
    const cb = normalizeCallback(
      { extension: '999', agent_ext: '122', caller: '1', clid: '555', who: 'N', ref: 'r', phase: 'hangup', event: 'ring' },
      { extension: ['agent_ext'], from: ['clid'], fromName: ['who'], callId: ['ref'], state: ['phase'] },
    );
    // The built-in alias the site's name outranked is kept only as a hint of the group the call came through.
    expect(cb).toEqual({ extension: '122', from: '555', fromName: 'N', callId: 'r', state: 'ended', viaHints: ['999'] });
  });

  it('match without regard to case, - or _', () => {
    expect(normalizeCallback({ 'Agent-Ext': '122', caller: '5' }, { extension: ['agent_ext'] }).extension).toBe('122');
  });

  it('fall back to the built-in aliases when absent', () => {
    expect(normalizeCallback(base, { extension: ['agent_ext'] }).extension).toBe('122');
  });

  it('take a built-in alias away from another field', () => {
    // This site sends the extension as `number`, so `number` is not the caller there.
    const fields = { number: '122', src: '555' };
    expect(normalizeCallback(fields, { extension: ['number'] })).toMatchObject({ extension: '122', from: '555' });
    expect(errorOf(() => normalizeCallback({ number: '122' }, { extension: ['number'] })).code).toBe('CALLBACK_ERR_NO_CALLER');
  });

  it('are named in the missing-field message', () => {
    expect(errorOf(() => normalizeCallback({ caller: '5' }, { extension: ['agent_ext'] })).message).toContain('agent_ext');
  });
});

describe('normalizeCallback: states', () => {
  it.each([
    ['ringing', 'ringing'],
    ['RING', 'ringing'],
    ['ring_start', 'ringing'],
    ['early', 'ringing'],
    ['Early', 'ringing'],
    ['CHANNEL_PROGRESS', 'ringing'],
    ['CHANNEL_PROGRESS_MEDIA', 'ringing'],
    ['answer', 'answered'],
    ['answered', 'answered'],
    ['ANSWERED', 'answered'],
    ['CHANNEL_ANSWER', 'answered'],
    ['hangup', 'ended'],
    ['HANGUP_COMPLETE', 'ended'],
    ['end', 'ended'],
    ['ended', 'ended'],
    ['CHANNEL_HANGUP', 'ended'],
    ['CHANNEL_HANGUP_COMPLETE', 'ended'],
  ] as const)('%s -> %s', (value, state) => {
    expect(mapCallState(value)).toBe(state);
    expect(normalizeCallback({ ...base, state: value }, {}).state).toBe(state);
  });

  it('is ringing when absent or empty', () => {
    expect(normalizeCallback(base, {}).state).toBe('ringing');
    expect(normalizeCallback({ ...base, event: '' }, {}).state).toBe('ringing');
  });

  it('refuses an unknown value, naming the state field', () => {
    const err = errorOf(() => normalizeCallback({ ...base, event: 'CHANNEL_CREATE' }, {}));
    expect(err.code).toBe('CALLBACK_ERR_BAD_FIELD');
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/^state "event"/);
  });

  it('takes the first recognised value, so noise in one alias does not hide a state in another', () => {
    expect(normalizeCallback({ ...base, 'Event-Name': 'CHANNEL_BRIDGE', 'Answer-State': 'answered' }, {}).state).toBe('answered');
    expect(normalizeCallback({ ...base, status: 'weird', call_state: 'hangup' }, {}).state).toBe('ended');
  });

  it('treats API result words (status SUCCESS) as no state', () => {
    expect(normalizeCallback({ ...base, status: 'SUCCESS' }, {}).state).toBe('ringing');
    expect(normalizeCallback({ ...base, status: 'ok', event: 'answer' }, {}).state).toBe('answered');
  });
});

describe('normalizeCallback: values', () => {
  it('turns numbers into strings', () => {
    const cb = normalizeCallback({ extension: 122, caller: 919824740472, call_id: 77 }, {});
    expect(cb).toMatchObject({ extension: '122', from: '919824740472', callId: '77' });
  });

  it.each([
    ['an array', ['122']],
    ['an object', { n: '122' }],
    ['a boolean', true],
  ])('refuses %s, naming the field', (_label, value) => {
    const err = errorOf(() => normalizeCallback({ extension: value, caller: '5' }, {}));
    expect(err.code).toBe('CALLBACK_ERR_BAD_FIELD');
    expect(err.message).toContain('"extension"');
  });

  it('refuses arrays in other fields too', () => {
    expect(errorOf(() => normalizeCallback({ ...base, caller_name: ['a', 'b'] }, {})).message).toContain('"caller_name"');
    expect(errorOf(() => normalizeCallback({ extension: '1', from: ['1', '2'] }, {})).code).toBe('CALLBACK_ERR_BAD_FIELD');
  });

  it('trims and strips control characters', () => {
    const cb = normalizeCallback({ extension: ' 122\n', caller: '\t0982\u00004740472 ', caller_name: 'NI\u001bSHA\u202e' }, {});
    expect(cb).toMatchObject({ extension: '122', from: '09824740472', fromName: 'NISHA' });
  });

  it.each(['122', '+15551234567', '*97', '#1', '0'])('accepts extension %s', (ext) => {
    expect(normalizeCallback({ extension: ext, caller: '5' }, {}).extension).toBe(ext);
  });

  it.each(['abc', 'sip:122@pbx', '12 3', '*', '1'.repeat(33)])('refuses extension %s', (ext) => {
    const err = errorOf(() => normalizeCallback({ extension: ext, caller: '5' }, {}));
    expect(err.code).toBe('CALLBACK_ERR_BAD_FIELD');
    expect(err.message).toMatch(/^extension "extension"/);
  });

  it.each(['anonymous', 'Restricted', 'sip:alice@example.com', '+1 (555) 123-4567'])('accepts caller %s', (from) => {
    expect(normalizeCallback({ extension: '1', caller: from }, {}).from).toBe(from);
  });

  it('refuses a caller over 64 characters', () => {
    expect(errorOf(() => normalizeCallback({ extension: '1', caller: '1'.repeat(65) }, {})).code).toBe('CALLBACK_ERR_BAD_FIELD');
    expect(normalizeCallback({ extension: '1', caller: '1'.repeat(64) }, {}).from).toHaveLength(64);
  });

  it('cuts a caller name to 128 characters and refuses a call id over 128', () => {
    expect(normalizeCallback({ ...base, caller_name: 'n'.repeat(300) }, {}).fromName).toHaveLength(128);
    expect(errorOf(() => normalizeCallback({ ...base, call_id: 'c'.repeat(129) }, {})).code).toBe('CALLBACK_ERR_BAD_FIELD');
  });
});

describe('normalizeCallback: missing fields', () => {
  it('names the extension', () => {
    const err = errorOf(() => normalizeCallback({ caller: '5' }, {}));
    expect(err.code).toBe('CALLBACK_ERR_NO_EXTENSION');
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/^extension is missing: send one of extension_number, extension/);
  });

  it('names the caller', () => {
    const err = errorOf(() => normalizeCallback({ extension: '122', caller: '' }, {}));
    expect(err.code).toBe('CALLBACK_ERR_NO_CALLER');
    expect(err.message).toMatch(/^caller \(from\) is missing: send one of caller, caller_number/);
  });

  it('does not take secret or unrelated fields for anything', () => {
    expect(errorOf(() => normalizeCallback({ secret: '122', foo: '1' }, {})).code).toBe('CALLBACK_ERR_NO_EXTENSION');
  });
});

describe('dedupeRule', () => {
  const cb: NormalizedCallback = { extension: '122', from: '555', fromName: 'N', callId: 'abc', state: 'ringing' };

  it('with a call id: keyed on call id, extension and state, kept a day', () => {
    const rule = dedupeRule(cb);
    expect(rule).toEqual({ key: 'c:abc:122:ringing', ttlMs: 24 * 3600 * 1000 });
    expect(dedupeRule({ ...cb, from: 'other', fromName: null })).toEqual(rule);
    expect(dedupeRule({ ...cb, state: 'answered' }).key).not.toBe(rule.key);
    expect(dedupeRule({ ...cb, extension: '123' }).key).not.toBe(rule.key);
  });

  it('without a call id: keyed on the fields, within 10 s', () => {
    const noId = { ...cb, callId: null };
    const rule = dedupeRule(noId);
    expect(rule.key).toMatch(/^f:[0-9a-f]{40}$/);
    expect(rule.ttlMs).toBe(10_000);
    expect(dedupeRule({ ...noId })).toEqual(rule);
    expect(dedupeRule({ ...noId, state: 'ended' }).key).not.toBe(rule.key);
    expect(dedupeRule({ ...noId, from: '556' }).key).not.toBe(rule.key);
    expect(dedupeRule({ ...noId, fromName: null }).key).not.toBe(rule.key);
  });

  it('same normalized input from differently named fields gives the same key', () => {
    const a = normalizeCallback({ extension: '122', caller: '555' }, {});
    const b = normalizeCallback({ 'Caller-Destination-Number': '122', from: '555', status: 'ring' }, {});
    expect(dedupeRule(a)).toEqual(dedupeRule(b));
  });
});

describe('redaction for the record', () => {
  const secret = 's3cr3t-value+/=';

  it('removes credential-looking fields and the secret from every string', () => {
    const out = redactForRecord(
      { extension: '1', password: 'p', Api_Key: 'k', nested: { token_id: 't', note: `x${secret}y`, enc: encodeURIComponent(secret) } },
      [secret],
    );
    expect(out).toEqual({
      extension: '1',
      password: '[redacted]',
      Api_Key: '[redacted]',
      nested: { token_id: '[redacted]', note: 'x[redacted]y', enc: '[redacted]' },
    });
  });

  it('masks name=value credentials in unparsable text', () => {
    expect(redactText('{"password":"hunter2", "ext":"1"', [])).toBe('{"password":"[redacted]", "ext":"1"');
    expect(redactText('secret=abc&ext=1', [])).toBe('secret=[redacted]&ext=1');
  });

  it('bounds the size of what it keeps', () => {
    const out = redactForRecord({ long: 'x'.repeat(5000) }, []) as { long: string };
    expect(out.long.length).toBeLessThan(600);
  });
});

describe('normalizeCallback: hints of the ring group or queue (docs/calls.md)', () => {
  it('reads group-like fields first, then other extension aliases that are not the extension', () => {
    const cb = normalizeCallback({ extension_number: '101', callee_number: '5000', caller_number: '555', ring_group: 'Sales' }, {});
    expect(cb.extension).toBe('101');
    expect(cb.viaHints).toEqual(['Sales', '5000']);
  });

  it('leaves the extension as the precedence says: a callee alone is the extension, no hint', () => {
    const cb = normalizeCallback({ callee_number: '101', caller_number: '555' }, {});
    expect(cb.extension).toBe('101');
    expect(cb.viaHints).toBeUndefined();
  });

  it('skips hints that are not plain text instead of refusing the callback', () => {
    const cb = normalizeCallback({ extension_number: '101', caller_number: '555', queue: { id: 1 }, did: '2000' }, {});
    expect(cb.viaHints).toEqual(['2000']);
  });
});
