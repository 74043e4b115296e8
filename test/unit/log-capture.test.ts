import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { LogCapture } from '../helpers/log-capture.js';

describe('LogCapture (the tests\' log sink)', () => {
  it('when a logger writes to it, then every line parses into its fields', () => {
    const logs = new LogCapture();
    const log = createLogger('debug', logs.stream);
    log.info({ extension: '122' }, 'one');
    log.warn('two');
    expect(logs.parsed().map((l) => [l.level, l.msg, l.extension])).toEqual([
      [30, 'one', '122'],
      [40, 'two', undefined],
    ]);
    expect(logs.text()).toContain('"msg":"one"');
  });

  it('when lines arrive cut across chunks, as from a piped stdout, then they are joined whole', async () => {
    const logs = new LogCapture();
    const bytes = Buffer.from('{"msg":"caf\u00e9"}\n{"msg":"two"}\n{"msg":"tail"}');
    // Cut inside the two-byte "é" and inside the second line.
    for (const [from, to] of [[0, 12], [12, 20], [20, bytes.length]] as const) logs.stream.write(bytes.subarray(from, to));
    await new Promise<void>((resolve) => logs.stream.end(resolve));
    expect(logs.parsed().map((l) => l.msg)).toEqual(['café', 'two', 'tail']);
  });
});
