import { TIME_PATTERN } from './schemas.js';

const RE = new RegExp(TIME_PATTERN);
const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
/** Times are kept within what every store represents exactly (epoch µs below 2^53). */
const MAX_US = 8e15;

/**
 * Reads exactly the times TIME_PATTERN admits (the schema the routes validate with), as epoch
 * microseconds clamped to [0, MAX_US]; null for anything else. Every schema-valid time is a
 * time here, so no valid request is refused for its time.
 */
export function parseApiTime(s: string, nowMs = Date.now()): number | null {
  if (!RE.test(s)) return null;
  const clamp = (us: number) => Math.min(MAX_US, Math.max(0, Math.round(us)));
  if (s === 'now') return clamp(nowMs * 1000);
  if (s.startsWith('-')) return clamp((nowMs - Number(s.slice(1, -1)) * UNIT_S[s.at(-1)!]! * 1000) * 1000);
  if (!s.includes('-')) return clamp(Number(s) * 1e6);
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?)?$/.exec(
      s,
    )!;
  const d = new Date(0);
  // setUTCFullYear, not Date.UTC: years 0-99 stay years 0-99; a day past the month's end rolls over
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), 0);
  let us = d.getTime() * 1000 + Number((m[7] ?? '').slice(0, 6).padEnd(6, '0'));
  const tz = m[8];
  if (tz && tz !== 'Z') {
    const sign = tz[0] === '-' ? -1 : 1;
    const hh = Number(tz.slice(1, 3));
    const mm = Number(tz.slice(-2));
    us -= sign * (hh * 3600 + mm * 60) * 1e6;
  }
  return clamp(us);
}
