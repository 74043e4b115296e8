import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

const problems = (env: Record<string, string>): string[] => {
  const r = loadConfig(env);
  return r.ok ? [] : r.problems;
};

describe('callback overload settings', () => {
  it('when nothing is set, then the defaults are the documented ones', () => {
    const r = loadConfig({});
    expect(r.ok && r.config).toMatchObject({ callbackMaxInFlight: 1000, callbackMaxEventLoopDelayMs: 200, callbackMaxEventLoopUtilization: 0.95, callbackMaxOpenCalls: 10_000 });
    expect(r.ok && r.config.callbackMaxAnswerMs).toBe(50);
  });

  it('when CALLBACK_MAX_ANSWER_MS is set, including 0 (off), then it is read', () => {
    expect(loadConfig({ CALLBACK_MAX_ANSWER_MS: '0' })).toMatchObject({ ok: true, config: { callbackMaxAnswerMs: 0 } });
    expect(loadConfig({ CALLBACK_MAX_ANSWER_MS: '25' })).toMatchObject({ ok: true, config: { callbackMaxAnswerMs: 25 } });
  });

  it('when CALLBACK_MAX_CONNECTIONS_BUSY is unset or set, including 0 (off), then it is read', () => {
    expect(loadConfig({})).toMatchObject({ ok: true, config: { callbackMaxConnectionsBusy: 0 } });
    expect(loadConfig({ CALLBACK_MAX_CONNECTIONS_BUSY: '0' })).toMatchObject({ ok: true, config: { callbackMaxConnectionsBusy: 0 } });
    expect(loadConfig({ CALLBACK_MAX_CONNECTIONS_BUSY: '0.7' })).toMatchObject({ ok: true, config: { callbackMaxConnectionsBusy: 0.7 } });
  });

  it('when CALLBACK_MAX_OPEN_CALLS is set, including 0 (off), then it is read', () => {
    expect(loadConfig({ CALLBACK_MAX_OPEN_CALLS: '0' })).toMatchObject({ ok: true, config: { callbackMaxOpenCalls: 0 } });
    expect(loadConfig({ CALLBACK_MAX_OPEN_CALLS: '2500' })).toMatchObject({ ok: true, config: { callbackMaxOpenCalls: 2500 } });
  });

  it('when each is set, including 0 (off), then it is read', () => {
    const r = loadConfig({ CALLBACK_MAX_IN_FLIGHT: '0', CALLBACK_MAX_EVENT_LOOP_DELAY_MS: '500', CALLBACK_MAX_EVENT_LOOP_UTILIZATION: '0.9' });
    expect(r.ok && r.config).toMatchObject({ callbackMaxInFlight: 0, callbackMaxEventLoopDelayMs: 500, callbackMaxEventLoopUtilization: 0.9 });
    const off = loadConfig({ CALLBACK_MAX_EVENT_LOOP_UTILIZATION: '0' });
    expect(off.ok && off.config.callbackMaxEventLoopUtilization).toBe(0);
  });

  it.each([
    ['CALLBACK_MAX_IN_FLIGHT', '-1'],
    ['CALLBACK_MAX_IN_FLIGHT', 'many'],
    ['CALLBACK_MAX_OPEN_CALLS', '-5'],
    ['CALLBACK_MAX_EVENT_LOOP_DELAY_MS', '1.5'],
    ['CALLBACK_MAX_ANSWER_MS', '-1'],
    ['CALLBACK_MAX_ANSWER_MS', '2.5'],
    ['CALLBACK_MAX_EVENT_LOOP_UTILIZATION', '1.5'],
    ['CALLBACK_MAX_EVENT_LOOP_UTILIZATION', '95%'],
    ['CALLBACK_MAX_CONNECTIONS_BUSY', '1.2'],
    ['CALLBACK_MAX_CONNECTIONS_BUSY', 'busy'],
  ])('when %s is %s, then the problem names it', (name, value) => {
    const found = problems({ [name]: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(new RegExp(`^${name}: `));
  });
});
