/** Time formatting shared by every stage that emits records. */

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

/**
 * The "YYYY-MM-DDTHH:MM:SS." part of recent seconds, direct-mapped by second: records come in
 * time order, so nearly every timestamp (two per flow record, one per L7 record) reuses a
 * prefix instead of building a Date and five padded fields.
 */
const PREFIX_SLOTS = 64;
const prefixSec = new Float64Array(PREFIX_SLOTS).fill(Number.NaN);
const prefixStr: string[] = new Array<string>(PREFIX_SLOTS).fill('');

/** ISO-8601 UTC with nanoseconds: 2016-05-18T08:06:22.617313000Z. */
export function isoNs(sec: number, ns: number): string {
  const k = sec & (PREFIX_SLOTS - 1);
  let prefix = prefixStr[k]!;
  if (prefixSec[k] !== sec) {
    const d = new Date(sec * 1000);
    prefix = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T${pad(d.getUTCHours(), 2)}:${pad(
      d.getUTCMinutes(),
      2,
    )}:${pad(d.getUTCSeconds(), 2)}.`;
    prefixSec[k] = sec;
    prefixStr[k] = prefix;
  }
  // 1e9 + ns has exactly ten digits for an integer ns in range: its last nine are the padded ns.
  const frac = Number.isInteger(ns) && ns >= 0 && ns < 1e9 ? String(1e9 + ns).slice(1) : pad(ns, 9);
  return `${prefix}${frac}Z`;
}

/** Milliseconds between two (sec, ns) instants, rounded to the microsecond. */
export function elapsedMs(sec0: number, ns0: number, sec1: number, ns1: number): number {
  return Math.round(((sec1 - sec0) * 1e9 + (ns1 - ns0)) / 1e3) / 1e3;
}
