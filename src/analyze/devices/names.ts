import { ipBytesToString } from '../../common/addr.js';

/** A name and the address it belongs to, as a name protocol told it. */
export type NameSink = (ip: string, name: string, how: string) => void;

const T_A = 1;
const T_PTR = 12;
const T_AAAA = 28;
const T_SRV = 33;
const T_NB = 0x20;

/**
 * Read a DNS name at `off` (compression pointers followed, at most 20 hops and 255 bytes of
 * name); returns the name and where the name ends in the message, or null when it is damaged.
 * `out[0]` receives the end offset.
 */
export function readDnsName(
  b: Uint8Array,
  msg: number,
  end: number,
  off: number,
  out: Int32Array,
): string | null {
  let o = off;
  let jumps = 0;
  let after = -1;
  let name = '';
  for (;;) {
    if (o >= end) return null;
    const l = b[o]!;
    if (l === 0) {
      if (after < 0) after = o + 1;
      break;
    }
    if ((l & 0xc0) === 0xc0) {
      if (o + 1 >= end || ++jumps > 20) return null;
      if (after < 0) after = o + 2;
      o = msg + (((l & 0x3f) << 8) | b[o + 1]!);
      continue;
    }
    if (l > 63 || o + 1 + l > end) return null;
    if (name.length > 0) name += '.';
    for (let i = o + 1; i <= o + l; i++) name += String.fromCharCode(b[i]!);
    if (name.length > 255) return null;
    o += 1 + l;
  }
  out[0] = after;
  return name;
}

/** The address a reverse-lookup name stands for (4.3.2.1.in-addr.arpa → 1.2.3.4), or null. */
export function reverseNameIp(name: string): string | null {
  const lower = name.toLowerCase().replace(/\.$/, '');
  if (lower.endsWith('.in-addr.arpa')) {
    const parts = lower.slice(0, -13).split('.');
    if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256)) return null;
    return parts.reverse().map(Number).join('.');
  }
  if (lower.endsWith('.ip6.arpa')) {
    const nib = lower.slice(0, -9).split('.');
    if (nib.length !== 32 || !nib.every((p) => /^[0-9a-f]$/.test(p))) return null;
    const bytes = new Uint8Array(16);
    for (let i = 0; i < 16; i++) bytes[i] = Number.parseInt(nib[31 - 2 * i]! + nib[30 - 2 * i]!, 16);
    return ipBytesToString(bytes, 0, 6);
  }
  return null;
}

const pos = new Int32Array(1);

/**
 * The names an mDNS response (UDP 5353) gives: A and AAAA records (name → the address in the
 * record), reverse PTR records (the address in the owner name → the name), and SRV targets
 * (the host that announced the service). Queries are skipped: they name what someone looks
 * for, not who they are. Returns false when the message is damaged (names read before the
 * damage are still given).
 */
export function parseMdns(
  b: Uint8Array,
  off: number,
  end: number,
  srcIp: () => string,
  sink: NameSink,
): boolean {
  if (end - off < 12) return false;
  const flags = (b[off + 2]! << 8) | b[off + 3]!;
  if ((flags & 0x8000) === 0) return true;
  const qd = (b[off + 4]! << 8) | b[off + 5]!;
  const rrs =
    ((b[off + 6]! << 8) | b[off + 7]!) +
    ((b[off + 8]! << 8) | b[off + 9]!) +
    ((b[off + 10]! << 8) | b[off + 11]!);
  let o = off + 12;
  for (let i = 0; i < qd; i++) {
    if (readDnsName(b, off, end, o, pos) === null) return false;
    o = pos[0]! + 4;
    if (o > end) return false;
  }
  for (let i = 0; i < rrs && i < 512; i++) {
    const owner = readDnsName(b, off, end, o, pos);
    if (owner === null) return false;
    o = pos[0]!;
    if (o + 10 > end) return false;
    const type = (b[o]! << 8) | b[o + 1]!;
    const rdlen = (b[o + 8]! << 8) | b[o + 9]!;
    const rd = o + 10;
    if (rd + rdlen > end) return false;
    if (type === T_A && rdlen === 4) sink(ipBytesToString(b, rd, 4), owner, 'A');
    else if (type === T_AAAA && rdlen === 16) sink(ipBytesToString(b, rd, 6), owner, 'AAAA');
    else if (type === T_PTR) {
      const ip = reverseNameIp(owner);
      if (ip !== null) {
        const target = readDnsName(b, off, rd + rdlen, rd, pos);
        if (target) sink(ip, target, 'PTR');
      }
    } else if (type === T_SRV && rdlen > 6) {
      const target = readDnsName(b, off, rd + rdlen, rd + 6, pos);
      if (target) sink(srcIp(), target, 'SRV');
    }
    o = rd + rdlen;
  }
  return true;
}

const nbName = new Uint8Array(16);

/** Decode the first-level-encoded NetBIOS name at `o` into `nbName`; returns the end offset, or -1. */
function readNbName(b: Uint8Array, msg: number, end: number, o: number): number {
  if (o < end && (b[o]! & 0xc0) === 0xc0) {
    if (o + 1 >= end) return -1;
    const t = msg + (((b[o]! & 0x3f) << 8) | b[o + 1]!);
    // One hop only: a pointer to a pointer is not something a name server writes.
    if (t >= end || (b[t]! & 0xc0) === 0xc0) return -1;
    return readNbName(b, msg, end, t) < 0 ? -1 : o + 2;
  }
  if (o + 33 > end || b[o] !== 32) return -1;
  for (let i = 0; i < 16; i++) {
    const hi = b[o + 1 + 2 * i]! - 0x41;
    const lo = b[o + 2 + 2 * i]! - 0x41;
    if (hi < 0 || hi > 15 || lo < 0 || lo > 15) return -1;
    nbName[i] = (hi << 4) | lo;
  }
  // Scope labels (rare) follow until the root.
  let p = o + 33;
  while (p < end && b[p] !== 0) {
    if ((b[p]! & 0xc0) !== 0) return -1;
    p += 1 + b[p]!;
  }
  return p < end ? p + 1 : -1;
}

function nbNameText(): string {
  let e = 15;
  while (e > 0 && (nbName[e - 1] === 0x20 || nbName[e - 1] === 0)) e--;
  let s = '';
  for (let i = 0; i < e; i++) s += String.fromCharCode(nbName[i]!);
  return s;
}

/**
 * The names a NetBIOS name service message (UDP 137) binds to addresses: registrations and
 * refreshes (the NB record in the additional section) and positive query responses (NB
 * records in the answer). Only unique names of a workstation or server (suffix 0x00 or 0x20)
 * are host names; group names (domains, workgroups) are skipped. Returns false when damaged.
 */
export function parseNbns(b: Uint8Array, off: number, end: number, sink: NameSink): boolean {
  if (end - off < 12) return false;
  const flags = (b[off + 2]! << 8) | b[off + 3]!;
  const response = (flags & 0x8000) !== 0;
  const opcode = (flags >> 11) & 0xf;
  const rcode = flags & 0xf;
  if (response && rcode !== 0) return true;
  if (!(opcode === 0 || opcode === 5 || opcode === 8 || opcode === 9)) return true;
  if (opcode === 0 && !response) return true; // a query names what is looked for
  const qd = (b[off + 4]! << 8) | b[off + 5]!;
  const rrs =
    ((b[off + 6]! << 8) | b[off + 7]!) +
    ((b[off + 8]! << 8) | b[off + 9]!) +
    ((b[off + 10]! << 8) | b[off + 11]!);
  let o = off + 12;
  for (let i = 0; i < qd && i < 16; i++) {
    o = readNbName(b, off, end, o);
    if (o < 0 || o + 4 > end) return false;
    o += 4;
  }
  for (let i = 0; i < rrs && i < 64; i++) {
    o = readNbName(b, off, end, o);
    if (o < 0 || o + 10 > end) return false;
    const type = (b[o]! << 8) | b[o + 1]!;
    const rdlen = (b[o + 8]! << 8) | b[o + 9]!;
    const rd = o + 10;
    if (rd + rdlen > end) return false;
    const suffix = nbName[15]!;
    if (type === T_NB && (suffix === 0x00 || suffix === 0x20)) {
      for (let e = rd; e + 6 <= rd + rdlen; e += 6) {
        const group = (b[e]! & 0x80) !== 0;
        if (group) continue;
        const name = nbNameText();
        if (name.length > 0 && !(b[e + 2] === 0 && b[e + 3] === 0 && b[e + 4] === 0 && b[e + 5] === 0))
          sink(ipBytesToString(b, e + 2, 4), name, suffix === 0x20 ? 'server' : 'workstation');
      }
    }
    o = rd + rdlen;
  }
  return true;
}
