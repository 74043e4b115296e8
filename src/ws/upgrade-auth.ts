/** The HTTP side of the WebSocket handshake: where the token comes from, and how a refusal is written. */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERRORS, type ErrorCode } from '../errors.js';

/** `?token=` first, then `Authorization: Bearer <token>`; null when neither carries one. */
export function tokenFromRequest(url: URL, headers: IncomingMessage['headers']): string | null {
  const fromQuery = url.searchParams.get('token');
  if (fromQuery) return fromQuery;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return match?.[1] ?? null;
}

/** Parses the request target; null when it cannot be parsed (then it is not ours). */
export function requestUrl(req: IncomingMessage): URL | null {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return null;
  }
}

/** Answers the upgrade request with the code's HTTP status and `{"error"}` (src/errors.ts), then closes the socket. */
export function refuseUpgrade(socket: Duplex, code: ErrorCode): void {
  const { status, error } = ERRORS[code];
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error });
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      '\r\n' +
      body,
  );
}
