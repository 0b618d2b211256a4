/**
 * Just enough of pcap, pcapng and the common layers to list a flow's packets the way tcpdump
 * prints them. The server's decoder is the real one; this only draws summary lines.
 */

export interface PacketLine {
  n: number;
  /** Microseconds since the epoch. */
  tsUs: number;
  len: number;
  summary: string;
}

const TCP_FLAGS: [number, string][] = [
  [0x02, 'S'],
  [0x01, 'F'],
  [0x04, 'R'],
  [0x08, 'P'],
  [0x20, 'U'],
  [0x40, 'E'],
  [0x80, 'W'],
];

function ipv4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

function ipv6(b: Uint8Array, o: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((b[o + i]! << 8) | b[o + i + 1]!).toString(16));
  return parts
    .join(':')
    .replace(/(^|:)0(:0)+(:|$)/, '::')
    .replace(/:{3,}/, '::');
}

function transport(
  dv: DataView,
  b: Uint8Array,
  o: number,
  end: number,
  proto: number,
  src: string,
  dst: string,
  v6: boolean,
): string {
  const fam = v6 ? 'IP6' : 'IP';
  if ((proto === 6 || proto === 17) && end - o >= 8) {
    const sp = dv.getUint16(o);
    const dp = dv.getUint16(o + 2);
    if (proto === 17)
      return `${fam} ${src}.${sp} > ${dst}.${dp}: UDP, length ${Math.max(0, dv.getUint16(o + 4) - 8)}`;
    if (end - o < 20) return `${fam} ${src}.${sp} > ${dst}.${dp}: TCP (truncated)`;
    const seq = dv.getUint32(o + 4);
    const ack = dv.getUint32(o + 8);
    const hl = (b[o + 12]! >> 4) * 4;
    const fl = b[o + 13]!;
    const win = dv.getUint16(o + 14);
    let flags = TCP_FLAGS.filter(([m]) => fl & m)
      .map(([, c]) => c)
      .join('');
    if (fl & 0x10) flags += '.';
    const len = Math.max(0, end - o - hl);
    return `${fam} ${src}.${sp} > ${dst}.${dp}: Flags [${flags || 'none'}], seq ${seq}${fl & 0x10 ? `, ack ${ack}` : ''}, win ${win}, length ${len}`;
  }
  if ((proto === 1 || proto === 58) && end - o >= 2) {
    return `${fam} ${src} > ${dst}: ICMP${v6 ? '6' : ''} type ${b[o]}, code ${b[o + 1]}, length ${end - o}`;
  }
  return `${fam} ${src} > ${dst}: protocol ${proto}, length ${end - o}`;
}

function ip(dv: DataView, b: Uint8Array, o: number, end: number): string {
  if (end - o < 1) return 'truncated';
  const v = b[o]! >> 4;
  if (v === 4 && end - o >= 20) {
    const ihl = (b[o]! & 15) * 4;
    const total = dv.getUint16(o + 2);
    const fragOff = dv.getUint16(o + 6) & 0x1fff;
    const src = ipv4(b, o + 12);
    const dst = ipv4(b, o + 16);
    if (fragOff) return `IP ${src} > ${dst}: fragment offset ${fragOff * 8}`;
    return transport(dv, b, o + ihl, Math.min(end, o + total || end), b[o + 9]!, src, dst, false);
  }
  if (v === 6 && end - o >= 40) {
    return transport(
      dv,
      b,
      o + 40,
      Math.min(end, o + 40 + dv.getUint16(o + 4)),
      b[o + 6]!,
      ipv6(b, o + 8),
      ipv6(b, o + 24),
      true,
    );
  }
  return `IP version ${v}, truncated`;
}

function frame(linkType: number, data: Uint8Array): string {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const end = data.length;
  let o = 0;
  let et: number;
  try {
    if (linkType === 1) {
      if (end < 14) return 'truncated Ethernet frame';
      et = dv.getUint16(12);
      o = 14;
      while ((et === 0x8100 || et === 0x88a8) && o + 4 <= end) {
        et = dv.getUint16(o + 2);
        o += 4;
      }
    } else if (linkType === 113) {
      et = dv.getUint16(14);
      o = 16;
    } else if (linkType === 276) {
      et = dv.getUint16(0);
      o = 20;
    } else if (linkType === 101 || linkType === 12 || linkType === 228 || linkType === 229) {
      return ip(dv, data, 0, end);
    } else {
      return `link type ${linkType}, length ${end}`;
    }
    if (et === 0x0800 || et === 0x86dd) return ip(dv, data, o, end);
    if (et === 0x0806) return `ARP, length ${end - o}`;
    return `ethertype 0x${et.toString(16).padStart(4, '0')}, length ${end - o}`;
  } catch {
    return 'truncated';
  }
}

/** Packets of a pcap or pcapng file as tcpdump-like lines. Throws on a file that is neither. */
export function parseCapture(buf: ArrayBuffer, max = 10_000): { linkType: number; packets: PacketLine[] } {
  const dv = new DataView(buf);
  const bytes = new Uint8Array(buf);
  const packets: PacketLine[] = [];
  if (buf.byteLength < 24) throw new Error('the file is too short to be a capture');
  const magic = dv.getUint32(0, true);
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d || magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) {
    const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
    const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
    const linkType = dv.getUint32(20, le) & 0xffff;
    let o = 24;
    while (o + 16 <= buf.byteLength && packets.length < max) {
      const sec = dv.getUint32(o, le);
      const frac = dv.getUint32(o + 4, le);
      const incl = dv.getUint32(o + 8, le);
      const orig = dv.getUint32(o + 12, le);
      if (o + 16 + incl > buf.byteLength) break;
      const data = bytes.subarray(o + 16, o + 16 + incl);
      packets.push({
        n: packets.length + 1,
        tsUs: sec * 1e6 + (nano ? Math.floor(frac / 1000) : frac),
        len: orig,
        summary: frame(linkType, data),
      });
      o += 16 + incl;
    }
    return { linkType, packets };
  }
  if (magic === 0x0a0d0d0a) {
    let o = 0;
    let le = dv.getUint32(8, true) === 0x1a2b3c4d;
    const links: { type: number; tsDiv: number }[] = [];
    while (o + 12 <= buf.byteLength && packets.length < max) {
      const type = dv.getUint32(o, le);
      if (type === 0x0a0d0d0a) le = dv.getUint32(o + 8, true) === 0x1a2b3c4d;
      const len = dv.getUint32(o + 4, le);
      if (len < 12 || o + len > buf.byteLength) break;
      if (type === 1) {
        let tsDiv = 1;
        let p = o + 16;
        while (p + 4 <= o + len - 4) {
          const code = dv.getUint16(p, le);
          const olen = dv.getUint16(p + 2, le);
          if (code === 0) break;
          if (code === 9 && olen >= 1) {
            const r = bytes[p + 4]!;
            tsDiv = r & 0x80 ? 2 ** (r & 0x7f) / 1e6 : 10 ** r / 1e6;
          }
          p += 4 + ((olen + 3) & ~3);
        }
        links.push({ type: dv.getUint16(o + 8, le), tsDiv });
      } else if (type === 6) {
        const link = links[dv.getUint32(o + 8, le)] ?? { type: 1, tsDiv: 1 };
        const ts = dv.getUint32(o + 12, le) * 2 ** 32 + dv.getUint32(o + 16, le);
        const incl = dv.getUint32(o + 20, le);
        const orig = dv.getUint32(o + 24, le);
        const data = bytes.subarray(o + 28, o + 28 + incl);
        packets.push({
          n: packets.length + 1,
          tsUs: Math.floor(ts / link.tsDiv),
          len: orig,
          summary: frame(link.type, data),
        });
      }
      o += len;
    }
    return { linkType: links[0]?.type ?? 1, packets };
  }
  throw new Error('not a pcap or pcapng file');
}
