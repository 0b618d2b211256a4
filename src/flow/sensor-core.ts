/**
 * The sensor's packet path without the application-layer analyzers, so that flows-only paths
 * (`vantage ingest --no-l7`) start without loading them; `./sensor.js` adds them.
 */

import type { RecordColumnBuilder } from '../analyze/record-columns.js';
import type { Analyzer } from '../analyze/types.js';
import type { Frame } from '../capture/frame.js';
import { ipBytesToString } from '../common/addr.js';
import { Decoder } from '../decode/decoder.js';
import type { Packet } from '../decode/packet.js';
import { WEIRD_NAMES } from '../decode/weird.js';
import type { FlowRecord, WeirdRecord } from '../schema/records.js';
import type { Columnar } from '../store/columnar.js';
import { communityId } from './community-id.js';
import { FlowColumnBuilder, FS } from './flow-columns.js';
import { DEFAULT_FLOW_CONFIG, type FlowConfig, FlowTable, isoNs } from './flow-table.js';

export type SensorRecord = FlowRecord | WeirdRecord | { type: string; [k: string]: unknown };
export type RecordSink = (rec: SensorRecord) => void;
/** Where records written in column form go, a batch of one type at a time. */
export type ColumnSink = (type: string, c: Columnar) => void;

/** Hooks that see every decoded packet after its flow was accounted: L7 analyzers, packet store. */
export type PacketHook = Analyzer;

export interface SensorCounters {
  frames: number;
  bytes: number;
  ipPackets: number;
  nonIpPackets: number;
  weird: number;
  weirdByName: Record<string, number>;
}

/**
 * The packet path of a sensor: decode once into a reused view, account the flow, hand the
 * packet to hooks. Records leave through `sink`.
 */
export class Sensor {
  readonly decoder = new Decoder();
  readonly flows: FlowTable;
  readonly counters: SensorCounters = {
    frames: 0,
    bytes: 0,
    ipPackets: 0,
    nonIpPackets: 0,
    weird: 0,
    weirdByName: {},
  };
  private readonly weirdCounts = new Float64Array(WEIRD_NAMES.length);
  private readonly hooks: PacketHook[] = [];
  /**
   * Per flow slot, side by side in one cache line: which hooks still want its packets (bit i =
   * hooks[i]) at 2 * slot, and the slot generation that is valid for at 2 * slot + 1. Two arrays
   * were two cache misses per packet (a random slot's entry is rarely in cache).
   */
  private want = new Uint32Array(2048);
  private allHooks = 0;

  constructor(
    private readonly sink: RecordSink,
    cfg: Partial<FlowConfig> = {},
  ) {
    this.flows = new FlowTable({ ...DEFAULT_FLOW_CONFIG, ...cfg }, (rec) => {
      for (const h of this.hooks) h.onFlowEnd?.(rec, this.flows.emittingSlot, this.flows);
      this.sink(rec);
    });
  }

  private flowCols: FlowColumnBuilder | null = null;

  /**
   * Flow records leave as column batches of up to `rows` rows through `out` instead of objects
   * through the record sink (the store path: no object, ISO string or address string per
   * record). The flow-end hooks see a patch of each row, as they see the record otherwise.
   */
  writeColumns(out: ColumnSink, rows = 4096): void {
    const b = new FlowColumnBuilder(rows, (c) => out('flow', c));
    this.flowCols = b;
    this.flows.writeColumns(b, (patch) => {
      const slot = this.flows.emittingSlot;
      for (const h of this.hooks) h.onFlowEnd?.(patch, slot, this.flows);
      if (patch.app !== null) b.s[b.sb + FS.app] = b.text(patch.app);
      b.commit();
    });
  }

  /** Builders of L7 records written in column form (DNS, TLS, HTTP), flushed with the flows. */
  readonly l7Columns: RecordColumnBuilder[] = [];

  /** Hand out the column rows written so far (live paths on a timer; `finish` does it). */
  flushColumns(): void {
    this.flowCols?.flush();
    for (const b of this.l7Columns) b.flush();
  }

  addHook(h: PacketHook): void {
    if (this.hooks.length >= 32) throw new Error('a sensor takes at most 32 packet hooks');
    this.hooks.push(h);
    this.allHooks = this.hooks.length === 32 ? 0xffffffff : (1 << this.hooks.length) - 1;
  }

  /** Time of the latest frame, for summary records. */
  private lastTsSec = 0;

  readonly onFrame = (f: Frame): void => {
    const c = this.counters;
    this.lastTsSec = f.tsSec;
    c.frames++;
    c.bytes += f.wirelen;
    const p = this.decoder.decode(f);
    if (p.weird !== 0) this.weird(p);
    if (p.ipVer === 0) {
      c.nonIpPackets++;
      const hooks = this.hooks;
      for (let i = 0; i < hooks.length; i++) hooks[i]!.onPacket(p, this.flows, -1, 0);
      return;
    }
    c.ipPackets++;
    const flows = this.flows;
    const slot = flows.update(p);
    const hooks = this.hooks;
    if (hooks.length === 0) return;
    if (slot < 0) {
      for (let i = 0; i < hooks.length; i++) hooks[i]!.onPacket(p, flows, -1, 0);
      return;
    }
    const w2 = slot * 2;
    if (w2 >= this.want.length) this.growWant(w2);
    const gen = flows.generation(slot);
    let want = this.want[w2 + 1] === gen ? this.want[w2]! : this.allHooks;
    if (want === 0) return;
    const dir = flows.lastDir;
    for (let i = 0; i < hooks.length; i++) {
      if (want & (1 << i) && hooks[i]!.onPacket(p, flows, slot, dir) === false) want &= ~(1 << i);
    }
    this.want[w2] = want;
    this.want[w2 + 1] = gen;
  };

  private growWant(at: number): void {
    let n = this.want.length;
    while (n <= at + 1) n *= 2;
    const w = new Uint32Array(n);
    w.set(this.want);
    this.want = w;
  }

  /**
   * Weird records are sampled as Zeek's weird framework does: the first `weirdSample` of each
   * name become records, the rest only counts, summarised in one record per name at the end
   * (`summarizeWeirds`). A flood of malformed packets costs counters, not rows.
   */
  weirdSample = 100;
  private readonly weirdSuppressed = new Float64Array(WEIRD_NAMES.length);
  private readonly fileWeirds = new Map<string, { kept: number; suppressed: number }>();

  private weird(p: Packet): void {
    this.counters.weird++;
    const seen = ++this.weirdCounts[p.weird]!;
    if (seen > this.weirdSample) {
      this.weirdSuppressed[p.weird]!++;
      return;
    }
    const name = WEIRD_NAMES[p.weird] ?? 'unknown';
    const hasIp = p.srcOff >= 0 && p.ipVer !== 0;
    const hasPorts = p.l4Off >= 0;
    let cid: string | null = null;
    if (hasIp && hasPorts) {
      const n = p.ipVer === 4 ? 4 : 16;
      cid = communityId(
        p.proto,
        p.buf.subarray(p.srcOff, p.srcOff + n),
        p.buf.subarray(p.dstOff, p.dstOff + n),
        p.icmpType >= 0 ? p.icmpType : p.srcPort,
        p.icmpType >= 0 ? p.icmpCode : p.dstPort,
      );
    }
    const rec: WeirdRecord = {
      type: 'weird',
      name,
      ts: isoNs(p.tsSec, p.tsNs),
      offset: p.weirdOff - p.frameOff,
      src_ip: hasIp ? ipBytesToString(p.buf, p.srcOff, p.ipVer) : null,
      dst_ip: hasIp ? ipBytesToString(p.buf, p.dstOff, p.ipVer) : null,
      proto: hasIp ? p.proto : null,
      src_port: hasPorts && p.icmpType < 0 ? p.srcPort : null,
      dst_port: hasPorts && p.icmpType < 0 ? p.dstPort : null,
      community_id: cid,
      frame_len: p.wirelen,
      detail: null,
    };
    this.sink(rec);
  }

  /** Record a weird that is not tied to a decoded packet (e.g. a damaged capture file). */
  fileWeird(name: string, detail: string, tsSec: number, tsNs: number): void {
    this.counters.weird++;
    const f = this.fileWeirds.get(name) ?? { kept: 0, suppressed: 0 };
    this.fileWeirds.set(name, f);
    if (f.kept >= this.weirdSample) {
      f.suppressed++;
      return;
    }
    f.kept++;
    this.sink(packetlessWeird(name, isoNs(tsSec, tsNs), detail));
  }

  /**
   * One `weird` record per name whose records were suppressed since the last summary, with
   * the count in `detail` (live paths call it periodically; `finish` calls it once).
   */
  summarizeWeirds(tsSec = Math.floor(Date.now() / 1000)): void {
    const emit = (name: string, n: number) =>
      this.sink(
        packetlessWeird(
          name,
          isoNs(tsSec, 0),
          `${n} more not recorded (the first ${this.weirdSample} of each name are)`,
        ),
      );
    this.weirdSuppressed.forEach((n, i) => {
      if (n === 0) return;
      this.weirdSuppressed[i] = 0;
      emit(WEIRD_NAMES[i] ?? 'unknown', n);
    });
    for (const [name, f] of this.fileWeirds) {
      if (f.suppressed === 0) continue;
      emit(name, f.suppressed);
      f.suppressed = 0;
    }
  }

  /** End of input: emit every flow and flush hooks. */
  finish(): SensorCounters {
    this.flows.flush();
    for (const h of this.hooks) h.finish?.();
    this.summarizeWeirds(this.lastTsSec);
    this.flushColumns();
    const by: Record<string, number> = {};
    this.weirdCounts.forEach((n, i) => {
      if (n > 0) by[WEIRD_NAMES[i]!] = n;
    });
    this.counters.weirdByName = by;
    return this.counters;
  }
}

/** Options of a sensor without application-layer analyzers (`createSensor` takes more). */
export interface MeteringOptions {
  flow?: Partial<FlowConfig>;
  /** Packet hooks (packet recorder, export collector...). */
  hooks?: PacketHook[];
  /** Flow records as column batches to this sink instead of objects to the record sink. */
  columns?: ColumnSink;
  /** Rows per column batch (default 4096). */
  columnRows?: number;
}

/** A sensor that meters flows and runs `hooks`, with no application-layer analyzer. */
export function createMeteringSensor(sink: RecordSink, opts: MeteringOptions = {}): Sensor {
  const sensor = new Sensor(sink, opts.flow ?? {});
  if (opts.columns) sensor.writeColumns(opts.columns, opts.columnRows);
  for (const h of opts.hooks ?? []) sensor.addHook(h);
  return sensor;
}

/** A `weird` record of no decoded packet (a damaged file, a count of suppressed ones). */
function packetlessWeird(name: string, ts: string, detail: string): WeirdRecord {
  return {
    type: 'weird',
    name,
    ts,
    offset: null,
    src_ip: null,
    dst_ip: null,
    proto: null,
    src_port: null,
    dst_port: null,
    community_id: null,
    frame_len: 0,
    detail,
  };
}
