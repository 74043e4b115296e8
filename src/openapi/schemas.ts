/**
 * The shapes the bridge answers with and sends (docs/api.md), as zod schemas for the OpenAPI document's
 * components. Request schemas are not here: each route module exports the schema it validates with.
 *
 * The types these describe live with the code that builds them (src/core/event.ts, src/crm-webhooks/types.ts,
 * …); the `Same`/`Fits` checks at the bottom make `npm run typecheck` fail when one of them changes and its
 * schema here does not.
 */
import { z } from 'zod';
import { EVENT_TYPES, type CallEvent, type CallEventData, type CallInfo, type CallRecord, type Contact, type ContactSummary } from '../core/event.js';
import type { JournalEntry } from '../calls/journal.js';
import type { SentEvent, SessionPhase } from '../calls/model.js';
import type { PhonebookStatus } from '../phonebook/service.js';
import { DELIVERY_STATUSES, type DeliveryStatus, type PublicDelivery, type PublicEndpoint } from '../crm-webhooks/types.js';
import type { ExtensionView } from '../subscriptions/views.js';

/** Schemas that become `#/components/schemas/<id>`. */
export const components = z.registry<{ id: string; description?: string }>();

const isoTime = z.string().describe('ISO 8601 time in UTC');

export const eventType = z.enum(EVENT_TYPES).register(components, { id: 'EventType', description: 'The type of an event (docs/api.md, "Event types").' });

export const contact = z
  .object({
    phonebookId: z.string().describe('the PBX phonebook id; "" for a contact just created whose id the PBX did not return'),
    displayName: z.string(),
    firstName: z.string(),
    lastName: z.string(),
    email: z.string(),
    extension: z.string(),
    phoneNumber: z.string(),
    cellNumber: z.string(),
    phoneGroup: z.string(),
    customFields: z.record(z.string(), z.string()),
    match: z.enum(['exact', 'suffix']).describe('exact: the same number; suffix: only the last 8 digits agree (docs/phonebook.md)'),
  })
  .register(components, { id: 'Contact', description: 'A phonebook entry with how it matched the caller.' });

export const contactSummary = z
  .object({ phonebookId: z.string(), displayName: z.string(), match: contact.shape.match })
  .register(components, { id: 'ContactSummary', description: 'Another contact with the same number.' });

export const callInfo = z
  .object({
    id: z.string().nullable().describe("the PBX's call id when the ringing callback carried one"),
    from: z.string().describe('the caller, in E.164 when it reads as a valid number'),
    fromRaw: z.string().describe('the caller as the PBX sent it, trimmed, control characters removed'),
    fromName: z.string().nullable().describe('the caller name the PBX sent (at most 128 characters)'),
    to: z.string().describe('the same as data.extension'),
    direction: z.enum(['inbound', 'internal']),
    sessionId: z.string().describe("the bridge's id for the whole call: the same on every leg and every event of it"),
    endedAt: isoTime.optional().describe('call.ended and call.missed only: when the call was over'),
  })
  .register(components, { id: 'CallInfo' });

export const callRecord = z
  .object({
    startedAt: isoTime,
    answeredAt: isoTime.nullable(),
    endedAt: isoTime.nullable(),
    durationS: z.number().int().nullable().describe('endedAt - startedAt, whole seconds'),
    talkS: z.number().int().nullable().describe('endedAt - answeredAt, whole seconds; null when not answered'),
    answeredBy: z.string().nullable(),
    caller: z.string(),
    callee: z.string().nullable(),
    recordingUrl: z.string().nullable(),
    source: z.enum(['call_log', 'observed']).describe("call_log: the PBX's call log had the row; observed: what the bridge saw"),
  })
  .register(components, { id: 'CallRecord', description: "A call's record (data.cdr of call.completed; cdr of a journal entry). Unknown values are null." });

export const callVia = z
  .object({ kind: z.enum(['ring_group', 'queue']), name: z.string(), number: z.string() })
  .register(components, { id: 'CallVia', description: 'The ring group or queue the call came through (getRingGroup / getQueue), as in "via Sales (5000)".' });

/** `data` with every field any event type may carry. */
const eventDataBase = z.object({
  extension: z.string().describe('the extension this envelope is for (one envelope per extension)'),
  call: callInfo,
  contact: contact.nullable().describe('the best phonebook match, looked up at ringing; null when none'),
  otherContacts: z.array(contactSummary).describe('up to 5 more contacts with the same number'),
  links: z.object({ crm: z.string().optional() }).describe('{"crm"} when CRM_LINK_TEMPLATE is set; else {}'),
  answeredBy: z.string().nullable().optional(),
  cdr: callRecord.optional(),
  recordingUrl: z.string().optional(),
  via: callVia.nullable().optional().describe('on call.ringing only when the callback named the group; on later events null while unknown'),
});

const common = eventDataBase.omit({ answeredBy: true, cdr: true, recordingUrl: true });
const callEnded = callInfo.extend({ endedAt: isoTime });

/** What `data` carries for each type (docs/api.md, "Event types"). */
const dataByType = {
  'call.ringing': common,
  // Absent on a call.answered for a call the bridge does not follow (shaped like call.ringing).
  'call.answered': common.extend({ answeredBy: z.string().optional().describe('the extension that answered') }),
  'call.ended': common.extend({
    call: callInfo,
    answeredBy: z.string().nullable().optional().describe('the extension that answered; null when the PBX could not say'),
  }),
  'call.missed': common.extend({ call: callEnded }),
  'call.completed': common.extend({
    answeredBy: z.string().nullable().describe('null when nobody answered, or unknown'),
    cdr: callRecord,
  }),
  'call.recording': common.extend({ recordingUrl: z.string().describe("what the PBX's recordingPath answered") }),
} as const satisfies Record<(typeof EVENT_TYPES)[number], z.ZodType>;

function envelopeOf<T extends keyof typeof dataByType>(type: T) {
  return z.object({
    id: z.string().describe('the event id, <ms>-<seq>: the lastEventId to resume from and the webhook-id of deliveries'),
    type: z.literal(type),
    timestamp: isoTime.describe('when the bridge made the event'),
    data: dataByType[type],
  });
}

export const eventEnvelope = z
  .discriminatedUnion('type', [
    envelopeOf('call.ringing'),
    envelopeOf('call.answered'),
    envelopeOf('call.ended'),
    envelopeOf('call.missed'),
    envelopeOf('call.completed'),
    envelopeOf('call.recording'),
  ])
  .register(components, {
    id: 'EventEnvelope',
    description:
      'One event: the same bytes on the WebSocket, in CRM webhooks and in the log. `data` depends on `type` (docs/api.md, "The event envelope").',
  });

export const extensionView = z
  .object({
    extension: z.string(),
    desired: z.boolean(),
    sources: z.array(z.enum(['admin', 'agent'])).describe('who wants it subscribed'),
    state: z.enum(['subscribed', 'pending', 'failed', 'unsubscribed']),
    lastError: z.string().nullable(),
    nextRetryAt: isoTime.nullable().describe('when a transient failure is retried'),
    updatedAt: isoTime,
  })
  .register(components, { id: 'ExtensionView', description: 'An extension the bridge keeps subscribed. Never a password.' });

export const webhookEndpoint = z
  .object({
    id: z.string().describe('ep_…'),
    url: z.string(),
    events: z.array(eventType).nullable().describe('null: all event types'),
    description: z.string().nullable(),
    status: z.enum(['active', 'disabled']),
    disabledReason: z.string().nullable(),
    disabledAt: isoTime.nullable(),
    createdAt: isoTime,
  })
  .register(components, { id: 'WebhookEndpoint', description: 'A CRM webhook endpoint; its secret is never listed.' });

export const createdWebhookEndpoint = webhookEndpoint
  .extend({ secret: z.string().describe('whsec_<base64 of 32 bytes>: shown only in this answer') })
  .register(components, { id: 'CreatedWebhookEndpoint' });

export const deliveryAttempt = z
  .object({
    at: isoTime,
    statusCode: z.number().int().nullable().describe('null when there was no answer'),
    error: z.string().nullable(),
    durationMs: z.number(),
  })
  .register(components, { id: 'DeliveryAttempt' });

export const delivery = z
  .object({
    id: z.string().describe('<eventId>.<endpointId>'),
    endpointId: z.string(),
    eventId: z.string(),
    eventType,
    status: z.enum(DELIVERY_STATUSES as [DeliveryStatus, ...DeliveryStatus[]]),
    attempts: z.array(deliveryAttempt).describe('newest last, at most 30 kept'),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    nextAttemptAt: isoTime.nullable(),
    manualRetries: z.number().int(),
    createdAt: isoTime,
    updatedAt: isoTime,
  })
  .register(components, { id: 'Delivery', description: 'One event sent to one webhook endpoint.' });

const sentEvent = z.object({ id: z.string(), type: eventType, extension: z.string(), timestamp: isoTime });

export const journalEntry = z
  .object({
    sessionId: z.string(),
    callId: z.string().nullable(),
    from: z.string(),
    fromRaw: z.string(),
    fromName: z.string().nullable(),
    direction: callInfo.shape.direction,
    contact: contact.nullable(),
    extensions: z.array(z.string()).describe('every extension the call rang on, in order'),
    answeredBy: z.string().nullable(),
    outcome: z.enum(['answered', 'missed', 'unknown']),
    via: callVia.nullable().optional(),
    cdr: callRecord,
    events: z.array(sentEvent).describe('every event the call had'),
  })
  .register(components, { id: 'JournalEntry', description: 'A completed call (docs/calls.md).' });

export const callView = journalEntry
  .extend({
    state: z.enum(['open', 'over', 'completed', 'done']).describe('completed for a journaled call; else the tracker phase'),
    outcome: journalEntry.shape.outcome.nullable().describe('null while the call is still followed'),
    cdr: callRecord.nullable().describe('null until completed'),
  })
  .register(components, { id: 'CallView', description: 'A journaled call, or one the tracker still follows.' });

export const phonebookStatus = z
  .object({
    contacts: z.number().int(),
    loadedAt: isoTime.nullable(),
    ageSeconds: z.number().int().nullable(),
    version: z.string().nullable(),
    lastError: z.string().nullable(),
    lastRefreshAt: isoTime.nullable(),
  })
  .register(components, { id: 'PhonebookStatus' });

export const errorAnswer = z
  .object({
    error: z.string().describe('the stable code a client branches on'),
    message: z.string().describe('for people; never a secret'),
    field: z.string().optional().describe('the offending field, where the route names it'),
    pbxStatus: z.number().int().nullable().optional().describe("the PBX's status code, where the route passes it on"),
  })
  .register(components, { id: 'Error', description: 'Every error answer but the PBX callback\'s (docs/api-errors.md).' });

export const callbackAnswer = z
  .object({
    status: z.enum(['SUCCESS', 'FAILED']),
    message: z.string(),
    eventId: z.string().optional().describe('accepted: the event id (the first event it made or moved)'),
    duplicate: z.literal(true).optional().describe('the same callback again: no second event'),
  })
  .register(components, { id: 'CallbackAnswer', description: 'The PBX callback\'s answer, in the shape the PBX expects.' });

export const readyFrame = z
  .object({
    type: z.literal('ready'),
    extension: z.string().describe('"*" for a supervisor token'),
    resumed: z.boolean().describe('true: every event after lastEventId follows, then the live ones'),
    lastEventId: z
      .string()
      .optional()
      .describe('with resumed false, when the log is not empty: its newest id as the socket started; every later event follows, so resume from it until an event comes'),
  })
  .register(components, { id: 'WsReadyFrame', description: 'The first frame on every WebSocket.' });

// ---- the schemas above describe the code's own types ---------------------------------------------------------

// Identical types, not only assignable both ways: that would let an optional field missing on one side pass.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
type Fits<A, B> = [A] extends [B] ? true : false;

const checks: {
  contact: Same<z.infer<typeof contact>, Contact>;
  contactSummary: Same<z.infer<typeof contactSummary>, ContactSummary>;
  callInfo: Same<z.infer<typeof callInfo>, CallInfo>;
  callRecord: Same<z.infer<typeof callRecord>, CallRecord>;
  eventData: Same<z.infer<typeof eventDataBase>, CallEventData>;
  eventEnvelope: Fits<z.infer<typeof eventEnvelope>, CallEvent>;
  extensionView: Same<z.infer<typeof extensionView>, ExtensionView>;
  webhookEndpoint: Same<z.infer<typeof webhookEndpoint>, PublicEndpoint>;
  delivery: Same<z.infer<typeof delivery>, PublicDelivery>;
  sentEvent: Same<z.infer<typeof sentEvent>, SentEvent>;
  journalEntry: Same<z.infer<typeof journalEntry>, JournalEntry>;
  callPhase: Same<z.infer<typeof callView>['state'], SessionPhase>;
  phonebookStatus: Same<z.infer<typeof phonebookStatus>, PhonebookStatus>;
} = {
  contact: true,
  contactSummary: true,
  callInfo: true,
  callRecord: true,
  eventData: true,
  eventEnvelope: true,
  extensionView: true,
  webhookEndpoint: true,
  delivery: true,
  sentEvent: true,
  journalEntry: true,
  callPhase: true,
  phonebookStatus: true,
};
void checks;
