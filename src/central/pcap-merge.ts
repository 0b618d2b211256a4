/**
 * Merge classic pcap files into one, packets in time order (stable: on equal times, the
 * earlier file first), as mergecap does. All inputs must share link type and time precision;
 * the snap length is the largest. Empty inputs (no bytes) are skipped.
 */
export function mergePcaps(files: readonly Buffer[]): Buffer {
  type In = { buf: Buffer; le: boolean; nano: boolean; pos: number };
  const ins: In[] = [];
  let link = -1;
  let snap = 0;
  let header: Buffer | null = null;
  for (const buf of files) {
    if (buf.length < 24) continue;
    const m = buf.readUInt32LE(0);
    const le = m === 0xa1b2c3d4 || m === 0xa1b23c4d;
    const mb = buf.readUInt32BE(0);
    if (!le && mb !== 0xa1b2c3d4 && mb !== 0xa1b23c4d) throw new Error('not a classic pcap file');
    const nano = (le ? m : mb) === 0xa1b23c4d;
    const l = le ? buf.readUInt32LE(20) : buf.readUInt32BE(20);
    if (link >= 0 && l !== link)
      throw new Error(`link types differ (${link}, ${l}): cannot merge into one pcap`);
    if (ins.length > 0 && ins[0]!.nano !== nano) throw new Error('time precisions differ: cannot merge');
    link = l;
    snap = Math.max(snap, le ? buf.readUInt32LE(16) : buf.readUInt32BE(16));
    header ??= Buffer.from(buf.subarray(0, 24));
    ins.push({ buf, le, nano, pos: 24 });
  }
  if (!header) return Buffer.alloc(0);
  const first = ins[0]!;
  if (first.le) header.writeUInt32LE(snap, 16);
  else header.writeUInt32BE(snap, 16);
  const time = (f: In): [number, number] =>
    f.le
      ? [f.buf.readUInt32LE(f.pos), f.buf.readUInt32LE(f.pos + 4)]
      : [f.buf.readUInt32BE(f.pos), f.buf.readUInt32BE(f.pos + 4)];
  const len = (f: In): number => 16 + (f.le ? f.buf.readUInt32LE(f.pos + 8) : f.buf.readUInt32BE(f.pos + 8));
  const out: Buffer[] = [header];
  for (;;) {
    let best: In | null = null;
    let bt: [number, number] = [0, 0];
    for (const f of ins) {
      if (f.pos + 16 > f.buf.length) continue;
      const t = time(f);
      if (!best || t[0] < bt[0] || (t[0] === bt[0] && t[1] < bt[1])) {
        best = f;
        bt = t;
      }
    }
    if (!best) break;
    const n = len(best);
    let rec = best.buf.subarray(best.pos, best.pos + n);
    if (best.le !== first.le) {
      // Rewrite the record header in the output's byte order.
      const h = Buffer.alloc(16);
      for (let i = 0; i < 4; i++) {
        const v = best.le ? rec.readUInt32LE(i * 4) : rec.readUInt32BE(i * 4);
        if (first.le) h.writeUInt32LE(v, i * 4);
        else h.writeUInt32BE(v, i * 4);
      }
      rec = Buffer.concat([h, rec.subarray(16)]);
    }
    out.push(rec);
    best.pos += n;
  }
  return Buffer.concat(out);
}
