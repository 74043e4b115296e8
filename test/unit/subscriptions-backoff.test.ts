import { describe, expect, it } from 'vitest';
import { backoffCeilingMs, backoffDelayMs, DEFAULT_BACKOFF } from '../../src/subscriptions/backoff.js';

describe('subscription retry backoff', () => {
  it('when failures repeat, then the step doubles from 1 s and stops at 5 min', () => {
    const steps = Array.from({ length: 12 }, (_, i) => backoffCeilingMs(i + 1));
    expect(steps).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000, 300000, 300000]);
    expect(backoffCeilingMs(1000)).toBe(300_000);
    expect(backoffCeilingMs(0)).toBe(1000);
    expect(DEFAULT_BACKOFF).toEqual({ baseMs: 1000, maxMs: 300_000 });
  });

  it('when jitter is applied, then the delay lies within the upper half of the step', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const ceiling = backoffCeilingMs(attempt);
      expect(backoffDelayMs(attempt, DEFAULT_BACKOFF, () => 0)).toBe(ceiling / 2);
      expect(backoffDelayMs(attempt, DEFAULT_BACKOFF, () => 1)).toBe(ceiling);
      for (let i = 0; i < 10; i++) {
        const d = backoffDelayMs(attempt);
        expect(d).toBeGreaterThanOrEqual(ceiling / 2);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it('when many extensions fail together, then their retries spread out', () => {
    const delays = new Set(Array.from({ length: 100 }, () => backoffDelayMs(5)));
    expect(delays.size).toBeGreaterThan(50);
  });

  it('when a shorter policy is given (tests), then it is used', () => {
    const policy = { baseMs: 20, maxMs: 100 };
    expect([1, 2, 3, 4, 5].map((n) => backoffCeilingMs(n, policy))).toEqual([20, 40, 80, 100, 100]);
    expect(backoffDelayMs(3, policy, () => 0.5)).toBe(60);
  });

  it('when random() misbehaves, then the delay still stays within bounds', () => {
    expect(backoffDelayMs(1, DEFAULT_BACKOFF, () => -3)).toBe(500);
    expect(backoffDelayMs(1, DEFAULT_BACKOFF, () => 7)).toBe(1000);
  });
});
