/**
 * Resuming a socket (`?lastEventId=`): sends `ready`, the events after the id (when the log still has all of
 * them), then the live events held meanwhile that are newer than the replay: no gaps, no repeats. When the
 * log cannot vouch for everything after the id (malformed, unknown, too old), `resumed` is false and only
 * live events follow, as for a socket without an id (startFresh).
 */
import { isEventId, type StoredEvent } from '../core/event.js';
import type { EventLog, ReplayResult } from '../core/ports.js';
import type { Logger } from '../logger.js';
import { CLOSE_INTERNAL_ERROR, isOpen, isRepeat, readyFrame, routesTo, type Client, type CloseClient } from './client.js';
import type { FrameSender } from './sender.js';

export interface ReplayDeps {
  eventLog: EventLog;
  /** Events read per page. */
  replayLimit: number;
  sender: FrameSender;
  logger: Logger;
  closeClient: CloseClient;
}

export async function resume(d: ReplayDeps, client: Client, afterId: string): Promise<void> {
  let first: ReplayResult | null = null;
  if (isEventId(afterId)) {
    try {
      first = await d.eventLog.readAfter(afterId, d.replayLimit);
    } catch (err) {
      d.logger.warn({ err }, 'could not read the event log for a resume; sending live events only');
    }
  }
  if (!isOpen(client)) return;
  if (first?.complete !== true) return startFresh(d, client);
  d.sender.send(client, readyFrame(client, true));
  {
    let page = first;
    let through = afterId;
    for (;;) {
      for (const event of page.events) {
        if (!isOpen(client)) return;
        through = event.id;
        if (routesTo(client, event)) await d.sender.sendPaced(client, event.json);
      }
      if (page.events.length < d.replayLimit || !isOpen(client)) break;
      try {
        page = await d.eventLog.readAfter(through, d.replayLimit);
      } catch (err) {
        // Half a replay would be a gap the client cannot see: make it reconnect and resume instead.
        d.logger.warn({ err }, 'event log read failed in the middle of a replay');
        return d.closeClient(client, CLOSE_INTERNAL_ERROR, 'replay failed');
      }
    }
    client.skipThrough = through;
  }
  await flushHeld(d, client);
}

/**
 * A socket that resumes nothing (no id, or one the log cannot vouch for): `ready` names the log's newest id
 * as where it starts, and it gets every event after that one, so a client that saw no event yet still has
 * an id to resume from after a blip. Live events that arrived meanwhile and are not newer were in the log
 * before the socket started: not sent, as the client would take them for seen.
 */
export async function startFresh(d: ReplayDeps, client: Client): Promise<void> {
  let newest: string | null = null;
  try {
    newest = await d.eventLog.lastId();
  } catch (err) {
    d.logger.warn({ err }, 'could not read the event log\'s newest id for a new socket; its ready names none');
  }
  if (!isOpen(client)) return;
  client.startsAfter = newest;
  client.skipThrough = newest;
  d.sender.send(client, readyFrame(client, false));
  await flushHeld(d, client);
}

async function flushHeld(d: ReplayDeps, client: Client): Promise<void> {
  // Live events that arrive while the held ones are flushed join the same array, so the loop takes them too.
  const held = client.held;
  for (let i = 0; held && client.held === held && isOpen(client) && i < held.length; i++) {
    const event = held[i] as StoredEvent;
    if (!isRepeat(client, event)) await d.sender.sendPaced(client, event.json);
  }
  client.held = null;
}
