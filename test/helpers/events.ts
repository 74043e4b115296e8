/** A new call.ringing event as the event log is given it, for tests that append to a log directly. */
import { randomBytes } from 'node:crypto';
import type { NewCallEvent } from '../../src/core/event.js';

export function ringingEvent(extension: string): NewCallEvent {
  return {
    type: 'call.ringing',
    timestamp: new Date().toISOString(),
    data: {
      extension,
      call: { id: randomBytes(4).toString('hex'), from: '+15550100', fromRaw: '5550100', fromName: null, to: extension, direction: 'inbound', sessionId: 's-1' },
      contact: null,
      otherContacts: [],
      links: {},
    },
  };
}
