/** Writers for pcap and pcapng files in every variant the readers accept (the tests' and the demo's). */

export interface TestPacket {
  data: Buffer;
  tsSec: number;
  tsNs: number;
  wirelen?: number;
  ifIndex?: number;
}

export function pcapFile(
  pkts: TestPacket[],
  opts: { be?: boolean; ns?: boolean; linkType?: number } = {},
): Buffer {
  const be = opts.be ?? false;
  const w32 = (b: Buffer, v: number, o: number): void => {
    if (be) b.writeUInt32BE(v >>> 0, o);
    else b.writeUInt32LE(v >>> 0, o);
  };
  const w16 = (b: Buffer, v: number, o: number): void => {
    if (be) b.writeUInt16BE(v, o);
    else b.writeUInt16LE(v, o);
  };
  const h = Buffer.alloc(24);
  w32(h, opts.ns ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(h, 2, 4);
  w16(h, 4, 6);
  w32(h, 262144, 16);
  w32(h, opts.linkType ?? 1, 20);
  const parts: Buffer[] = [h];
  for (const p of pkts) {
    const r = Buffer.alloc(16);
    w32(r, p.tsSec, 0);
    w32(r, opts.ns ? p.tsNs : Math.floor(p.tsNs / 1000), 4);
    w32(r, p.data.length, 8);
    w32(r, p.wirelen ?? p.data.length, 12);
    parts.push(r, p.data);
  }
  return Buffer.concat(parts);
}

export interface NgIface {
  linkType: number;
  /** if_tsresol byte: 6 = µs, 9 = ns, 0x80|n = 2^-n. Default 6. */
  tsresol?: number;
}

export function pcapngFile(ifaces: NgIface[], pkts: TestPacket[], opts: { be?: boolean } = {}): Buffer {
  const be = opts.be ?? false;
  const block = (type: number, body: Buffer): Buffer => {
    const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
    const len = 12 + padded.length;
    const b = Buffer.alloc(len);
    const w = (v: number, o: number): void => {
      if (be) b.writeUInt32BE(v >>> 0, o);
      else b.writeUInt32LE(v >>> 0, o);
    };
    w(type, 0);
    w(len, 4);
    padded.copy(b, 8);
    w(len, len - 4);
    return b;
  };
  const u32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    if (be) b.writeUInt32BE(v >>> 0);
    else b.writeUInt32LE(v >>> 0);
    return b;
  };
  const u16 = (v: number): Buffer => {
    const b = Buffer.alloc(2);
    if (be) b.writeUInt16BE(v);
    else b.writeUInt16LE(v);
    return b;
  };
  const shb = block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d), u16(1), u16(0), Buffer.alloc(8, 0xff)]));
  const out: Buffer[] = [shb];
  const units: number[] = [];
  for (const i of ifaces) {
    const r = i.tsresol ?? 6;
    units.push(r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r);
    const opt = Buffer.concat([u16(9), u16(1), Buffer.from([r, 0, 0, 0]), u16(0), u16(0)]);
    out.push(block(1, Buffer.concat([u16(i.linkType), u16(0), u32(262144), opt])));
  }
  for (const p of pkts) {
    const ifi = p.ifIndex ?? 0;
    const u = units[ifi]!;
    const ts = BigInt(p.tsSec) * BigInt(u) + (BigInt(p.tsNs) * BigInt(u)) / 1_000_000_000n;
    const body = Buffer.concat([
      u32(ifi),
      u32(Number(ts >> 32n)),
      u32(Number(ts & 0xffffffffn)),
      u32(p.data.length),
      u32(p.wirelen ?? p.data.length),
      p.data,
    ]);
    out.push(block(6, body));
  }
  return Buffer.concat(out);
}
