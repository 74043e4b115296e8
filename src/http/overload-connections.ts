/**
 * How busy the PBX's reused keep-alive connections are (docs/performance.md, "Overload: busy connections"): per
 * sample, the time callbacks were in flight on connections that had already carried one, over those connections'
 * time. A sender with a fixed pool whose every connection is busy queues callbacks in its own pool, where the
 * bridge's other signals cannot see them. A connection counts once it has carried its second callback, so a PBX
 * opening a connection per callback never counts here.
 *
 * Per callback: one WeakSet lookup and an addition (two on a connection's first two); per connection: one
 * entry in each set and one 'close' listener; read once per sample. No timer, no per-callback allocation.
 */

/** What the guard needs of a connection (a net.Socket): whether it is closed already, and to be told once it closes. */
export interface GuardConnection {
  readonly destroyed: boolean;
  once(event: 'close', listener: () => void): unknown;
}

export interface ConnectionsSample {
  /** Mean callbacks in flight on reused connections over the sample (= busy connections on average). */
  busyConnections: number;
  /** busyConnections over the reused connections open, 0..1 (0 when none is open). */
  busyShare: number;
}

export class ConnectionsBusy {
  /** Connections that carried a callback answered. */
  private readonly seen = new WeakSet<GuardConnection>();
  /** Of those, the ones that carried a second: reused keep-alive connections, counted in `open` until closed. */
  private readonly reused = new WeakSet<GuardConnection>();
  private open = 0;
  /** Time (ms) callbacks on reused connections were in flight, answered since the last sample. */
  private busyMs = 0;
  private readonly closed = (): void => {
    this.open--;
  };

  /** `sampleMs`: the guard's sample length, the most one callback adds to a sample's busy time. */
  constructor(private readonly sampleMs: number) {}

  /**
   * A callback on `connection` was answered after `busyMs`. Only its part within one sample counts, so a
   * callback held for seconds (a stalled Redis: the answer-time signal's case) does not make one sample look
   * busier than time allows.
   */
  answered(connection: GuardConnection, busyMs: number): void {
    // A keep-alive connection's callbacks after its second: one lookup.
    if (!this.reused.has(connection)) {
      if (!this.seen.has(connection)) {
        this.seen.add(connection);
        return;
      }
      // Closed before its answer (the PBX gave up): its 'close' has fired already and would never uncount it.
      if (connection.destroyed) return;
      this.reused.add(connection);
      this.open++;
      connection.once('close', this.closed);
    }
    this.busyMs += busyMs < this.sampleMs ? busyMs : this.sampleMs;
  }

  /** The figures since the last call, over `elapsedMs`; starts the next sample. */
  take(elapsedMs: number): ConnectionsSample {
    const busyConnections = elapsedMs > 0 ? this.busyMs / elapsedMs : 0;
    this.busyMs = 0;
    const busyShare = this.open > 0 ? Math.min(1, busyConnections / this.open) : 0;
    return { busyConnections, busyShare };
  }

  /** Reused connections open now. */
  openReused(): number {
    return this.open;
  }
}
