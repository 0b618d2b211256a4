import { parseIpv4, parseIpv6 } from '../common/addr.js';
import { be32 } from '../common/bytes.js';
import type { Packet } from '../decode/packet.js';
import type { MatchRules } from './types.js';

export type PacketPredicate = (p: Packet) => boolean;

interface Net4 {
  addr: number;
  mask: number;
}
interface Net6 {
  bytes: Uint8Array;
  bits: number;
}

/** Parse "10.0.0.0/8", "2001:db8::/32" or a bare address; throws with the reason. */
export function parseCidr(s: string): { v4: Net4 } | { v6: Net6 } {
  const [a, b] = s.split('/');
  const v4 = parseIpv4(a ?? '');
  if (v4 !== null) {
    const bits = b === undefined ? 32 : Number(b);
    if (!Number.isInteger(bits) || bits < 0 || bits > 32) throw new Error(`bad prefix length in '${s}'`);
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return { v4: { addr: (v4 & mask) >>> 0, mask } };
  }
  const v6 = parseIpv6(a ?? '');
  if (v6 !== null) {
    const bits = b === undefined ? 128 : Number(b);
    if (!Number.isInteger(bits) || bits < 0 || bits > 128) throw new Error(`bad prefix length in '${s}'`);
    return { v6: { bytes: v6, bits } };
  }
  throw new Error(`'${s}' is not an IPv4 or IPv6 network`);
}

function in6(buf: Buffer, off: number, n: Net6): boolean {
  let bits = n.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const m = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((buf[off + i]! & m) !== (n.bytes[i]! & m)) return false;
  }
  return true;
}

/** Compile structured rules into one predicate over a decoded packet (innermost headers). */
export function compileRules(r: MatchRules): PacketPredicate | null {
  const tests: PacketPredicate[] = [];
  if (r.vni && r.vni.length > 0) {
    const set = new Set(r.vni);
    tests.push((p) => set.has(p.vni));
  }
  if (r.vlan && r.vlan.length > 0) {
    const set = new Set(r.vlan);
    tests.push(
      (p) =>
        (p.vlanCount > 0 && set.has(p.vlan0)) ||
        (p.vlanCount > 1 && set.has(p.vlan1)) ||
        (p.outerVlan !== 0 && set.has(p.outerVlan)),
    );
  }
  if (r.proto && r.proto.length > 0) {
    const set = new Set(r.proto);
    tests.push((p) => p.ipVer !== 0 && set.has(p.proto));
  }
  if (r.port && r.port.length > 0) {
    const set = new Set(r.port);
    tests.push((p) => p.l4Off >= 0 && p.icmpType < 0 && (set.has(p.srcPort) || set.has(p.dstPort)));
  }
  if (r.cidr && r.cidr.length > 0) {
    const v4: Net4[] = [];
    const v6: Net6[] = [];
    for (const c of r.cidr) {
      const n = parseCidr(c);
      if ('v4' in n) v4.push(n.v4);
      else v6.push(n.v6);
    }
    tests.push((p) => {
      if (p.ipVer === 4) {
        const s = be32(p.buf, p.srcOff);
        const d = be32(p.buf, p.dstOff);
        for (const n of v4) if ((s & n.mask) >>> 0 === n.addr || (d & n.mask) >>> 0 === n.addr) return true;
      } else if (p.ipVer === 6) {
        for (const n of v6) if (in6(p.buf, p.srcOff, n) || in6(p.buf, p.dstOff, n)) return true;
      }
      return false;
    });
  }
  if (tests.length === 0) return null;
  return (p) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i]!(p)) return false;
    return true;
  };
}
