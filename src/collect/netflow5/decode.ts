/**
 * NetFlow v5: a 24-byte header and up to 30 fixed 48-byte records (Cisco's format, no
 * templates). The sequence number counts flow records; the header's sampling field applies
 * to every record.
 */
import type { CollectDecoder } from '../decoder.js';
import type { ExportContext } from '../flow-acc.js';
import type { ExporterStats } from '../types.js';

const HDR = 24;
const REC = 48;

export function decodeNetflow5(
  d: CollectDecoder,
  b: Buffer,
  off: number,
  len: number,
  exporter: string,
  port: number,
  st: ExporterStats,
): void {
  const count = b.readUInt16BE(off + 2);
  if (count === 0 || count > 30 || HDR + count * REC > len) {
    st.decodeErrors++;
    return;
  }
  const sysUptime = b.readUInt32BE(off + 4);
  const secs = b.readUInt32BE(off + 8);
  const nsecs = b.readUInt32BE(off + 12);
  const seq = b.readUInt32BE(off + 16);
  const engine = b.readUInt16BE(off + 20);
  const sampling = b.readUInt16BE(off + 22) & 0x3fff;
  const ctx: ExportContext = {
    source: 'netflow5',
    exporter,
    exporterPort: port,
    domain: engine,
    templateId: null,
    exportMs: secs * 1000 + Math.floor(nsecs / 1e6),
    sysUptimeMs: sysUptime,
    systemInitMs: Number.NaN,
    samplingRate: sampling > 0 ? sampling : 1,
    communityId: d.cfg.communityId,
  };
  const a = d.acc;
  for (let i = 0; i < count; i++) {
    const r = off + HDR + i * REC;
    a.reset(b);
    a.ipVer = 4;
    a.srcOff = r;
    a.dstOff = r + 4;
    a.nhOff = r + 8;
    a.nhVer = 4;
    a.inIf = b.readUInt16BE(r + 12);
    a.outIf = b.readUInt16BE(r + 14);
    a.packets = b.readUInt32BE(r + 16);
    a.bytes = b.readUInt32BE(r + 20);
    a.startUp = b.readUInt32BE(r + 24);
    a.endUp = b.readUInt32BE(r + 28);
    a.srcPort = b.readUInt16BE(r + 32);
    a.dstPort = b.readUInt16BE(r + 34);
    a.tcpFlags = b[r + 37]!;
    a.proto = b[r + 38]!;
    a.tos = b[r + 39]!;
    a.srcAs = b.readUInt16BE(r + 40);
    a.dstAs = b.readUInt16BE(r + 42);
    a.srcMask = b[r + 44]!;
    a.dstMask = b[r + 45]!;
    d.emitFlow(ctx, st);
  }
  d.sequence(d.seqKey(exporter, port, 5, engine), seq, count, st);
}
