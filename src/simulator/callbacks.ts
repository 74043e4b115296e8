/**
 * The ringing callback a PBX sends for a subscribed extension. The manual does not document its body; the
 * simulator sends `{"extension_number","caller_number","caller_name","call_id","event"}` as JSON, as a
 * form, or in the query string of a GET.
 */
import { randomUUID } from 'node:crypto';
import { request, type Dispatcher } from 'undici';
import type { CallbackStyle, SimulatorState } from './state.js';

export interface RingRequest {
  extension: string;
  from: string;
  fromName?: string;
  /** The `call_id` field; a random one when absent, none at all when null (a PBX that sends no call id). */
  callId?: string | null;
  /** The `event` field; default `ringing`. */
  state?: string;
  /** More fields to send as they are (e.g. the ring group's number, `GroupInCallback`). */
  extra?: Record<string, string>;
}

export type RingResult =
  /** The callback receiver answered 2xx. `response` is its body (parsed when JSON). */
  | { delivered: true; status: number; callId: string | null; response: unknown }
  | { delivered: false; reason: 'not_subscribed' | 'no_callback_url'; callId?: undefined }
  /** Answered, but not 2xx. */
  | { delivered: false; reason: 'callback_rejected'; status: number; callId: string | null; response: unknown }
  /** No answer (refused, timed out): `error` is the network error's code. */
  | { delivered: false; reason: 'callback_failed'; callId: string | null; error: string };

export function callbackFields(ring: RingRequest, callId: string | null): Record<string, string> {
  const fields: Record<string, string> = { extension_number: ring.extension, caller_number: ring.from };
  if (ring.fromName !== undefined && ring.fromName !== '') fields.caller_name = ring.fromName;
  if (callId !== null) fields.call_id = callId;
  fields.event = ring.state ?? 'ringing';
  return ring.extra ? { ...fields, ...ring.extra } : fields;
}

function buildRequest(
  url: string,
  style: CallbackStyle,
  fields: Record<string, string>,
): { url: string; method: 'GET' | 'POST'; headers: Record<string, string>; body?: string } {
  switch (style) {
    case 'json':
      return { url, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fields) };
    case 'form':
      return {
        url,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      };
    case 'query': {
      const target = new URL(url);
      for (const [k, v] of Object.entries(fields)) target.searchParams.set(k, v);
      return { url: target.toString(), method: 'GET', headers: {} };
    }
  }
}

function networkErrorName(err: unknown): string {
  if (err instanceof Error) return 'code' in err && typeof err.code === 'string' ? err.code : err.name;
  return String(err);
}

function parseMaybeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Calls back only for subscribed extensions, exactly as the PBX would. */
export async function ring(state: SimulatorState, dispatcher: Dispatcher, call: RingRequest): Promise<RingResult> {
  if (!state.subscriptions.has(call.extension)) return { delivered: false, reason: 'not_subscribed' };
  if (state.callbackUrl === null) return { delivered: false, reason: 'no_callback_url' };
  const callId = call.callId === undefined ? randomUUID() : call.callId;
  const req = buildRequest(state.callbackUrl, state.callbackStyle, callbackFields(call, callId));
  try {
    const res = await request(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      dispatcher,
      signal: AbortSignal.timeout(state.callbackTimeoutMs),
    });
    const response = parseMaybeJson(await res.body.text());
    if (res.statusCode >= 200 && res.statusCode < 300) return { delivered: true, status: res.statusCode, callId, response };
    return { delivered: false, reason: 'callback_rejected', status: res.statusCode, callId, response };
  } catch (err) {
    return { delivered: false, reason: 'callback_failed', callId, error: networkErrorName(err) };
  }
}
