/** Demo mode: the built-in HoduPBX simulator runs in-process and stands in for the PBX. */
import type { Config, PbxConfig } from './config.js';
import type { Logger } from './logger.js';
import type { DemoRinger } from './http/demo-routes.js';
import { CallControlError, createSimulator, type Simulator } from './simulator/simulator.js';
import { DEMO_EXTENSIONS, DEMO_TOKEN } from './simulator/seed.js';

/**
 * Callers the "Simulate a call" button cycles through: known contacts in several formats, and a stranger. One
 * call rings through the agent's ring group, so the page shows "via Sales (5000)".
 */
const DEMO_CALLERS: ReadonlyArray<{ from: string; fromName?: string; throughRingGroup?: true }> = [
  { from: '09824740472', fromName: 'RAHUL' },
  { from: '+1 415 555 0132' },
  { from: '0091 99090 12345', fromName: 'PRIYA M', throughRingGroup: true },
  { from: '+44 20 7946 0958' },
  { from: '78768876', fromName: 'PATEL' },
  { from: '+1 202 555 0100', fromName: 'UNKNOWN CALLER' },
];

/** How a demo call plays out (ms). */
export interface DemoCallTiming {
  /** Ringing before the demo extension answers. */
  answerAfterMs: number;
  /** Talking before the hang-up. */
  talkMs: number;
  /** Ringing before a missed call is given up. */
  missedAfterMs: number;
  /** Every n-th press plays a missed call. */
  missedEvery: number;
}

export const DEMO_CALL_TIMING: Readonly<DemoCallTiming> = Object.freeze({
  answerAfterMs: 4000,
  talkMs: 6000,
  missedAfterMs: 8000,
  missedEvery: 4,
});

export interface DemoPbx extends DemoRinger {
  pbxConfig: PbxConfig;
  agentCredentials: { extension: string; password: string };
  otherExtensions: string;
  setCallbackUrl(url: string): void;
  close(): Promise<void>;
}

/**
 * Plays whole calls on the simulator: ring, answered by the ringing extension after a few seconds, hung up
 * a few seconds later; every `missedEvery`-th call nobody answers. Timers are cancelled by `cancel()`.
 */
function createCallPlayer(simulator: Simulator, timing: DemoCallTiming, logger: Logger) {
  const timers = new Set<NodeJS.Timeout>();
  let played = 0;
  const later = (ms: number, step: () => Promise<unknown>): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      // A call already ended (e.g. the simulator was reset) is nothing to report.
      step().catch((err: unknown) => {
        if (!(err instanceof CallControlError)) logger.warn({ err }, 'demo call step failed');
      });
    }, ms);
    timers.add(timer);
  };
  return {
    /** Schedules the rest of the call; returns how it will end. */
    play(callId: string, extension: string): 'answered' | 'missed' {
      played++;
      if (played % timing.missedEvery === 0) {
        later(timing.missedAfterMs, () => simulator.hangupCall(callId));
        return 'missed';
      }
      later(timing.answerAfterMs, async () => {
        await simulator.answerCall(callId, extension);
        later(timing.talkMs, () => simulator.hangupCall(callId));
      });
      return 'answered';
    },
    cancel(): void {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}

export async function startDemoPbx(
  config: Pick<Config, 'pbxPasswordFormat' | 'pbxTimeoutMs'>,
  logger: Logger,
  timing: DemoCallTiming = DEMO_CALL_TIMING,
): Promise<DemoPbx> {
  // A listing of connected calls only lets the call tracker see the demo's one-extension calls answered while
  // they last (docs/calls.md), so the page shows "On call" with its timer rather than after the hang-up.
  // The ring group's callbacks name it (one of the shapes the bridge reads), so a call through it shows "via".
  const simulator = createSimulator({ token: DEMO_TOKEN, passwordFormat: config.pbxPasswordFormat, activeCalls: 'connected-only', groupInCallback: 'named' });
  const address = await simulator.listen(0, '127.0.0.1');
  logger.info({ simulator: address.apiBaseUrl }, 'demo mode: built-in HoduPBX simulator started');
  let next = 0;
  const [first, ...rest] = Object.keys(DEMO_EXTENSIONS);
  const extension = first ?? '101';
  const player = createCallPlayer(simulator, timing, logger);
  return {
    pbxConfig: {
      baseUrl: address.apiBaseUrl,
      token: DEMO_TOKEN,
      userType: 'TENANT',
      passwordFormat: config.pbxPasswordFormat,
      timeoutMs: config.pbxTimeoutMs,
    },
    agentCredentials: { extension, password: DEMO_EXTENSIONS[extension] ?? '' },
    otherExtensions: rest.map((e) => `${e}/${DEMO_EXTENSIONS[e] ?? ''}`).join(', '),
    setCallbackUrl: (url) => simulator.setCallbackUrl(url),
    async ring(ext, from) {
      const { throughRingGroup, ...caller } = from ? { from } : (DEMO_CALLERS[next++ % DEMO_CALLERS.length] ?? { from: '+1 202 555 0100' });
      const group = throughRingGroup ? simulator.callGroups().find((g) => g.kind === 'ring_group' && g.members.includes(ext)) : undefined;
      const call = await simulator.startCall({ to: group?.number ?? ext, ...caller }).catch((err: unknown) => {
        if (err instanceof CallControlError) return null; // not an extension of the demo PBX
        throw err;
      });
      if (call === null) return { delivered: false, from: caller.from, reason: 'unknown_extension' };
      if (!call.delivered.includes(ext)) {
        await simulator.hangupCall(call.callId);
        return { delivered: false, from: caller.from, reason: call.undelivered[ext] ?? 'not_delivered' };
      }
      return { delivered: true, from: caller.from, callId: call.callId, outcome: player.play(call.callId, ext) };
    },
    async close() {
      player.cancel();
      await simulator.close();
    },
  };
}
