import { isoNs } from '../common/time.js';

/** ISO-8601 of epoch microseconds. */
export function pcapTsToIso(us: number): string {
  const sec = Math.floor(us / 1e6);
  return isoNs(sec, (us - sec * 1e6) * 1000);
}

/**
 * A user's time: ISO-8601, epoch seconds (with fraction), or relative to now (-1h, -30m, -2d,
 * -90s). Returns epoch microseconds, or null when the text is none of these.
 */
export function parseTime(s: string, nowMs = Date.now()): number | null {
  const t = s.trim();
  const rel = /^-(\d+(?:\.\d+)?)([smhd])$/.exec(t);
  if (rel) {
    const mul = { s: 1, m: 60, h: 3600, d: 86400 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return Math.round((nowMs / 1000 - Number(rel[1]) * mul) * 1e6);
  }
  if (/^\d{1,10}(\.\d{1,6})?$/.test(t)) return Math.round(Number(t) * 1e6);
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(t)) {
    const ms = Date.parse(t.includes('T') || t.length === 10 ? t : t.replace(' ', 'T'));
    if (Number.isNaN(ms)) return null;
    const frac = /\.(\d+)/.exec(t);
    const us = frac ? Number(frac[1]!.slice(0, 6).padEnd(6, '0')) % 1000 : 0;
    return ms * 1000 + us;
  }
  return null;
}
