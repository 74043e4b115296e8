/** Shapes shared by the CRM webhook modules: endpoints, delivery records, jobs, and the stores' ports. */
import type { EventType } from '../core/event.js';

export type EndpointStatus = 'active' | 'disabled';

export interface WebhookEndpoint {
  id: string;
  url: string;
  /** Event types this endpoint receives; null: all of them. */
  events: EventType[] | null;
  description: string | null;
  /** `whsec_` + base64 key. Never listed by the API; shown once when the endpoint is created. */
  secret: string;
  status: EndpointStatus;
  disabledReason: string | null;
  disabledAt: string | null;
  createdAt: string;
}

/** An endpoint as the admin API lists it: everything but the secret. */
export type PublicEndpoint = Omit<WebhookEndpoint, 'secret'>;

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'succeeded', 'failed'];

export interface DeliveryAttempt {
  /** ISO time the attempt started. */
  at: string;
  /** HTTP status of the answer; null when there was none (timeout, refused connection, blocked address). */
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

export interface DeliveryRecord {
  /** `<eventId>.<endpointId>`: one delivery per event and endpoint. */
  id: string;
  endpointId: string;
  eventId: string;
  eventType: EventType;
  status: DeliveryStatus;
  /** Newest last, at most MAX_ATTEMPTS_KEPT. */
  attempts: DeliveryAttempt[];
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  /** How many times an operator asked to send it again. */
  manualRetries: number;
  createdAt: string;
  updatedAt: string;
  /** The envelope exactly as sent, kept for manual retries; not shown by the API. */
  body: string;
}

export type PublicDelivery = Omit<DeliveryRecord, 'body'>;

/** One unit of work in the delivery queue: the next attempt of one delivery. */
export interface DeliveryJob {
  /** Queue-level id: the delivery id, or `<deliveryId>.r<n>` for the n-th manual retry. */
  jobId: string;
  deliveryId: string;
  endpointId: string;
  eventId: string;
  /** The raw body: the same bytes on every attempt. */
  body: string;
  /** Attempts already made in this run of the schedule. */
  attempt: number;
}

export interface EndpointStore {
  create(endpoint: WebhookEndpoint): Promise<void>;
  get(id: string): Promise<WebhookEndpoint | null>;
  list(): Promise<WebhookEndpoint[]>;
  /** Returns false when there was no such endpoint. Removes its delivery history too (DeliveryStore.removeEndpoint). */
  delete(id: string): Promise<boolean>;
  update(endpoint: WebhookEndpoint): Promise<boolean>;
}

export interface DeliveryStore {
  /** Creates the record unless one with that id exists; returns the existing one, or null when it created it. */
  createIfAbsent(record: DeliveryRecord): Promise<DeliveryRecord | null>;
  get(endpointId: string, deliveryId: string): Promise<DeliveryRecord | null>;
  /** Replaces a record that still exists (it may have been trimmed or its endpoint deleted); false otherwise. */
  update(record: DeliveryRecord): Promise<boolean>;
  /** Replaces the record only while its status is `expected`. */
  replaceIfStatus(record: DeliveryRecord, expected: DeliveryStatus): Promise<boolean>;
  /** Newest first. */
  list(endpointId: string, status: DeliveryStatus | null, limit: number): Promise<DeliveryRecord[]>;
  removeEndpoint(endpointId: string): Promise<void>;
}

/** Where delivery jobs wait for their time: BullMQ with Redis, timers in memory. */
export interface DeliveryQueue {
  /** Adds jobs; a job whose jobId is already queued is a no-op. */
  enqueue(jobs: DeliveryJob[]): Promise<void>;
  close(): Promise<void>;
}

export const MAX_ATTEMPTS_KEPT = 30;

export function deliveryIdFor(eventId: string, endpointId: string): string {
  return `${eventId}.${endpointId}`;
}

export function publicEndpoint(e: WebhookEndpoint): PublicEndpoint {
  return {
    id: e.id,
    url: e.url,
    events: e.events,
    description: e.description,
    status: e.status,
    disabledReason: e.disabledReason,
    disabledAt: e.disabledAt,
    createdAt: e.createdAt,
  };
}

export function publicDelivery(r: DeliveryRecord): PublicDelivery {
  const { body: _body, ...rest } = r;
  return rest;
}
