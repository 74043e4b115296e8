import { describe, expect, it } from 'vitest';
import { MIN_ARRIVALS_PER_SAMPLE, OverloadGuard, SAMPLE_MS, SUSTAIN_SAMPLES } from '../../src/http/overload-guard.js';

/** Manual samples of `arrivals` callbacks each, every admitted one answered `answerMs` after it arrived. */
const samples = (guard: OverloadGuard, count: number, answerMs: (i: number) => number, arrivals = MIN_ARRIVALS_PER_SAMPLE): number => {
  let refused = 0;
  for (let s = 0; s < count; s++) {
    for (let i = 0; i < arrivals; i++) {
      if (guard.admit() === null) guard.done(answerMs(i));
      else refused++;
    }
    guard.sample({ delayMs: 0, utilization: 0 });
  }
  return refused;
};

const answerGuard = (maxAnswerMs = 10) => new OverloadGuard({ maxInFlight: 0, maxDelayMs: 0, maxUtilization: 0, maxAnswerMs, manual: true });

describe('overload guard: answer time (the least of a sample)', () => {
  it('when even the quickest answer of each sample stays over CALLBACK_MAX_ANSWER_MS, then a growing share is refused as answer_time, and none once answers are quick again', () => {
    const guard = answerGuard();
    expect(samples(guard, SUSTAIN_SAMPLES - 1, () => 15)).toBe(0);
    expect(guard.stats().refuseShare).toBe(0);
    expect(guard.stats().answerMinMs).toBe(15);
    samples(guard, 1, () => 15);
    expect(guard.stats().refuseShare).toBeGreaterThan(0);
    const refused = samples(guard, 3, () => 15);
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThan(3 * MIN_ARRIVALS_PER_SAMPLE);
    expect(guard.stats().refused).toEqual({ in_flight: 0, event_loop: 0, answer_time: refused, connections_busy: 0, open_calls: 0 });
    samples(guard, 30, () => 1);
    expect(guard.stats().refuseShare).toBe(0);
    expect(samples(guard, 3, () => 1)).toBe(0);
  });

  it('when most answers are slow but some in each sample are quick (a burst, one pause), then nothing is refused', () => {
    const guard = answerGuard();
    // 49 of 50 answers take 40 ms; the one quick answer shows there is no standing queue.
    expect(samples(guard, 30, (i) => (i === 0 ? 2 : 40))).toBe(0);
    expect(guard.stats().answerMinMs).toBe(2);
  });

  it('when the answers are slow but callbacks are fewer than MIN_ARRIVALS_PER_SAMPLE per sample (a slow machine at a low rate), then nothing is refused', () => {
    expect(samples(answerGuard(), 50, () => 500, MIN_ARRIVALS_PER_SAMPLE - 1)).toBe(0);
  });

  it('when CALLBACK_MAX_ANSWER_MS is 0, then slow answers refuse nothing', () => {
    expect(samples(answerGuard(0), 50, () => 500)).toBe(0);
  });

  it('when callbacks keep coming and none is answered in a sample, then that counts as slow as the whole sample', () => {
    const guard = answerGuard();
    let refused = 0;
    for (let s = 0; s < SUSTAIN_SAMPLES + 5; s++) {
      for (let i = 0; i < MIN_ARRIVALS_PER_SAMPLE; i++) if (guard.admit() !== null) refused++;
      guard.sample({ delayMs: 0, utilization: 0 });
    }
    expect(guard.stats().answerMinMs).toBe(SAMPLE_MS);
    expect(refused).toBeGreaterThan(0);
    expect(guard.stats().refused.answer_time).toBe(refused);
  });

  it('when the loop is what is hot, then the refusals are counted as event_loop, not answer_time', () => {
    const guard = new OverloadGuard({ maxInFlight: 0, maxDelayMs: 0, maxUtilization: 0.9, maxAnswerMs: 10, manual: true });
    let refused = 0;
    for (let s = 0; s < SUSTAIN_SAMPLES + 5; s++) {
      for (let i = 0; i < MIN_ARRIVALS_PER_SAMPLE; i++) {
        if (guard.admit() === null) guard.done(1);
        else refused++;
      }
      guard.sample({ delayMs: 0, utilization: 1 });
    }
    expect(refused).toBeGreaterThan(0);
    expect(guard.stats().refused).toMatchObject({ event_loop: refused, answer_time: 0 });
  });

  it('when a sample is taken, then its listeners get its least answer time (null when no callback came)', () => {
    const guard = answerGuard();
    const seen: Array<number | null> = [];
    guard.onSample(({ answerMinMs }) => seen.push(answerMinMs));
    guard.admit();
    guard.done(7);
    guard.admit();
    guard.done(3);
    guard.sample({ delayMs: 0, utilization: 0 });
    guard.sample({ delayMs: 0, utilization: 0 });
    expect(seen).toEqual([3, null]);
  });
});
