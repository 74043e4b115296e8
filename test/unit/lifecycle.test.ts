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

  it('when a part never closes, then it is abandoned at the deadline, logged by name, and the parts before it still close in order', async () => {
    const logs = new LogCapture();
    const order: string[] = [];
    const parts = new Lifecycle(createLogger('warn', logs.stream), { deadlineMs: 50 });
    parts.own({ close: () => void order.push('stores') }, 'stores');
    parts.own({ close: () => new Promise<void>(() => undefined) }, 'webhooks');
    parts.own({ close: () => void order.push('server') }, 'HTTP server');
    await parts.close();
    expect(order).toEqual(['server', 'stores']);
    expect(logs.parsed()).toEqual([expect.objectContaining({ msg: expect.stringMatching(/abandoned/), abandoned: ['webhooks'] })]);
  });

  it('when parts after the deadline are slow, then each still gets its close called', async () => {
    const order: string[] = [];
    const parts = new Lifecycle(createLogger('silent'), { deadlineMs: 10 });
    parts.own({ close: () => void order.push('stores') }, 'stores');
    parts.own({ close: () => new Promise<void>(() => void order.push('hung 2')) }, 'hung 2');
    parts.own({ close: () => new Promise<void>(() => void order.push('hung 1')) }, 'hung 1');
    await parts.close();
    expect(order).toEqual(['hung 1', 'hung 2', 'stores']);
  });

  it('answers the part it owns', () => {
    const part = { close: () => undefined, name: 'x' };
    expect(new Lifecycle(createLogger('silent')).own(part)).toBe(part);
  });
});
