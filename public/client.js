// Embeddable screen-pop client (ES module, no dependencies). The agent page uses it too.
//
//   import { connect } from 'https://bridge.example.com/client.js';
//   const conn = connect({ token, onEvent: (event) => showPopup(event), onStatus: (s) => console.log(s) });
//
// `url` defaults to the bridge this file was loaded from. The client reconnects by itself with backoff and
// resumes with lastEventId, so nothing is missed across a network blip or a bridge restart, and it drops
// any event it has already delivered, so nothing pops twice.
//
// Events: every event of the agent's extension (a supervisor's: all), as the bridge sends them: call.ringing,
// then call.answered / call.ended / call.missed, call.completed and call.recording; `data.call.sessionId`
// ties one call's events together (docs/calls.md).
//
// Statuses: 'connecting' (first attempt), 'connected' (the bridge said ready), 'reconnecting' (waiting to
// try again), 'expired' (the token ran out: get a new one and call connect again), 'closed' (close() was
// called). 'expired' and 'closed' are final; 'expired' comes with { reason: 'revoked' } when the bridge said the
// token was revoked (a sign-out with the same token elsewhere, or an administrator), else { reason: 'expired' }
// or nothing.

const PING_INTERVAL_MS = 25_000;
const PONG_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_MS = 10_000;

function parseId(id) {
  const m = typeof id === 'string' ? /^(\d{1,20})-(\d{1,20})$/.exec(id) : null;
  return m ? [BigInt(m[1]), BigInt(m[2])] : null;
}

/** Compares two event ids ("<ms or counter>-<seq>"); malformed ids sort first. */
export function compareEventIds(a, b) {
  const pa = parseId(a);
  const pb = parseId(b);
  if (!pa || !pb) return pa ? 1 : pb ? -1 : 0;
  if (pa[0] !== pb[0]) return pa[0] < pb[0] ? -1 : 1;
  if (pa[1] !== pb[1]) return pa[1] < pb[1] ? -1 : 1;
  return 0;
}

function tokenClaims(token) {
  try {
    const part = String(token).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part + '='.repeat((4 - (part.length % 4)) % 4)));
  } catch {
    return null;
  }
}

/** Expiry (ms since epoch) read from a JWT's payload, or null. The bridge checks the signature; this only reads. */
export function tokenExpiry(token) {
  const exp = tokenClaims(token)?.exp;
  return typeof exp === 'number' ? exp * 1000 : null;
}

/** Issue time (ms since epoch) read from a JWT's payload, or null. */
export function tokenIssuedAt(token) {
  const iat = tokenClaims(token)?.iat;
  return typeof iat === 'number' ? iat * 1000 : null;
}

/** The bridge this module was served by: a CRM page importing it cross-origin need not repeat the URL. */
function defaultBase() {
  try {
    return new URL(import.meta.url).origin;
  } catch {
    return globalThis.location?.origin;
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
 * @returns {{ readonly lastEventId: string | null, readonly status: string, close(): void }}
 */
export function connect(options) {
  const { token, onEvent } = options;
  if (typeof token !== 'string' || token === '') throw new TypeError('connect: token is required');
  if (typeof onEvent !== 'function') throw new TypeError('connect: onEvent must be a function');
  const onStatus = options.onStatus ?? (() => {});
  const base = options.url ?? defaultBase();
  const WS = options.WebSocketImpl ?? globalThis.WebSocket;
  let lastEventId = options.lastEventId ?? null;
  let status = 'connecting';
  let socket = null;
  let attempt = 0;
  let retryTimer = null;
  let pingTimer = null;
  let pongTimer = null;
  let stopped = false;

  const setStatus = (next, detail) => {
    status = next;
    try {
      onStatus(next, detail);
    } catch (err) {
      // A throwing callback must not break the connection logic.
      setTimeout(() => {
        throw err;
      });
    }
  };

  const expired = () => {
    const exp = tokenExpiry(token);
    return exp !== null && exp <= Date.now();
  };

  const clearTimers = () => {
    clearTimeout(retryTimer);
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    retryTimer = pingTimer = pongTimer = null;
  };

  function finish(final, detail) {
    stopped = true;
    clearTimers();
    removeListeners();
    setStatus(final, detail);
  }

  async function open() {
    retryTimer = null;
    if (stopped) return;
    if (attempt > 0) setStatus('reconnecting', { attempt });
    else setStatus('connecting', { attempt });
    // Past the token's expiry by this PC's clock, which may run ahead of the bridge's (a desk clock set an
    // hour or a time zone off): the bridge says whether the token is still good, not the PC.
    if (expired()) {
      const state = await sessionState();
      if (stopped) return;
      if (state === 'invalid') return finish('expired');
      if (state === 'unknown') return scheduleRetry(1006);
    }
    let ws;
    try {
      ws = new WS(socketUrl(base, token, lastEventId));
    } catch {
      return scheduleRetry(1006);
    }
    socket = ws;
    ws.onmessage = (msg) => {
      if (socket !== ws) return;
      clearTimeout(pongTimer); // any frame proves the connection is alive
      pongTimer = null;
      let frame;
      try {
        frame = JSON.parse(msg.data);
      } catch {
        return;
      }
      if (!frame || typeof frame !== 'object') return;
      if (frame.type === 'pong') return;
      if (frame.type === 'ready') {
        attempt = 0;
        // The bridge could not vouch for the events after our id (it restarted without its log, or the id is
        // too old), or we had none: ids may have started over, so ours is no guide to what we have seen. The
        // bridge's lastEventId (the newest event when the socket joined) is where the next resume starts, so
        // calls that ring during a blip before our first event are still replayed.
        if (!frame.resumed) lastEventId = typeof frame.lastEventId === 'string' ? frame.lastEventId : null;
        startPinging(ws);
        setStatus('connected', { resumed: frame.resumed === true, extension: frame.extension, lastEventId });
        return;
      }
      if (typeof frame.id !== 'string') return;
      if (lastEventId && compareEventIds(frame.id, lastEventId) <= 0) return; // delivered already
      lastEventId = frame.id;
      try {
        onEvent(frame);
      } catch (err) {
        setTimeout(() => {
          throw err;
        });
      }
    };
    ws.onclose = (ev) => {
      if (socket !== ws) return;
      socket = null;
      if (stopped) return;
      // The bridge closes with 4001 and says why: 'token revoked' (signed out elsewhere) or 'token expired'.
      if (ev.code === 4001) return finish('expired', { reason: ev.reason === 'token revoked' ? 'revoked' : 'expired' });
      scheduleRetry(ev.code);
    };
  }

  /** App-level ping: a connection that died without a close (sleep, Wi-Fi change) is noticed within ~35 s. */
  function startPinging(ws) {
    clearInterval(pingTimer);
    pingTimer = setInterval(() => {
      if (socket !== ws || ws.readyState !== 1) return;
      ws.send('{"type":"ping"}');
      pongTimer ??= setTimeout(() => dropSocket(ws), PONG_TIMEOUT_MS);
    }, PING_INTERVAL_MS);
  }

  function dropSocket(ws) {
    if (socket !== ws) return;
    socket = null;
    try {
      ws.close(4000, 'no answer');
    } catch {
      // already closing
    }
    if (!stopped) scheduleRetry(1006);
  }

  function scheduleRetry(code) {
    clearTimers();
    attempt += 1;
    // Exponential backoff with jitter, 0.5 s up to 10 s: a restarting bridge is not stampeded.
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(attempt - 1, 5)) * (0.75 + Math.random() * 0.5);
    setStatus('reconnecting', { attempt, delay, code });
    retryTimer = setTimeout(open, delay);
    // A refused handshake looks like a network failure to a browser: after two, ask whether the token
    // itself is still good (revoked at sign-out elsewhere, or signed by another deployment's secret).
    if (attempt === 2 || attempt % 5 === 0) void checkSession();
  }

  /** 'valid', 'invalid' (the bridge refuses the token: expired, revoked, foreign) or 'unknown' (unreachable). */
  async function sessionState() {
    try {
      const res = await fetch(new URL('/api/agents/session', base), { headers: { Authorization: `Bearer ${token}` } });
      return res.status === 401 ? 'invalid' : res.ok ? 'valid' : 'unknown';
    } catch {
      return 'unknown';
    }
  }

  async function checkSession() {
    // Unreachable: keep retrying.
    if ((await sessionState()) === 'invalid' && !stopped) finish('expired');
  }

  // Back online, or the tab is looked at again: try now rather than wait out the backoff; and a socket that
  // looks open may have died silently meanwhile (a laptop asleep, a Wi-Fi change), so ping it now rather than
  // at the next ping up to 25 s later: a dead one is replaced within PONG_TIMEOUT_MS.
  const retryNow = () => {
    if (stopped) return;
    if (globalThis.document?.visibilityState === 'hidden') return;
    if (socket) return probe(socket);
    if (!retryTimer) return;
    clearTimeout(retryTimer);
    void open();
  };

  function probe(ws) {
    if (ws.readyState !== 1 || pongTimer || !pingTimer) return; // not ready yet, or a ping is out already
    ws.send('{"type":"ping"}');
    pongTimer = setTimeout(() => dropSocket(ws), PONG_TIMEOUT_MS);
  }
  const target = globalThis.window;
  target?.addEventListener?.('online', retryNow);
  globalThis.document?.addEventListener?.('visibilitychange', retryNow);
  function removeListeners() {
    target?.removeEventListener?.('online', retryNow);
    globalThis.document?.removeEventListener?.('visibilitychange', retryNow);
  }

  void open();
  return {
    get lastEventId() {
      return lastEventId;
    },
    get status() {
      return status;
    },
    close() {
      if (stopped) return;
      const ws = socket;
      socket = null;
      finish('closed');
      try {
        ws?.close(1000);
      } catch {
        // already closed
      }
    },
  };
}
