/** The simulated tenant's mutable state, shared by the manual API, the control routes and the methods. */
import { createCallBook, type CallBook } from './calls.js';
import {
  DEFAULT_CALLS_MODE,
  DEFAULT_QUEUES,
  DEFAULT_RING_GROUPS,
  readCallsModeChange,
  type ActiveCallsListing,
  type GroupInCallback,
  type CallLogFields,
  type CallsMode,
  type SimCallGroup,
} from './call-settings.js';
import { DEMO_CONTACTS, DEMO_CUSTOM_FIELDS, DEMO_EXTENSION_NAMES, DEMO_EXTENSIONS, DEMO_TOKEN } from './seed.js';

/**
 * Where the manual's status codes go. `body` (the default): HTTP 200 with
 * `{"status":"FAILED","status_code":406,"message":"…"}`, because codes such as 601–604 are not HTTP
 * statuses and the manual shows every answer as a JSON body with a `status`. `http`: the code is the HTTP
 * status, and the body is `{"status":"FAILED","message":"…"}` without a code.
 */
export type ErrorStyle = 'http' | 'body';
/** What crmSubscribe expects as `extension_password`: the manual's example is a 32-hex-digit MD5. */
export type PasswordFormat = 'md5' | 'plain';
/** How ringing callbacks are sent: JSON POST, form POST, or GET with the fields in the query string. */
export type CallbackStyle = 'json' | 'form' | 'query';

export type FaultMode = 'none' | 'down' | 'slow' | 'garbage';

export interface SimulatorFault {
  /**
   * `down`: connections are closed without an answer (or, with `httpStatus`, answered with that status
   * and an HTML page); `slow`: answers come `delayMs` late; `garbage`: HTTP 200 with a body that is not JSON.
   */
  mode: FaultMode;
  delayMs?: number;
  httpStatus?: number;
  /** Limit the fault to these endpoints (e.g. `["getPhoneNumber"]`); all when absent. */
  endpoints?: string[];
}

/** A phonebook entry served as is: normally a seed.ts PhonebookEntry, but tests may send odd shapes. */
export type RawEntry = Record<string, unknown>;

export const API_ENDPOINTS = [
  'crmSubscribe',
  'crmUnSubscribe',
  'getPhoneNumber',
  'getPhonebookCustomfield',
  'getExtension',
  'activeCalls',
  'callLog',
  'recordingPath',
  'getRingGroup',
  'getQueue',
  'createNumber',
] as const;
export type ApiEndpoint = (typeof API_ENDPOINTS)[number];

export interface SimulatorOptions {
  /** The tenant's token_id. Default `demo-token-0000`. */
  token?: string;
  /** The only userType path segment accepted. Default `TENANT`. */
  userType?: string;
  /** Default `body`. */
  errorStyle?: ErrorStyle;
  /** Default `md5`. */
  passwordFormat?: PasswordFormat;
  /** Extension number -> web password. Default DEMO_EXTENSIONS (101–110). */
  extensions?: Record<string, string>;
  /** Extension number -> name part of ext_name. Default DEMO_EXTENSION_NAMES; otherwise the number. */
  extensionNames?: Record<string, string>;
  /** The phonebook in the manual's format. Default DEMO_CONTACTS. */
  contacts?: readonly RawEntry[];
  /** Custom field definitions in the manual's format. Default DEMO_CUSTOM_FIELDS. */
  customFields?: readonly RawEntry[];
  /** Where ringing callbacks go; may be set later. */
  callbackUrl?: string | null;
  /** Default `json`. */
  callbackStyle?: CallbackStyle;
  /** How long one callback may take. Default 5000. */
  callbackTimeoutMs?: number;
  /** Ring groups with their members. Default `5000` "Sales": 101, 102, 103. */
  ringGroups?: readonly CallGroupSeed[];
  /** Queues with their members. Default `2000` "Support": 104, 105. */
  queues?: readonly CallGroupSeed[];
  /** How activeCalls lists calls (docs/simulator.md). Default `ringing-legs`. */
  activeCalls?: ActiveCallsListing;
  /** Default `extended`. */
  callLogFields?: CallLogFields;
  /** Default 3000. */
  recordingDelayMs?: number;
  /** Default 0. */
  callLogDelayMs?: number;
  /** The PBX's local time zone for the times it writes. Default `UTC`. */
  timezone?: string;
  /** Also call back on answer (`answered`) and hang-up (`ended`). Default false. */
  sendStateCallbacks?: boolean;
  /** Whether a group call's callbacks name the group: `none` (default), `callee` or `named` (docs/simulator.md). */
  groupInCallback?: GroupInCallback;
}

/** A ring group or queue as configured: its id defaults to its position (1, 2, …). */
export interface CallGroupSeed {
  id?: string;
  name: string;
  number: string;
  members: readonly string[];
}

export interface SimulatorState {
  readonly token: string;
  readonly userType: string;
  errorStyle: ErrorStyle;
  readonly passwordFormat: PasswordFormat;
  /** Extension number -> web password; setExtensionPassword() changes it, as an operator would on the PBX. */
  readonly extensions: Map<string, string>;
  readonly extensionNames: Readonly<Record<string, string>>;
  contacts: readonly RawEntry[];
  readonly customFields: readonly RawEntry[];
  readonly subscriptions: Set<string>;
  readonly counts: Map<ApiEndpoint | 'unknown', number>;
  /** Requests the `slow` fault is holding back right now (asked, not yet answered), per endpoint. */
  readonly held: Map<ApiEndpoint | 'unknown', number>;
  fault: SimulatorFault;
  callbackUrl: string | null;
  callbackStyle: CallbackStyle;
  readonly callbackTimeoutMs: number;
  /** What reset() restores the phonebook to. */
  readonly initialContacts: readonly RawEntry[];
  /** Ring groups and queues together (their numbers are distinct). */
  callGroups: SimCallGroup[];
  readonly initialCallGroups: readonly SimCallGroup[];
  callsMode: CallsMode;
  readonly initialCallsMode: Readonly<CallsMode>;
  callBook: CallBook;
}

export function callGroupsFrom(kind: SimCallGroup['kind'], seeds: readonly CallGroupSeed[]): SimCallGroup[] {
  return seeds.map((g, i) => ({ kind, id: g.id ?? String(i + 1), name: g.name, number: g.number, members: [...g.members] }));
}

export function createState(opts: SimulatorOptions = {}): SimulatorState {
  const contacts = opts.contacts ?? DEMO_CONTACTS;
  const callGroups = [
    ...(opts.ringGroups ? callGroupsFrom('ring_group', opts.ringGroups) : DEFAULT_RING_GROUPS),
    ...(opts.queues ? callGroupsFrom('queue', opts.queues) : DEFAULT_QUEUES),
  ];
  // Checked as the control route checks them: a bad option fails here, not at the first call.
  const callsMode: CallsMode = {
    ...DEFAULT_CALLS_MODE,
    ...readCallsModeChange({
      activeCalls: opts.activeCalls,
      callLogFields: opts.callLogFields,
      recordingDelayMs: opts.recordingDelayMs,
      callLogDelayMs: opts.callLogDelayMs,
      timezone: opts.timezone,
      sendStateCallbacks: opts.sendStateCallbacks,
      groupInCallback: opts.groupInCallback,
    }),
  };
  return {
    token: opts.token ?? DEMO_TOKEN,
    userType: opts.userType ?? 'TENANT',
    errorStyle: opts.errorStyle ?? 'body',
    passwordFormat: opts.passwordFormat ?? 'md5',
    extensions: new Map(Object.entries(opts.extensions ?? DEMO_EXTENSIONS)),
    extensionNames: opts.extensionNames ?? (opts.extensions ? {} : DEMO_EXTENSION_NAMES),
    contacts,
    customFields: opts.customFields ?? DEMO_CUSTOM_FIELDS,
    subscriptions: new Set(),
    counts: new Map(),
    held: new Map(),
    fault: { mode: 'none' },
    callbackUrl: opts.callbackUrl ?? null,
    callbackStyle: opts.callbackStyle ?? 'json',
    callbackTimeoutMs: opts.callbackTimeoutMs ?? 5000,
    initialContacts: contacts,
    callGroups: callGroups.map((g) => ({ ...g, members: [...g.members] })),
    initialCallGroups: callGroups,
    callsMode: { ...callsMode },
    initialCallsMode: Object.freeze(callsMode),
    callBook: createCallBook(),
  };
}

/**
 * Back to the start: no subscriptions, no counts, no fault, no calls, the initial phonebook, ring groups,
 * queues and calls mode. The callback URL stays.
 */
export function resetState(state: SimulatorState): void {
  state.subscriptions.clear();
  state.counts.clear();
  state.held.clear();
  state.fault = { mode: 'none' };
  state.contacts = state.initialContacts;
  state.callGroups = state.initialCallGroups.map((g) => ({ ...g, members: [...g.members] }));
  state.callsMode = { ...state.initialCallsMode };
  state.callBook.calls.clear();
}

/** Requests seen per endpoint, every endpoint listed (0 when unseen); `unknown` counts 424 answers. */
export function requestCounts(state: SimulatorState): Record<ApiEndpoint | 'unknown', number> {
  return perEndpoint(state.counts);
}

/** Requests the `slow` fault holds back right now per endpoint, every endpoint listed (0 when none). */
export function heldRequests(state: SimulatorState): Record<ApiEndpoint | 'unknown', number> {
  return perEndpoint(state.held);
}

function perEndpoint(counts: ReadonlyMap<ApiEndpoint | 'unknown', number>): Record<ApiEndpoint | 'unknown', number> {
  const out = {} as Record<ApiEndpoint | 'unknown', number>;
  for (const endpoint of [...API_ENDPOINTS, 'unknown'] as const) out[endpoint] = counts.get(endpoint) ?? 0;
  return out;
}
