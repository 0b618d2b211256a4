/** Time formatting shared by every stage that emits records. */

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

/** ISO-8601 UTC with nanoseconds: 2016-05-18T08:06:22.617313000Z. */
export function isoNs(sec: number, ns: number): string {
  const d = new Date(sec * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T${pad(d.getUTCHours(), 2)}:${pad(
    d.getUTCMinutes(),
    2,
  )}:${pad(d.getUTCSeconds(), 2)}.${pad(ns, 9)}Z`;
}

/** Milliseconds between two (sec, ns) instants, rounded to the microsecond. */
export function elapsedMs(sec0: number, ns0: number, sec1: number, ns1: number): number {
  return Math.round(((sec1 - sec0) * 1e9 + (ns1 - ns0)) / 1e3) / 1e3;
}
