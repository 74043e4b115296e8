/** The WebSocket hub's figures as metrics, read at scrape time. */
import type { Registry } from 'prom-client';
import { addCounter, addGauge, addLabelledCounter } from '../metrics.js';
import type { WsHub } from './hub.js';

export function registerHubMetrics(registry: Registry, hub: WsHub): void {
  addLabelledCounter(registry, 'bridge_ws_upgrades_refused_total', 'WebSocket upgrades refused by a socket cap (token: 429, process: 503)', ['limit'], () => {
    const st = hub.stats();
    return [
      { labels: { limit: 'token' }, value: st.refusedTokenLimit },
      { labels: { limit: 'process' }, value: st.refusedProcessLimit },
    ];
  });
  addCounter(registry, 'bridge_ws_revoked_closes_total', 'Sockets closed because their token was revoked', () => hub.stats().revokedCloses);
  addGauge(registry, 'bridge_ws_sockets', 'Open agent WebSockets', () => hub.stats().sockets);
  addCounter(registry, 'bridge_ws_frames_sent_total', 'Frames sent to agent WebSockets', () => hub.stats().framesSent);
  addCounter(registry, 'bridge_ws_frames_dropped_total', 'Frames not sent (socket closing, or backlog over the limit)', () => hub.stats().framesDropped);
  addCounter(registry, 'bridge_ws_slow_reader_closes_total', 'Sockets closed with 1013 because they read too slowly', () => hub.stats().slowReaderCloses);
}
