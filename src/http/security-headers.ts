/**
 * Security headers on every answer (helmet; docs/security.md): a strict content security policy for the
 * agent page (scripts and styles from the bridge only, no inline script, never framed), nosniff, no
 * Referer. `upgrade-insecure-requests` is left out: demo installs are reached over plain http on a LAN.
 * `/client.js` keeps its cross-origin headers (app.ts sets them after these).
 */
import helmet from 'helmet';
import type { RequestHandler } from 'express';

export function securityHeaders(): RequestHandler {
  return helmet({
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
  });
}
