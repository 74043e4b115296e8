import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { Lifecycle } from '../../src/lifecycle.js';
import { LogCapture } from '../helpers/log-capture.js';

describe('Lifecycle', () => {
  it('when closed, then the parts close newest first, each once, however often close() is called', async () => {
    const order: string[] = [];
    const parts = new Lifecycle(createLogger('silent'));
    for (const name of ['stores', 'pbx', 'server']) parts.own({ close: async () => void order.push(name) });
    await Promise.all([parts.close(), parts.close()]);
    await parts.close();
    expect(order).toEqual(['server', 'pbx', 'stores']);
  });

  it('when a part fails to close, then it is logged and the parts owned before it still close', async () => {
    const logs = new LogCapture();
    const order: string[] = [];
    const parts = new Lifecycle(createLogger('warn', logs.stream));
    parts.own({ close: () => void order.push('first') });
    parts.own({
      close: async () => {
        throw new Error('boom');
      },
    });
    await parts.close();
    expect(order).toEqual(['first']);
    expect(logs.parsed()).toEqual([expect.objectContaining({ msg: 'error while closing' })]);
  });

  it('answers the part it owns', () => {
    const part = { close: () => undefined, name: 'x' };
    expect(new Lifecycle(createLogger('silent')).own(part)).toBe(part);
  });
});
