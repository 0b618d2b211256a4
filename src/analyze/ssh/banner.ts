/** SSH identification strings (RFC 4253 §4.2): "SSH-protoversion-softwareversion SP comments". */

const MAX_BANNER = 255;

/**
 * The banner in b[off, end) when a line there starts with "SSH-" (a server may send other
 * lines first): returns [start, end) of the banner without CR LF, or null.
 */
export function findBanner(b: Buffer, off: number, end: number): [number, number] | null {
  let p = off;
  while (p + 4 <= end) {
    if (b[p] === 0x53 && b[p + 1] === 0x53 && b[p + 2] === 0x48 && b[p + 3] === 0x2d) {
      let e = p;
      while (e < end && e - p < MAX_BANNER && b[e] !== 0x0a && b[e] !== 0x0d) e++;
      return [p, e];
    }
    // next line
    while (p < end && b[p] !== 0x0a) p++;
    p++;
    if (p - off > 1024) return null;
  }
  return null;
}

/** Protocol version and software of a banner string. */
export function splitBanner(s: string): { version: string | null; software: string | null } {
  const m = /^SSH-([^-\s]*)-(\S*)/.exec(s);
  return m === null ? { version: null, software: null } : { version: m[1] ?? null, software: m[2] ?? null };
}
