/** The call tracker's metrics, registered on the bridge's registry by the tracker's own module. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface TrackerFigures {
  open: number;
  recordingsPending: number;
  leader: boolean;
}

export interface TrackerMetrics {
  activeCallsPolls: Counter<'outcome'>;
  outcomes: Counter<'type'>;
  callLogLag: Histogram;
}

export function registerTrackerMetrics(registry: Registry, figures: () => TrackerFigures): TrackerMetrics {
  new Gauge({
    name: 'bridge_calls_open',
    help: 'Calls ringing or talking that the tracker follows (as of the last poll of the polling instance)',
    registers: [registry],
    collect() {
      this.set(figures().open);
    },
  });
  new Gauge({
    name: 'bridge_calls_recordings_pending',
    help: 'Completed calls whose recording is still being looked up',
    registers: [registry],
    collect() {
      this.set(figures().recordingsPending);
    },
  });
  new Gauge({
    name: 'bridge_calls_leader',
    help: '1 when this instance polls the PBX for calls',
    registers: [registry],
    collect() {
      this.set(figures().leader ? 1 : 0);
    },
  });
  return {
    activeCallsPolls: new Counter({
      name: 'bridge_calls_active_calls_polls_total',
      help: 'activeCalls requests by outcome (ok, failed)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    outcomes: new Counter({
      name: 'bridge_calls_events_total',
      help: 'Call lifecycle events appended by the tracker, by type (answered, ended, missed, completed, recording)',
      labelNames: ['type'],
      registers: [registry],
    }),
    callLogLag: new Histogram({
      name: 'bridge_calls_call_log_lag_seconds',
      help: "From a call's end to its row being found in the PBX's call log",
      buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
      registers: [registry],
    }),
  };
}
