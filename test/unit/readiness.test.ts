import { describe, expect, it } from 'vitest';
import { composeReadiness, readinessDetail, type ReadinessPart } from '../../src/ops/readiness.js';

describe('composeReadiness', () => {
  it('when no part gives a reason, then ready, with every part\'s fields in the parts\' order', async () => {
    const r = await composeReadiness([readinessDetail('b', () => 1), { readiness: async () => ({ fields: { a: 'x' }, reasons: [] }) }]);
    expect(r).toEqual({ ready: true, reasons: [], b: 1, a: 'x' });
    expect(Object.keys(r)).toEqual(['ready', 'reasons', 'b', 'a']);
  });

  it('when parts give reasons, then not ready, with every reason in the parts\' order', async () => {
    const down: ReadinessPart = { readiness: () => ({ fields: { redis: 'unreachable' }, reasons: ['Redis is unreachable'] }) };
    const degraded: ReadinessPart = { readiness: () => ({ fields: { eventLog: 'degraded' }, reasons: ['event log degraded'] }) };
    const r = await composeReadiness([down, readinessDetail('demo', () => false), degraded]);
    expect(r).toEqual({ ready: false, reasons: ['Redis is unreachable', 'event log degraded'], redis: 'unreachable', demo: false, eventLog: 'degraded' });
  });
});
