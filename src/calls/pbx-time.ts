/**
 * The PBX writes call-log and active-call times in its own local time ("YYYY-MM-DD HH:mm:ss"), whose zone
 * the manual does not name: PBX_TIMEZONE says which. Intl knows every IANA zone, so no library is needed.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall-clock fields of an instant in that zone. */
function wallClock(ms: number, timeZone: string): { date: string; asUtcMs: number } {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) parts[p.type] = p.value;
  const date = `${parts.year}-${parts.month}-${parts.day}`;
  const asUtcMs = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  return { date, asUtcMs };
}

/** YYYY-MM-DD of the instant in the PBX's zone: the dates the call log is asked for. */
export function pbxLocalDate(ms: number, timeZone: string): string {
  return wallClock(ms, timeZone).date;
}

/** Reads "YYYY-MM-DD HH:mm:ss" (or with a T) written in the PBX's zone; null when it is not such a time. */
export function parsePbxLocalTime(text: string | null, timeZone: string): number | null {
  if (!text) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?/.exec(text.trim());
  if (!m) return null;
  const asUtc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
  if (Number.isNaN(asUtc)) return null;
  // Find the instant whose wall clock in the zone reads asUtc; twice covers a change of offset in between.
  let guess = asUtc;
  for (let i = 0; i < 2; i++) guess += asUtc - wallClock(guess, timeZone).asUtcMs;
  return guess;
}
