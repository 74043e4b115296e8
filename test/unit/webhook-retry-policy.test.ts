/** When a failed webhook delivery is tried again (src/crm-webhooks/retry-policy.ts). */
import { describe, expect, it } from 'vitest';
import { nextDelayMs, parseRetryAfter } from '../../src/crm-webhooks/retry-policy.js';

describe('retry policy', () => {
  const policy = (random: number) => ({ scheduleS: [5, 300], random: () => random });
  it('waits the schedule with ±20 % jitter, then gives up', () => {
    expect(nextDelayMs(policy(0), 1, null)).toBe(4000);
    expect(nextDelayMs(policy(1), 1, null)).toBe(6000);
    expect(nextDelayMs(policy(0.5), 2, null)).toBe(300_000);
    expect(nextDelayMs(policy(0.5), 3, null)).toBeNull();
  });
  it('never retries earlier than Retry-After asks, capped at the longest step (at least 60 s)', () => {
    expect(nextDelayMs(policy(0.5), 1, 30_000)).toBe(30_000);
    expect(nextDelayMs(policy(0.5), 1, 1000)).toBe(5000);
    expect(nextDelayMs(policy(0.5), 1, 10 * 86_400_000)).toBe(300_000);
    expect(nextDelayMs({ scheduleS: [0.05], random: () => 0.5 }, 1, 3_600_000)).toBe(60_000);
  });
  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });
});
