/**
 * Security headers on every answer (helmet; docs/security.md): a strict content security policy for the
 * agent page (scripts and styles from the bridge only, no inline script, never framed), nosniff, no
 * Referer. `upgrade-insecure-requests` is left out: demo installs are reached over plain http on a LAN.
 * `/client.js` keeps its cross-origin headers (app.ts sets them after these).
 */
import helmet from 'helmet';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { RequestHandler } from 'express';

const HELMET_OPTIONS: Parameters<typeof helmet>[0] = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      // 'self' covers the page's own ws:/wss: origin in current browsers.
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  },
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
  // HSTS is the TLS terminator's to send: the bridge itself may be reached over plain http behind it.
  strictTransportSecurity: false,
};

export function securityHeaders(): RequestHandler {
  return helmet(HELMET_OPTIONS);
}

/**
 * The same headers as a fixed set, for the callback route that answers before Express (docs/performance.md):
 * none of the policies above depends on the request, so helmet is run once on a stand-in response.
 */
export function staticSecurityHeaders(): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  const stand = {
    setHeader(name: string, value: string | number | string[]) {
      headers[name.toLowerCase()] = value;
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let done = false;
  const middleware = helmet(HELMET_OPTIONS) as unknown as (req: IncomingMessage, res: typeof stand, next: () => void) => void;
  middleware({ headers: {} } as IncomingMessage, stand, () => {
    done = true;
  });
  if (!done) throw new Error('staticSecurityHeaders: helmet did not finish synchronously');
  return headers;
}
