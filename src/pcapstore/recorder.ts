import { closeSync, fsyncSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Analyzer, FlowLookup } from '../analyze/types.js';
import type { Logger } from '../common/log.js';
import { silentLogger } from '../common/log.js';
import type { Packet } from '../decode/packet.js';
import { type CompiledFilter, compileFilter, FrameView } from './bpf/compile.js';
import { PCAP_HEADER_LEN, pcapFileHeader, RECORD_HEADER_LEN, writeRecordHeader } from './pcap-format.js';
import { IndexBuilder } from './segment-index.js';
import { PcapStore, segmentName } from './store.js';

export interface RecorderConfig {
  /** Store directory. */
  dir: string;
  /** Rotate when a segment reaches this size (bytes). */
  segmentBytes: number;
  /** Rotate when a segment spans this many seconds of packet time. */
  segmentSeconds: number;
  /** Disk budget in bytes for the whole store (0 = none). */
  maxBytes: number;
  /** Delete segments closed longer ago than this (seconds, 0 = keep). */
  maxAgeSeconds: number;
  /** Keep at most this many bytes of each packet (0 = whole packets). */
  snaplen: number;
  /** tcpdump filter: record only packets that pass (null = all). */
  filter: string | null;
  /** Longest time written packets wait in memory before they are on disk and searchable. */
  flushMs: number;
  /** Size of the write block. */
  blockBytes: number;
  /** fsync each segment when it is closed. */
  fsync: boolean;
}

export const DEFAULT_RECORDER_CONFIG: Omit<RecorderConfig, 'dir'> = {
  segmentBytes: 256 * 1024 * 1024,
  segmentSeconds: 3600,
  maxBytes: 0,
  maxAgeSeconds: 0,
  snaplen: 0,
  filter: null,
  flushMs: 1000,
  blockBytes: 4 * 1024 * 1024,
  fsync: true,
};

export interface RecorderDeps {
  log?: Logger;
  /** Wall clock in ms (tests move it). */
  now?: () => number;
  /** A store already open for writing (shared with the search side); opened from `dir` otherwise. */
  store?: PcapStore;
}

export interface RecorderCounters {
  packets: number;
  bytes: number;
  filtered: number;
  truncated: number;
  segments: number;
  writeErrors: number;
}

export interface PacketRecorder extends Analyzer {
  readonly counters: RecorderCounters;
  /** The store, available once started. */
  readonly store: PcapStore;
  start(): Promise<void>;
  /** Write what is buffered (packets become searchable). */
  flush(): void;
  /** Close the current segment (index written, fsynced) and stop the flush timer. */
  stop(): Promise<void>;
}

/** Writes must start 48 bytes into the block: I/O at a page start + 16 runs slow here. */
const ALIGN = 48;

/**
 * The packet recorder: an analyzer hook that appends every packet to the current pcap segment
 * through one preallocated block and indexes it in typed arrays. Nothing is allocated per
 * packet; a flow seen for the first time in a segment costs one cached flow-context lookup.
 */
export function createPacketRecorder(
  config: Partial<RecorderConfig> & { dir: string },
  deps: RecorderDeps = {},
): PacketRecorder {
  const cfg: RecorderConfig = { ...DEFAULT_RECORDER_CONFIG, ...config };
  if (!(cfg.segmentBytes >= 4096)) throw new Error('pcapstore: segmentBytes must be at least 4096');
  if (cfg.segmentBytes > 0xffff0000) throw new Error('pcapstore: segmentBytes must be below 4 GiB');
  const log = deps.log ?? silentLogger;
  const now = deps.now ?? Date.now;
  const filter = cfg.filter ? compileFilter(cfg.filter) : null;
  const view = new FrameView();
  const block = Buffer.allocUnsafeSlow(Math.max(cfg.blockBytes, 1 << 20) + ALIGN + 262_144 + 16);
  const blockCap = block.length - ALIGN;
  let blockLen = 0;
  let blockFileOff = 0;

  let store: PcapStore | null = deps.store ?? null;
  let fd = -1;
  let seq = 0;
  let linkType = -1;
  let builder: IndexBuilder | null = null;
  let fileOff = 0;
  let segFirstSec = 0;
  let bound: CompiledFilter | null = null;
  let boundLink = -1;
  let lastFlush = 0;
  let timer: NodeJS.Timeout | null = null;
  let sinceCheck = 0;

  const counters: RecorderCounters = {
    packets: 0,
    bytes: 0,
    filtered: 0,
    truncated: 0,
    segments: 0,
    writeErrors: 0,
  };

  const writeBlock = (): void => {
    if (blockLen === 0 || fd < 0) return;
    let o = 0;
    try {
      while (o < blockLen) o += writeSync(fd, block, ALIGN + o, blockLen - o, blockFileOff + o);
    } catch (e) {
      counters.writeErrors++;
      log.error('pcap segment write failed', { error: String(e) });
      throw e;
    }
    blockFileOff += blockLen;
    blockLen = 0;
  };

  const flush = (): void => {
    writeBlock();
    lastFlush = now();
    if (store?.live && builder) {
      store.live.flushedPackets = builder.packets;
      store.live.flushedBytes = fileOff;
    }
  };

  const closeSegment = (): void => {
    if (fd < 0 || !builder || !store) return;
    writeBlock();
    if (cfg.fsync) fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    const path = join(store.dir, segmentName(seq));
    const idx = builder.build(builder.packets, fileOff);
    idx.write(`${path}.idx`);
    if (cfg.fsync) {
      const ifd = openSync(`${path}.idx`, 'r');
      fsyncSync(ifd);
      closeSync(ifd);
    }
    store.live = null;
    store.segments.push({
      seq,
      path,
      idxPath: `${path}.idx`,
      meta: idx.meta,
      diskBytes: fileOff + statSync(`${path}.idx`).size,
      closedAt: now(),
    });
    builder = null;
    store.enforceBudget(cfg.maxBytes, cfg.maxAgeSeconds * 1000, now());
  };

  const openSegment = (lt: number, firstSec: number): void => {
    const s = store!;
    seq = Math.max(s.nextSeq, seq + 1);
    const path = join(s.dir, segmentName(seq));
    fd = openSync(path, 'wx');
    const h = pcapFileHeader(lt);
    writeSync(fd, h, 0, h.length, 0);
    fileOff = PCAP_HEADER_LEN;
    blockFileOff = PCAP_HEADER_LEN;
    blockLen = 0;
    linkType = lt;
    segFirstSec = firstSec;
    builder = new IndexBuilder(lt);
    s.live = { seq, path, linkType: lt, builder, flushedPackets: 0, flushedBytes: PCAP_HEADER_LEN };
    counters.segments++;
    // Budget counts the live segment too, so a full store makes room before it grows.
    s.enforceBudget(cfg.maxBytes, cfg.maxAgeSeconds * 1000, now(), cfg.segmentBytes);
  };

  const recorder: PacketRecorder = {
    name: 'pcapstore',
    counters,
    get store(): PcapStore {
      if (!store) throw new Error('pcapstore: recorder not started');
      return store;
    },

    async start(): Promise<void> {
      store ??= await PcapStore.open(cfg.dir, { writable: true, log });
      seq = store.nextSeq - 1;
      store.enforceBudget(cfg.maxBytes, cfg.maxAgeSeconds * 1000, now());
      lastFlush = now();
      timer = setInterval(
        () => {
          if (blockLen > 0 && now() - lastFlush >= cfg.flushMs) flush();
        },
        Math.max(50, Math.min(cfg.flushMs, 1000)),
      );
      timer.unref();
    },

    onPacket(p: Packet, flows: FlowLookup, slot: number): void {
      if (!store) return;
      if (filter) {
        if (p.linkType !== boundLink) {
          try {
            bound = filter.bind(p.linkType);
          } catch {
            bound = null; // the filter cannot apply to this link type: record nothing of it
          }
          boundLink = p.linkType;
        }
        view.set(p.buf, p.frameOff, p.caplen, p.wirelen);
        if (!bound?.match(view)) {
          counters.filtered++;
          return;
        }
      }
      let cap = p.caplen;
      if (cfg.snaplen > 0 && cap > cfg.snaplen) {
        cap = cfg.snaplen;
        counters.truncated++;
      }
      const rec = RECORD_HEADER_LEN + cap;
      if (
        fd < 0 ||
        p.linkType !== linkType ||
        (fileOff + rec > cfg.segmentBytes && builder!.packets > 0) ||
        p.tsSec - segFirstSec >= cfg.segmentSeconds
      ) {
        closeSegment();
        openSegment(p.linkType, p.tsSec);
      }
      if (blockLen + rec > blockCap) writeBlock();
      const o = ALIGN + blockLen;
      writeRecordHeader(block, o, p.tsSec, p.tsNs, cap, p.wirelen);
      p.buf.copy(block, o + RECORD_HEADER_LEN, p.frameOff, p.frameOff + cap);
      blockLen += rec;
      builder!.add(p, fileOff, rec, flows, slot);
      fileOff += rec;
      counters.packets++;
      counters.bytes += cap;
      // Synchronous readers never yield to the timer: check the clock every 1024 packets.
      if (++sinceCheck >= 1024) {
        sinceCheck = 0;
        if (now() - lastFlush >= cfg.flushMs) flush();
      }
    },

    flush,

    finish(): void {
      flush();
    },

    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = null;
      closeSegment();
    },
  };
  return recorder;
}
