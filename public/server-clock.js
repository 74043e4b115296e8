// The bridge's clock, as the HTTP Date header of its answers tells it. Event timestamps are the bridge's, and
// a desk PC's clock may be minutes off: ages (is this call older than 5 minutes? how long has it been on?)
// are measured on the bridge's clock. The header has whole seconds, so a smaller offset is left alone.
const MIN_OFFSET_MS = 5_000;
let offsetMs = 0;

/** Reads the bridge's time from one of its answers. */
export function noteServerDate(res) {
  const date = Date.parse(res?.headers?.get('date') ?? '');
  if (!Number.isFinite(date)) return;
  const offset = date - Date.now();
  offsetMs = Math.abs(offset) >= MIN_OFFSET_MS ? offset : 0;
}

/** Now, on the bridge's clock (ms). */
export function serverNow() {
  return Date.now() + offsetMs;
}
