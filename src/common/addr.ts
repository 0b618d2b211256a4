/** Address formatting and parsing. Formatting happens when a record is emitted, never per packet. */

export function ipv4ToString(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

const G = new Uint16Array(8);

/** RFC 5952 text form of an IPv6 address given as four 32-bit words. */
export function ipv6WordsToString(w0: number, w1: number, w2: number, w3: number): string {
  // IPv4-mapped addresses keep their dotted tail.
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return `::ffff:${ipv4ToString(w3 >>> 0)}`;
  // Groups in a reused array and one string built by appending: records with IPv6 addresses
  // are formatted by the ten thousand, and the array-per-call form was a tenth of L7's garbage.
  const g = G;
  g[0] = w0 >>> 16;
  g[1] = w0;
  g[2] = w1 >>> 16;
  g[3] = w1;
  g[4] = w2 >>> 16;
  g[5] = w2;
  g[6] = w3 >>> 16;
  g[7] = w3;
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (i > 0 && i !== bestStart + bestLen) s += ':';
    s += g[i]!.toString(16);
  }
  return s;
}

export function ipv6BytesToString(b: Uint8Array, off: number): string {
  const w = (o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  return ipv6WordsToString(w(off), w(off + 4), w(off + 8), w(off + 12));
}

export function ipBytesToString(b: Uint8Array, off: number, ver: number): string {
  if (ver === 4) return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
  return ipv6BytesToString(b, off);
}

export function macToString(b: Uint8Array, off: number): string {
  let s = '';
  for (let i = 0; i < 6; i++) {
    const x = b[off + i]!;
    s += (i ? ':' : '') + (x < 16 ? '0' : '') + x.toString(16);
  }
  return s;
}

/** Parse an IPv4 address into an unsigned 32-bit number, or null. */
export function parseIpv4(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return null;
    v = v * 256 + o;
  }
  return v;
}

const G6 = new Uint16Array(8);

/**
 * Parse an IPv6 text into four big-endian 32-bit words at `out[o..o+3]` (the first word holds
 * the first two groups); false (nothing written) when `parseIpv6` would answer null. The store
 * codes every IPv6 address of a record batch this way: the general parser's regular expressions,
 * splits and arrays were most of the store's garbage per address. A text with a dotted IPv4 tail
 * (rare: mapped addresses) takes the general parser.
 */
export function parseIpv6Words(s: string, out: Uint32Array, o: number): boolean {
  const len = s.length;
  const g = G6;
  let n = 0;
  /** Groups before the "::", or -1 when there is none. */
  let gap = -1;
  let i = 0;
  if (len >= 2 && s.charCodeAt(0) === 58 && s.charCodeAt(1) === 58) {
    gap = 0;
    i = 2;
  }
  while (i < len) {
    let v = 0;
    let digits = 0;
    while (i < len) {
      const c = s.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      if (++digits > 4) return false;
      v = v * 16 + d;
      i++;
    }
    if (i < len && s.charCodeAt(i) === 46) return parseIpv6Bytes(s, out, o);
    if (digits === 0 || n === 8) return false;
    g[n++] = v;
    if (i === len) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i < len && s.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = n;
      i++;
      if (i === len) break;
    } else if (i === len) return false;
  }
  if (gap < 0 ? n !== 8 : n > 7) return false;
  if (gap >= 0) {
    const z = 8 - n;
    for (let k = n - 1; k >= gap; k--) g[k + z] = g[k]!;
    for (let k = gap; k < gap + z; k++) g[k] = 0;
  }
  out[o] = ((g[0]! << 16) | g[1]!) >>> 0;
  out[o + 1] = ((g[2]! << 16) | g[3]!) >>> 0;
  out[o + 2] = ((g[4]! << 16) | g[5]!) >>> 0;
  out[o + 3] = ((g[6]! << 16) | g[7]!) >>> 0;
  return true;
}

function parseIpv6Bytes(s: string, out: Uint32Array, o: number): boolean {
  const b = parseIpv6(s);
  if (b === null) return false;
  for (let k = 0; k < 4; k++) {
    const i = k * 4;
    out[o + k] = ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
  }
  return true;
}

/** Parse an IPv6 address (with optional embedded IPv4 tail) into 16 bytes, or null. */
export function parseIpv6(s: string): Uint8Array | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.length < 2) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parseGroups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      if (it.includes('.')) {
        if (i !== items.length - 1) return null;
        const v4 = parseIpv4(it);
        if (v4 === null) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(it)) return null;
        out.push(Number.parseInt(it, 16));
      }
    }
    return out;
  };
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !tail) return null;
  let groups: number[];
  if (halves.length === 2) {
    if (head.length + tail.length > 7) return null;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return null;
    groups = head;
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}
