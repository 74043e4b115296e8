/**
 * How a run of the simulator shows whole calls (the activeCalls listing, the call-log field set, delays,
 * time zone), its ring groups and queues, and the checks of both as the control routes and options give them.
 */
import { isTimeZone } from './local-time.js';

/**
 * How activeCalls lists calls; the manual does not say, so a run picks one:
 * - `ringing-legs`: every ringing leg with its extension as callee; once answered only the answered leg.
 * - `connected-only`: answered calls only.
 * - `group-number`: while ringing one row with the dialled number (ring group / queue) as callee; once
 *   answered the answering extension.
 */
export const ACTIVE_CALLS_LISTINGS = ['ringing-legs', 'connected-only', 'group-number'] as const;
export type ActiveCallsListing = (typeof ACTIVE_CALLS_LISTINGS)[number];

/** `extended`: the manual's call-log fields plus the ones integrators report; `manual`: the manual's only. */
export const CALL_LOG_FIELD_SETS = ['extended', 'manual'] as const;
export type CallLogFields = (typeof CALL_LOG_FIELD_SETS)[number];

/** A ring group or queue. Members are the simulator's own knowledge: the manual's answers do not list them. */
export interface SimCallGroup {
  kind: 'ring_group' | 'queue';
  id: string;
  name: string;
  /** The number dialled to reach it (the manual's ring_group_extension / queue_extension). */
  number: string;
  members: string[];
}

/**
 * Whether a ring group's or queue's ringing (and state) callbacks also name the number that was dialled; the
 * manual does not document the callback body, so a run picks one:
 * - `none`: only the extension that rings (the default);
 * - `callee`: `callee_number` is the group's number, while `extension_number` is the ringing extension;
 * - `named`: a `ring_group` or `queue` field carries the group's number.
 */
export const GROUP_IN_CALLBACK_CHOICES = ['none', 'callee', 'named'] as const;
export type GroupInCallback = (typeof GROUP_IN_CALLBACK_CHOICES)[number];

export interface CallsMode {
  activeCalls: ActiveCallsListing;
  callLogFields: CallLogFields;
  /** How long after an answered call ended recordingPath still answers 406. */
  recordingDelayMs: number;
  /** How long after the hang-up the callLog row appears. */
  callLogDelayMs: number;
  /** The PBX's local time zone (IANA name) for start_time / start_date / end_date. */
  timezone: string;
  /** Default for calls started without `stateCallbacks`: also call back on answer and hang-up. */
  sendStateCallbacks: boolean;
  /** Whether a group call's callbacks name the group (see GROUP_IN_CALLBACK_CHOICES). */
  groupInCallback: GroupInCallback;
}

export const DEFAULT_CALLS_MODE: Readonly<CallsMode> = Object.freeze({
  activeCalls: 'ringing-legs',
  callLogFields: 'extended',
  recordingDelayMs: 3000,
  callLogDelayMs: 0,
  timezone: 'UTC',
  sendStateCallbacks: false,
  groupInCallback: 'none',
});

export const DEFAULT_RING_GROUPS: readonly SimCallGroup[] = [
  { kind: 'ring_group', id: '1', name: 'Sales', number: '5000', members: ['101', '102', '103'] },
];
export const DEFAULT_QUEUES: readonly SimCallGroup[] = [{ kind: 'queue', id: '1', name: 'Support', number: '2000', members: ['104', '105'] }];

/** A refused call operation: `status` is the control route's answer, `field` the input at fault. */
export class CallControlError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = 'CallControlError';
  }
}

function isDelay(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * Reads a calls-mode change (PUT /_sim/calls-mode, setCallsMode, the options): every field optional, each
 * checked; a CallControlError(400) names the first bad one.
 */
export function readCallsModeChange(input: unknown): Partial<CallsMode> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new CallControlError(400, 'expected a JSON object');
  const body = input as Record<string, unknown>;
  const change: Partial<CallsMode> = {};
  if (body.activeCalls !== undefined) {
    const listing = ACTIVE_CALLS_LISTINGS.find((l) => l === body.activeCalls);
    if (listing === undefined) throw new CallControlError(400, `activeCalls must be one of ${ACTIVE_CALLS_LISTINGS.join(', ')}`, 'activeCalls');
    change.activeCalls = listing;
  }
  if (body.callLogFields !== undefined) {
    const fields = CALL_LOG_FIELD_SETS.find((f) => f === body.callLogFields);
    if (fields === undefined) throw new CallControlError(400, `callLogFields must be one of ${CALL_LOG_FIELD_SETS.join(', ')}`, 'callLogFields');
    change.callLogFields = fields;
  }
  for (const key of ['recordingDelayMs', 'callLogDelayMs'] as const) {
    const value = body[key];
    if (value === undefined) continue;
    if (!isDelay(value)) throw new CallControlError(400, `${key} must be a number of milliseconds >= 0`, key);
    change[key] = value;
  }
  if (body.timezone !== undefined) {
    if (typeof body.timezone !== 'string' || !isTimeZone(body.timezone)) {
      throw new CallControlError(400, 'timezone must be an IANA time zone name such as Asia/Kolkata', 'timezone');
    }
    change.timezone = body.timezone;
  }
  if (body.sendStateCallbacks !== undefined) {
    if (typeof body.sendStateCallbacks !== 'boolean') throw new CallControlError(400, 'sendStateCallbacks must be true or false', 'sendStateCallbacks');
    change.sendStateCallbacks = body.sendStateCallbacks;
  }
  if (body.groupInCallback !== undefined) {
    const choice = GROUP_IN_CALLBACK_CHOICES.find((c) => c === body.groupInCallback);
    if (choice === undefined) throw new CallControlError(400, `groupInCallback must be one of ${GROUP_IN_CALLBACK_CHOICES.join(', ')}`, 'groupInCallback');
    change.groupInCallback = choice;
  }
  return change;
}

/** A list of ring groups or queues, `[{id?, name, number, members: [...]}]`; `field` names it in errors. */
export function readCallGroupSeeds(input: unknown, field: string): Array<{ id?: string; name: string; number: string; members: string[] }> {
  if (!Array.isArray(input)) throw new CallControlError(400, `${field} must be a list`, field);
  return input.map((item: unknown, i) => {
    const at = `${field}[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new CallControlError(400, `${at} must be an object`, at);
    const g = item as Record<string, unknown>;
    const text = (key: string): string | undefined => {
      const v = g[key];
      if (typeof v === 'string' && v.trim() !== '') return v.trim();
      if (typeof v === 'number' && Number.isFinite(v)) return String(v);
      return undefined;
    };
    const name = text('name');
    const number = text('number');
    if (name === undefined) throw new CallControlError(400, `${at}.name is required`, `${at}.name`);
    if (number === undefined) throw new CallControlError(400, `${at}.number is required`, `${at}.number`);
    const members = g.members;
    if (!Array.isArray(members) || members.length === 0 || !members.every((m) => typeof m === 'string' && m.trim() !== '')) {
      throw new CallControlError(400, `${at}.members must be a non-empty list of extension numbers`, `${at}.members`);
    }
    const id = text('id');
    return { ...(id === undefined ? {} : { id }), name, number, members: members.map((m: string) => m.trim()) };
  });
}