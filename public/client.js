// Embeddable screen-pop client (ES module). The agent page uses it too.
//
//   import { connect } from 'https://bridge.example.com/client.js';
//   const conn = connect({ url: 'https://bridge.example.com', token, onEvent, onStatus });
//
// It reconnects by itself with backoff and resumes with lastEventId, so nothing is missed across a
// network blip or a bridge restart, and it drops any event it has already delivered, so nothing pops twice.

/** Compares two event ids ("<ms>-<seq>"). */
export function compareEventIds(a, b) {
  const [am, as] = a.split('-').map((p) => BigInt(p));
  const [bm, bs] = b.split('-').map((p) => BigInt(p));
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}

/** Expiry (ms since epoch) read from a JWT's payload, or null. The bridge checks the signature; this only reads. */
export function tokenExpiry(token) {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return typeof payload.exp === 'number' ? payload.exp * 1000 : null;
  } catch {
    return null;
  }
}

function socketUrl(base, token, lastEventId) {
  const u = new URL('/ws', base);
  u.protocol = u.protocol === 'https:' || u.protocol === 'wss:' ? 'wss:' : 'ws:';
  u.searchParams.set('token', token);
  if (lastEventId) u.searchParams.set('lastEventId', lastEventId);
  return u.toString();
}

/**
 * @param {{ url?: string, token: string, lastEventId?: string | null,
 *           onEvent: (event: object) => void,
 *           onStatus?: (status: 'connecting'|'connected'|'reconnecting'|'expired'|'closed', detail?: object) => void,
 *           WebSocketImpl?: typeof WebSocket }} options
 */
export function connect(options) {
  const { token, onEvent } = options;
  const onStatus = options.onStatus ?? (() => {});
  const base = options.url ?? globalThis.location?.origin;
  const WS = options.WebSocketImpl ?? globalThis.WebSocket;
  let lastEventId = options.lastEventId ?? null;
  let socket = null;
  let attempt = 0;
  let timer = null;
  let stopped = false;

  const expired = () => {
    const exp = tokenExpiry(token);
    return exp !== null && exp <= Date.now();
  };

  function open() {
    if (stopped) return;
    if (expired()) {
      stopped = true;
      onStatus('expired');
      return;
    }
    onStatus(attempt === 0 ? 'connecting' : 'reconnecting', { attempt });
    socket = new WS(socketUrl(base, token, lastEventId));
    socket.onmessage = (msg) => {
      let frame;
      try {
        frame = JSON.parse(msg.data);
      } catch {
        return;
      }
      if (frame.type === 'ready') {
        attempt = 0;
        onStatus('connected', { resumed: frame.resumed, extension: frame.extension });
        return;
      }
      if (typeof frame.id !== 'string') return;
      if (lastEventId && compareEventIds(frame.id, lastEventId) <= 0) return; // seen already
      lastEventId = frame.id;
      onEvent(frame);
    };
    socket.onclose = (ev) => {
      socket = null;
      if (stopped) return;
      if (ev.code === 4001 || expired()) {
        stopped = true;
        onStatus('expired');
        return;
      }
      attempt += 1;
      // Exponential backoff with jitter, 0.5 s up to 10 s: a restarting bridge is not stampeded.
      const delay = Math.min(10_000, 500 * 2 ** Math.min(attempt - 1, 5)) * (0.75 + Math.random() * 0.5);
      onStatus('reconnecting', { attempt, delay, code: ev.code });
      timer = setTimeout(open, delay);
    };
  }

  open();
  return {
    get lastEventId() {
      return lastEventId;
    },
    close() {
      stopped = true;
      clearTimeout(timer);
      socket?.close(1000);
      onStatus('closed');
    },
  };
}
