import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { MIN_ARRIVALS_PER_SAMPLE, MIN_BUSY_CONNECTIONS, OverloadGuard, SAMPLE_MS, SUSTAIN_SAMPLES } from '../../src/http/overload-guard.js';

/** A keep-alive connection as the guard sees it: something that says once when it closes. */
class FakeConnection extends EventEmitter {
  destroyed = false;
  close(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

const busyGuard = (maxConnectionsBusy = 0.6) => new OverloadGuard({ maxInFlight: 0, maxDelayMs: 0, maxUtilization: 0, maxConnectionsBusy, manual: true });

const connections = (n: number): FakeConnection[] => Array.from({ length: n }, () => new FakeConnection());

/**
 * `count` manual samples in which each connection carries `perConnection` callbacks, each keeping it busy
 * `busyMs` (answered 200 in that time); returns how many were refused.
 */
function samples(guard: OverloadGuard, conns: readonly FakeConnection[], count: number, perConnection: number, busyMs: number): number {
  let refused = 0;
  for (let s = 0; s < count; s++) {
    for (let i = 0; i < perConnection; i++) {
      for (const c of conns) {
        if (guard.admit() === null) guard.done(busyMs, c);
        else refused++;
      }
    }
    guard.sample({ delayMs: 0, utilization: 0 });
  }
  return refused;
}

describe('overload guard: busy keep-alive connections', () => {
  it('when 64 reused connections are each busy 80 % of every sample, then after some SUSTAIN_SAMPLES a growing share is refused as connections_busy', () => {
    const guard = busyGuard();
    const pool = connections(64);
    // The first callback on each connection only marks it seen: it is not yet a reused one.
    expect(samples(guard, pool, 1, 1, 1)).toBe(0);
    expect(guard.stats().reusedConnections).toBe(0);
    expect(samples(guard, pool, SUSTAIN_SAMPLES - 1, 1, 80)).toBe(0);
    expect(guard.stats().reusedConnections).toBe(64);
    expect(guard.stats().connectionsBusy).toBeCloseTo(0.8);
    expect(guard.stats().refuseShare).toBe(0);
    // The share judged is averaged over samples, so it takes a few more than SUSTAIN_SAMPLES to start.
    const first = samples(guard, pool, SUSTAIN_SAMPLES, 1, 80);
    expect(guard.stats().refuseShare).toBeGreaterThan(0);
    const refused = first + samples(guard, pool, 3, 1, 80);
    expect(refused).toBeGreaterThan(first);
    expect(guard.stats().refused).toEqual({ in_flight: 0, event_loop: 0, answer_time: 0, connections_busy: refused, open_calls: 0 });
  });

  it('when the busy share falls well below the limit again, then the share shrinks to 0 and nothing more is refused', () => {
    const guard = busyGuard();
    const pool = connections(64);
    samples(guard, pool, 1, 1, 1);
    samples(guard, pool, SUSTAIN_SAMPLES + 3, 1, 90);
    expect(guard.stats().refuseShare).toBeGreaterThan(0);
    // 64 x 1 callback of 5 ms per 100 ms: 0.05 busy.
    samples(guard, pool, 40, 1, 5);
    expect(guard.stats().refuseShare).toBe(0);
    expect(samples(guard, pool, 3, 1, 5)).toBe(0);
  });

  it('when the busy share swings around the limit sample by sample (a queue in the sender), then its average is judged and a share is refused', () => {
    const guard = busyGuard(0.45);
    const pool = connections(64);
    samples(guard, pool, 1, 1, 1);
    // 0.4, 0.7, 0.4, 0.7 ...: never SUSTAIN_SAMPLES in a row over 0.45, on average 0.55.
    for (let s = 0; s < 20; s++) samples(guard, pool, 1, 1, s % 2 === 0 ? 40 : 70);
    expect(guard.stats().refused.connections_busy).toBeGreaterThan(0);
  });

  it('when 64 reused connections carry a healthy load (each busy 10 % of the time), then nothing is refused', () => {
    const guard = busyGuard();
    const pool = connections(64);
    samples(guard, pool, 1, 1, 1);
    expect(samples(guard, pool, 30, 2, 5)).toBe(0);
    expect(guard.stats().connectionsBusy).toBeCloseTo(0.1);
  });

  it(`when fewer than MIN_BUSY_CONNECTIONS (${MIN_BUSY_CONNECTIONS}) connections are busy on average, however busy each is, then nothing is refused`, () => {
    const guard = busyGuard();
    // One connection carrying 60 callbacks a sample of 1.6 ms each: 0.96 of its time, one connection busy.
    const lone = connections(1);
    samples(guard, lone, 1, 1, 1);
    expect(samples(guard, lone, 30, MIN_ARRIVALS_PER_SAMPLE + 10, 1.6)).toBe(0);
    expect(guard.stats().connectionsBusy).toBeCloseTo(0.96);
    // Seven connections always busy: still under the floor.
    const few = connections(MIN_BUSY_CONNECTIONS - 1);
    const guard2 = busyGuard();
    samples(guard2, few, 1, 1, 1);
    expect(samples(guard2, few, 30, 10, 9.9)).toBe(0);
  });

  it('when every callback comes on a connection of its own (no keep-alive), then no connection counts as reused and nothing is refused', () => {
    const guard = busyGuard();
    let refused = 0;
    for (let s = 0; s < 30; s++) {
      for (let i = 0; i < 200; i++) {
        const c = new FakeConnection();
        if (guard.admit() === null) guard.done(SAMPLE_MS, c);
        else refused++;
        c.close();
      }
      guard.sample({ delayMs: 0, utilization: 0 });
    }
    expect(refused).toBe(0);
    expect(guard.stats().reusedConnections).toBe(0);
    expect(guard.stats().connectionsBusy).toBe(0);
  });

  it('when reused connections close, then they leave the count the busy share is taken over', () => {
    const guard = busyGuard();
    const pool = connections(64);
    samples(guard, pool, 2, 1, 1);
    expect(guard.stats().reusedConnections).toBe(64);
    for (const c of pool.slice(16)) c.close();
    expect(guard.stats().reusedConnections).toBe(16);
    // 16 open connections each busy 50 ms of 100: 0.5.
    samples(guard, pool.slice(0, 16), 1, 5, 10);
    expect(guard.stats().connectionsBusy).toBeCloseTo(0.5);
  });

  it('when a connection closed before its callback was answered, then it is not counted as open', () => {
    const guard = busyGuard();
    const [c] = connections(1);
    if (!c) throw new Error('no connection');
    guard.admit();
    guard.done(1, c);
    guard.admit();
    c.close();
    guard.done(1, c);
    expect(guard.stats().reusedConnections).toBe(0);
  });

  it('when a callback is held longer than a sample (a stall), then it counts as busy for one sample at most', () => {
    const guard = busyGuard();
    const pool = connections(10);
    samples(guard, pool, 1, 1, 1);
    samples(guard, pool, 1, 1, 5_000);
    expect(guard.stats().connectionsBusy).toBe(1);
    // A timer that fired 100 ms late: the sample covered 200 ms.
    for (const c of pool) {
      guard.admit();
      guard.done(SAMPLE_MS, c);
    }
    guard.sample({ delayMs: SAMPLE_MS, utilization: 0 });
    expect(guard.stats().connectionsBusy).toBeCloseTo(0.5);
  });

  it('when the busy connections started the refusing and the loop is hot in one sample now and then, then the refusals stay counted as connections_busy', () => {
    const guard = new OverloadGuard({ maxInFlight: 0, maxDelayMs: 0, maxUtilization: 0.9, maxConnectionsBusy: 0.45, manual: true });
    const pool = connections(64);
    let refused = 0;
    const sample = (utilization: number): void => {
      for (const c of pool) {
        if (guard.admit() === null) guard.done(80, c);
        else refused++;
      }
      guard.sample({ delayMs: 0, utilization });
    };
    sample(0);
    for (let s = 0; s < 20; s++) sample(s % 4 === 3 ? 1 : 0);
    expect(refused).toBeGreaterThan(0);
    expect(guard.stats().refused).toMatchObject({ connections_busy: refused, event_loop: 0 });
  });

  it('when CALLBACK_MAX_CONNECTIONS_BUSY is 0, then busy connections refuse nothing and the figure is still reported', () => {
    const guard = busyGuard(0);
    const pool = connections(64);
    samples(guard, pool, 1, 1, 1);
    expect(samples(guard, pool, 30, 1, 95)).toBe(0);
    expect(guard.stats().connectionsBusy).toBeCloseTo(0.95);
  });

  it('when a sample is taken, then its listeners get the busy share (null when no callback came)', () => {
    const guard = busyGuard();
    const seen: Array<number | null> = [];
    guard.onSample(({ connectionsBusy }) => seen.push(connectionsBusy));
    const pool = connections(8);
    samples(guard, pool, 1, 1, 1);
    samples(guard, pool, 1, 1, 25);
    guard.sample({ delayMs: 0, utilization: 0 });
    expect(seen).toEqual([0, 0.25, null]);
  });
});
