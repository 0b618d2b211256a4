/**
 * IPFIX exporter: Vantage's own flow records (src/schema/flow.ts) sent as IPFIX (RFC 7011) over
 * UDP to any number of collectors.
 *
 * Biflows: each bidirectional flow becomes two unidirectional records (client → server, and
 * server → client when the server sent anything) that share `flowId` (IE 148) and carry
 * `biflowDirection` (IE 239: 1 initiator, 2 reverse initiator). RFC 5103 reverse elements
 * (PEN 29305) would halve the record count, but common collectors (nfdump among them) ignore
 * reverse elements and would lose the server's packets and bytes; two records keep every
 * collector's totals right.
 *
 * TCP performance goes in enterprise elements under PEN 32473, the IANA number reserved for
 * documentation (RFC 5612): a placeholder, not Vantage's own, to be replaced when a PEN is
 * registered. Values are u32 microseconds or counts; 0xFFFFFFFF means "not measured".
 *
 * | PEN 32473 id | name                 | type | from flow field           |
 * |---|---|---|---|
 * | 1  | vantageRttClientUs   | u32 | rtt_client_ms × 1000 |
 * | 2  | vantageRttServerUs   | u32 | rtt_server_ms × 1000 |
 * | 3  | vantageSrtUs         | u32 | srt_ms × 1000 |
 * | 4  | vantageRetransmissions | u32 | <dir>_retransmissions |
 * | 5  | vantageOutOfOrder    | u32 | <dir>_out_of_order |
 * | 6  | vantageZeroWindows   | u32 | <dir>_zero_windows |
 * | 7  | vantageResets        | u32 | resets (initiator record only) |
 * | 8  | vantageIpdMeanUs     | u32 | <dir>_ipd_mean_ms × 1000 |
 * | 9  | vantageJitterUs      | u32 | <dir>_jitter_ms × 1000 |
 * | 10 | vantageWireOctets    | u64 | <dir>_wire_bytes |
 * | 11 | vantagePayloadOctets | u64 | <dir>_payload_bytes |
 */
import dgram from 'node:dgram';
import { parseIpv4, parseIpv6 } from '../../common/addr.js';
import type { FlowRecord } from '../../schema/records.js';

/** IANA's example enterprise number (RFC 5612), standing in for a Vantage PEN. */
export const VANTAGE_PEN = 32473;

export const TEMPLATE_V4 = 256;
export const TEMPLATE_V6 = 257;

type Field = readonly [id: number, len: number, pen: number];

const COMMON_HEAD: Field[] = [
  [152, 8, 0], // flowStartMilliseconds
  [153, 8, 0], // flowEndMilliseconds
];
const COMMON_TAIL: Field[] = [
  [7, 2, 0], // sourceTransportPort
  [11, 2, 0], // destinationTransportPort
  [4, 1, 0], // protocolIdentifier
  [6, 2, 0], // tcpControlBits
  [2, 8, 0], // packetDeltaCount
  [1, 8, 0], // octetDeltaCount
  [58, 2, 0], // vlanId
  [239, 1, 0], // biflowDirection
  [148, 8, 0], // flowId
  [136, 1, 0], // flowEndReason
  [1, 4, VANTAGE_PEN],
  [2, 4, VANTAGE_PEN],
  [3, 4, VANTAGE_PEN],
  [4, 4, VANTAGE_PEN],
  [5, 4, VANTAGE_PEN],
  [6, 4, VANTAGE_PEN],
  [7, 4, VANTAGE_PEN],
  [8, 4, VANTAGE_PEN],
  [9, 4, VANTAGE_PEN],
  [10, 8, VANTAGE_PEN],
  [11, 8, VANTAGE_PEN],
];
const FIELDS_V4: Field[] = [...COMMON_HEAD, [8, 4, 0], [12, 4, 0], ...COMMON_TAIL];
const FIELDS_V6: Field[] = [...COMMON_HEAD, [27, 16, 0], [28, 16, 0], ...COMMON_TAIL];
const recLen = (f: Field[]): number => f.reduce((a, x) => a + x[1], 0);
const LEN_V4 = recLen(FIELDS_V4);
const LEN_V6 = recLen(FIELDS_V6);

function templateSet(): Buffer {
  const parts: number[] = [];
  const put16 = (v: number): void => {
    parts.push(v >>> 8, v & 255);
  };
  const put32 = (v: number): void => {
    parts.push(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
  };
  for (const [id, fields] of [
    [TEMPLATE_V4, FIELDS_V4],
    [TEMPLATE_V6, FIELDS_V6],
  ] as const) {
    put16(id);
    put16(fields.length);
    for (const [fid, len, pen] of fields) {
      put16(pen ? fid | 0x8000 : fid);
      put16(len);
      if (pen) put32(pen);
    }
  }
  const b = Buffer.alloc(4 + parts.length);
  b.writeUInt16BE(2, 0);
  b.writeUInt16BE(b.length, 2);
  Buffer.from(parts).copy(b, 4);
  return b;
}

const END_REASON: Record<string, number> = {
  idle: 1,
  active_timeout: 2,
  fin: 3,
  rst: 3,
  port_reuse: 3,
  end_of_capture: 4,
};
const FLAG_BITS: Record<string, number> = { F: 1, S: 2, R: 4, P: 8, A: 16, U: 32, E: 64, C: 128 };

function flagBits(s: string | null): number {
  let v = 0;
  if (s) for (const c of s) v |= FLAG_BITS[c] ?? 0;
  return v;
}

const NONE = 0xffffffff;
const us = (ms: number | null): number =>
  ms === null || !Number.isFinite(ms) ? NONE : Math.min(NONE - 1, Math.round(ms * 1000));
const cnt = (n: number | null | undefined): number =>
  n === null || n === undefined ? NONE : Math.min(NONE - 1, n);

function putU64(b: Buffer, o: number, v: number): void {
  const x = Math.max(0, Math.floor(v));
  b.writeUInt32BE(Math.floor(x / 4294967296) >>> 0, o);
  b.writeUInt32BE(x >>> 0, o + 4);
}

function addrBytes(s: string): Uint8Array | null {
  const v4 = parseIpv4(s);
  if (v4 !== null) return Uint8Array.of(v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255);
  return parseIpv6(s);
}

/**
 * Turns flow records into IPFIX messages of at most `maxMessage` bytes. Stateful: it numbers
 * messages (sequence = data records sent before) and puts the templates in the first message
 * and again every `templateEvery` messages.
 */
export class IpfixEncoder {
  private seq = 0;
  private messages = 0;
  private readonly tmpl = templateSet();
  private readonly buf: Buffer;
  private off = 0;
  private setStart = -1;
  private setId = 0;
  private records = 0;
  private withTemplates = false;
  private exportSec = 0;
  private readonly out: Buffer[] = [];

  constructor(
    private readonly domain: number,
    private readonly maxMessage = 1400,
    private readonly templateEvery = 20,
  ) {
    this.buf = Buffer.alloc(Math.max(maxMessage, 512));
  }

  /** Force the templates into the next message (e.g. on a timer). */
  refreshTemplates(): void {
    this.messages = 0;
  }

  /** Encode records; returns the finished messages (each a fresh Buffer). */
  encode(recs: readonly FlowRecord[], nowMs = Date.now()): Buffer[] {
    this.exportSec = Math.floor(nowMs / 1000);
    for (const r of recs) {
      const src = addrBytes(r.client_ip);
      const dst = addrBytes(r.server_ip);
      if (!src || !dst || src.length !== dst.length) continue;
      this.put(r, src, dst, 1);
      if (r.server_packets > 0) this.put(r, dst, src, 2);
    }
    this.finish();
    return this.out.splice(0);
  }

  private begin(): void {
    this.off = 16;
    this.records = 0;
    this.setStart = -1;
    this.withTemplates = this.messages % this.templateEvery === 0;
    if (this.withTemplates) {
      this.tmpl.copy(this.buf, 16);
      this.off += this.tmpl.length;
    }
  }

  private closeSet(): void {
    if (this.setStart >= 0) this.buf.writeUInt16BE(this.off - this.setStart, this.setStart + 2);
    this.setStart = -1;
  }

  private finish(): void {
    if (this.off === 0) return;
    this.closeSet();
    if (this.records === 0) {
      this.off = 0;
      return;
    }
    const b = this.buf;
    b.writeUInt16BE(10, 0);
    b.writeUInt16BE(this.off, 2);
    b.writeUInt32BE(this.exportSec >>> 0, 4);
    b.writeUInt32BE(this.seq >>> 0, 8);
    b.writeUInt32BE(this.domain >>> 0, 12);
    this.out.push(Buffer.from(b.subarray(0, this.off)));
    this.seq = (this.seq + this.records) >>> 0;
    this.messages++;
    this.off = 0;
  }

  private put(r: FlowRecord, src: Uint8Array, dst: Uint8Array, dir: 1 | 2): void {
    const v6 = src.length === 16;
    const tid = v6 ? TEMPLATE_V6 : TEMPLATE_V4;
    const len = v6 ? LEN_V6 : LEN_V4;
    if (this.off === 0) this.begin();
    if (this.off + len + (this.setId === tid && this.setStart >= 0 ? 0 : 4) > this.maxMessage) {
      this.finish();
      this.begin();
    }
    const b = this.buf;
    if (this.setStart < 0 || this.setId !== tid) {
      this.closeSet();
      this.setStart = this.off;
      this.setId = tid;
      b.writeUInt16BE(tid, this.off);
      this.off += 4;
    }
    let o = this.off;
    const c = dir === 1;
    putU64(b, o, Date.parse(r.first_ts));
    putU64(b, o + 8, Date.parse(r.last_ts));
    o += 16;
    b.set(src, o);
    b.set(dst, o + src.length);
    o += src.length * 2;
    const icmp = r.proto === 1 || r.proto === 58;
    const sp = c ? r.client_port : r.server_port;
    const dp = c ? r.server_port : r.client_port;
    b.writeUInt16BE(icmp ? 0 : sp & 0xffff, o);
    // ICMP: type<<8 | code in the destination port, as NetFlow collectors expect.
    b.writeUInt16BE(icmp ? ((r.icmp_type ?? 0) << 8) | (r.icmp_code ?? 0) : dp & 0xffff, o + 2);
    b[o + 4] = r.proto & 255;
    b.writeUInt16BE(flagBits(c ? r.client_tcp_flags : r.server_tcp_flags), o + 5);
    putU64(b, o + 7, c ? r.client_packets : r.server_packets);
    putU64(b, o + 15, c ? r.client_ip_bytes : r.server_ip_bytes);
    b.writeUInt16BE((r.vlan ?? 0) & 0xfff, o + 23);
    b[o + 25] = dir;
    putU64(b, o + 26, r.flow_id);
    b[o + 34] = END_REASON[r.end_reason] ?? 0;
    o += 35;
    b.writeUInt32BE(us(r.rtt_client_ms), o);
    b.writeUInt32BE(us(r.rtt_server_ms), o + 4);
    b.writeUInt32BE(us(r.srt_ms), o + 8);
    b.writeUInt32BE(cnt(c ? r.client_retransmissions : r.server_retransmissions), o + 12);
    b.writeUInt32BE(cnt(c ? r.client_out_of_order : r.server_out_of_order), o + 16);
    b.writeUInt32BE(cnt(c ? r.client_zero_windows : r.server_zero_windows), o + 20);
    b.writeUInt32BE(c ? cnt(r.resets) : 0, o + 24);
    b.writeUInt32BE(us(c ? r.client_ipd_mean_ms : r.server_ipd_mean_ms), o + 28);
    b.writeUInt32BE(us(c ? r.client_jitter_ms : r.server_jitter_ms), o + 32);
    putU64(b, o + 36, c ? r.client_wire_bytes : r.server_wire_bytes);
    putU64(b, o + 44, c ? r.client_payload_bytes : r.server_payload_bytes);
    this.off = o + 52;
    this.records++;
  }
}

export interface IpfixExporterConfig {
  targets: { host: string; port: number }[];
  observationDomain: number;
  /** Message size limit (keep under the path MTU). */
  maxMessage: number;
  /** Templates are re-sent at least this often (UDP collectors that start late learn them). */
  templateRefreshMs: number;
}

export const DEFAULT_IPFIX_EXPORTER_CONFIG: IpfixExporterConfig = {
  targets: [],
  observationDomain: 1,
  maxMessage: 1400,
  templateRefreshMs: 60_000,
};

export interface IpfixExporterStats {
  records: number;
  messages: number;
  bytes: number;
  sendErrors: number;
}

export interface IpfixExporter {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Queue flow records for export (non-flow records are ignored). */
  export(recs: readonly { type: string }[]): void;
  stats(): IpfixExporterStats;
}

export function createIpfixExporter(
  config: Partial<IpfixExporterConfig>,
  deps: { log?: (msg: string) => void } = {},
): IpfixExporter {
  const cfg = { ...DEFAULT_IPFIX_EXPORTER_CONFIG, ...config };
  const enc = new IpfixEncoder(cfg.observationDomain, cfg.maxMessage);
  const st: IpfixExporterStats = { records: 0, messages: 0, bytes: 0, sendErrors: 0 };
  let sock4: dgram.Socket | null = null;
  let sock6: dgram.Socket | null = null;
  let timer: NodeJS.Timeout | null = null;
  let inflight = 0;
  let idle: (() => void) | null = null;

  const send = (m: Buffer): void => {
    for (const t of cfg.targets) {
      const s = t.host.includes(':') ? sock6 : sock4;
      if (!s) continue;
      inflight++;
      s.send(m, t.port, t.host, (err) => {
        inflight--;
        if (err) st.sendErrors++;
        if (inflight === 0 && idle) idle();
      });
    }
    st.messages++;
    st.bytes += m.length;
  };

  return {
    async start(): Promise<void> {
      if (cfg.targets.some((t) => !t.host.includes(':'))) sock4 = dgram.createSocket('udp4');
      if (cfg.targets.some((t) => t.host.includes(':'))) sock6 = dgram.createSocket('udp6');
      for (const s of [sock4, sock6]) s?.on('error', (e) => deps.log?.(`ipfix exporter: ${e.message}`));
      timer = setInterval(() => enc.refreshTemplates(), cfg.templateRefreshMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      if (inflight > 0) await new Promise<void>((r) => (idle = r));
      for (const s of [sock4, sock6]) s?.close();
      sock4 = sock6 = null;
    },
    export(recs): void {
      const flows = recs.filter((r): r is FlowRecord => r.type === 'flow');
      if (flows.length === 0) return;
      for (const f of flows) st.records += f.server_packets > 0 ? 2 : 1;
      for (const m of enc.encode(flows)) send(m);
    },
    stats: () => ({ ...st }),
  };
}
