import { closeSync, constants, ftruncateSync, openSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Analyzer, FlowLookup } from '../analyze/types.js';
import type { CaptureSummary } from '../capture/capture-file.js';
import type { FrameHandler } from '../capture/frame.js';
import { ConfigError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { silentLogger } from '../common/log.js';
import type { Packet } from '../decode/packet.js';
import { type CompiledFilter, compileFilter, FrameView } from './bpf/compile.js';
import { IoWorker } from './io-worker.js';
import {
  PCAP_HEADER_LEN,
  PCAP_SNAPLEN,
  pcapFileHeader,
  RECORD_HEADER_LEN,
  writeRecordHeader,
} from './pcap-format.js';
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
  /**
   * Write segments with O_DIRECT where the file system takes it: the disk reads the blocks
   * straight from the pool, so the kernel neither copies every packet into its page cache nor
   * fills memory with segments nobody reads yet. Falls back to ordinary writes by itself.
   */
  directIo: boolean;
  /**
   * Write blocks in the pool: one is filled while the others are written by the I/O thread.
   * When all are in flight, packet processing waits (counted in `backpressureWaits`).
   */
  writeBlocks: number;
  /** Closed segments whose fsync may still be running before the recorder waits for one. */
  maxPendingSyncs: number;
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
  directIo: true,
  writeBlocks: 4,
  maxPendingSyncs: 2,
};

export interface RecorderDeps {
  log?: Logger;
  /** Wall clock in ms (tests move it). */
  now?: () => number;
  /** A store already open for writing (shared with the search side); opened from `dir` otherwise. */
  store?: PcapStore;
  /** Test hook: the I/O threads sleep this long before each job (a slow disk). */
  ioDelayMs?: number;
  /** Test hook: the fsync thread sleeps this long before each segment close (default `ioDelayMs`). */
  syncDelayMs?: number;
  /** Copy runs with the vantage-pcap addon when it is there (default); false: the JavaScript path. */
  nativeCopy?: boolean;
}

export interface RecorderCounters {
  packets: number;
  bytes: number;
  filtered: number;
  truncated: number;
  segments: number;
  writeErrors: number;
  /** Times packet processing waited because every write block was in flight. */
  backpressureWaits: number;
  /** Milliseconds spent in those waits (and in waits for segment fsyncs beyond `maxPendingSyncs`). */
  backpressureMs: number;
  /** Times a segment close waited for an earlier segment's fsync. */
  syncWaits: number;
  /** Blocks handed to the I/O thread, and the most that were in flight at once. */
  blocksWritten: number;
  maxBlocksInFlight: number;
  /** 1 when segments are written with O_DIRECT, 0 when through the page cache. */
  directIo: number;
}

/** A capture reader with `readCaptureFile`'s contract. */
export type CaptureReader = (
  path: string,
  onFrame: FrameHandler,
  between?: () => Promise<void> | undefined,
) => Promise<CaptureSummary>;

export interface PacketRecorder extends Analyzer {
  readonly counters: RecorderCounters;
  /** The store, available once started. */
  readonly store: PcapStore;
  start(): Promise<void>;
  /** Write what is buffered (packets become searchable). */
  flush(): void;
  /**
   * Wrap a capture reader so the recorder copies each run of records that lie back to back in
   * the reader's buffer, already as the store writes them, with one copy instead of one per
   * packet. The reader must leave its buffer alone from a frame's callback until it next calls
   * `between` or returns (as `readCaptureFile` does): the wrapped `between` is where the
   * recorder takes the run. Packets from other sources are recorded one by one meanwhile.
   */
  reader(read: CaptureReader): CaptureReader;
  /** Close the current segment (index written, fsynced) and stop the flush timer. */
  stop(): Promise<void>;
}

/** The addon's run copy: one memcpy into the shared block, fractions scaled on the way. */
type CopyRecords = (
  dst: Uint8Array,
  dstOff: number,
  src: Uint8Array,
  srcOff: number,
  len: number,
  us: boolean,
) => number;

/** The addon's huge-page advice: the offset of the first 2 MiB page advised, or -1. */
type AdviseHugePages = (block: Uint8Array) => number;

let nativeCopy: CopyRecords | null | undefined;
let nativeAdvise: AdviseHugePages | null = null;
/** The vantage-pcap addon's `copyRecords`, or null without the addon (or with VANTAGE_NO_PCAP=1). */
function loadCopyRecords(): CopyRecords | null {
  if (nativeCopy !== undefined) return nativeCopy;
  nativeCopy = null;
  if (process.env.VANTAGE_NO_PCAP === '1') return null;
  try {
    const b = createRequire(import.meta.url)('vantage-pcap') as {
      copyRecords?: CopyRecords;
      adviseHugePages?: AdviseHugePages;
    };
    if (typeof b.copyRecords === 'function') nativeCopy = b.copyRecords;
    if (typeof b.adviseHugePages === 'function') nativeAdvise = b.adviseHugePages;
  } catch {}
  return nativeCopy;
}

/** Buffered writes start 48 bytes into the block: I/O at a page start + 16 runs slow here. */
const ALIGN = 48;
/** O_DIRECT writes start, end and land on multiples of this (the largest common block size). */
const DIRECT = 4096;
/** A run is copied once it is this long: its bytes are still in the CPU's cache (just decoded). */
const RUN_TAKE = 64 * 1024;
/** Where a record may grow a block past its nominal size: one record of the largest snaplen. */
const MAX_REC = RECORD_HEADER_LEN + PCAP_SNAPLEN;
/** A transparent huge page: blocks get this much more room, to start their data on one. */
const HUGE = 2 << 20;

/**
 * Where each block's memory is aligned for O_DIRECT, found by trying writes into a probe file
 * (JavaScript cannot see addresses): null when the file system or kernel refuses O_DIRECT.
 */
function directStarts(dir: string, blocks: Buffer[]): number[] | null {
  const flag = constants.O_DIRECT;
  if (!flag) return null;
  const path = join(dir, `.direct-probe-${process.pid}`);
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | flag, 0o600);
  } catch {
    return null;
  }
  try {
    const starts: number[] = [];
    for (const b of blocks) {
      let found = -1;
      for (let o = 0; o < DIRECT && found < 0; o += 16) {
        try {
          if (writeSync(fd, b, o, DIRECT, 0) === DIRECT) found = o;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EINVAL') return null;
        }
      }
      if (found < 0) return null;
      starts.push(found);
    }
    return starts;
  } finally {
    closeSync(fd);
    try {
      unlinkSync(path);
    } catch {}
  }
}

/**
 * The packet recorder: an analyzer hook that appends every packet to the current pcap segment
 * through a pool of preallocated blocks, written with O_DIRECT by an I/O thread, and indexes
 * it in typed arrays. Nothing is allocated per packet; a flow seen for the first time in a
 * segment costs one cached flow-context lookup. Through `reader`, runs of records already in
 * the stored form are copied whole instead of packet by packet.
 */
export function createPacketRecorder(
  config: Partial<RecorderConfig> & { dir: string },
  deps: RecorderDeps = {},
): PacketRecorder {
  const cfg: RecorderConfig = { ...DEFAULT_RECORDER_CONFIG, ...config };
  if (!(cfg.segmentBytes >= 4096)) throw new ConfigError('segmentBytes', 'must be at least 4096');
  if (cfg.segmentBytes > 0xffff0000) throw new ConfigError('segmentBytes', 'must be below 4 GiB');
  if (typeof cfg.directIo !== 'boolean') throw new ConfigError('directIo', 'must be true or false');
  const log = deps.log ?? silentLogger;
  const now = deps.now ?? Date.now;
  const filter = cfg.filter ? compileFilter(cfg.filter) : null;
  const view = new FrameView();
  if (!(cfg.writeBlocks >= 2)) throw new ConfigError('writeBlocks', 'must be at least 2');
  const nBlocks = Math.floor(cfg.writeBlocks);
  // A block is handed over once the next record would take it past `blockCap`; around that,
  // room for the alignment of its start, the bytes carried over from the previous block and
  // the padding of an O_DIRECT write.
  const blockCap = Math.max(cfg.blockBytes, 1 << 20) + MAX_REC;
  const blockSize = DIRECT + blockCap + DIRECT;
  // Runs go into the shared block with the addon's memcpy. Without it they pass through an
  // ordinary buffer, placed at the block's alignment mod 8: V8 copies into shared memory with
  // relaxed atomics, word by word only when source and destination agree mod 8 and byte by byte
  // otherwise (3-4x slower; a run's records start anywhere), while a copy into ordinary memory
  // is a plain memmove.
  const copyRecords = deps.nativeCopy === false ? null : loadCopyRecords();
  const advise = copyRecords !== null && cfg.directIo ? nativeAdvise : null;
  // The block pool: shared with the I/O thread, allocated once; nothing is allocated per packet.
  // With the addon each block is asked for huge pages from its first 2 MiB boundary (before
  // anything touches it), and O_DIRECT blocks start their data there: the I/O thread pins a
  // block's pages for every write, and 4 KiB pages cost a pin (and a TLB entry) each.
  const shared = Array.from(
    { length: nBlocks },
    () => new SharedArrayBuffer(blockSize + (advise ? HUGE : 0)),
  );
  const blocks = shared.map((b) => Buffer.from(b));
  const hugeAt = blocks.map((b) => (advise ? advise(b) : -1));
  const stage = Buffer.from(new ArrayBuffer(copyRecords ? 8 : RUN_TAKE + MAX_REC + 8));
  const stageView = new DataView(stage.buffer);
  /** Byte of each block where its data starts (aligned for O_DIRECT once probed). */
  let starts: number[] = blocks.map(() => ALIGN);
  /** O_DIRECT in use: writes are whole multiples of DIRECT at offsets that are too. */
  let direct = false;
  let slot = 0;
  let block = blocks[0]!;
  let start = ALIGN;
  /** Bytes of the current block from `start`: records, after `carried` bytes repeated from the last block. */
  let blockLen = 0;
  let carried = 0;
  /** File offset of the block's byte `start`. */
  let blockFileOff = 0;
  // The run: records back to back in a wrapped reader's buffer, byte for byte as they are
  // stored (checked per packet), reserved in the block at `runAt` and copied when it ends.
  let runBuf: Buffer | null = null;
  let runStart = 0;
  let runEnd = 0;
  let runAt = 0;
  /** The run's record headers carry microseconds: the copy scales them to nanoseconds. */
  let runUs = false;
  /** The buffer of the frame a wrapped reader is delivering. */
  let srcBuf: Buffer | null = null;
  /** Its record headers' words, one load each (made when the reader's buffer changes). */
  let srcView: DataView = new DataView(new ArrayBuffer(0));
  // What each submitted block makes searchable once written: segment, packets and bytes.
  const markSeq = new Float64Array(nBlocks);
  const markPackets = new Float64Array(nBlocks);
  const markBytes = new Float64Array(nBlocks);
  let writer: IoWorker | null = null;
  let syncer: IoWorker | null = null;
  let published = 0;

  let store: PcapStore | null = deps.store ?? null;
  let fd = -1;
  let seq = 0;
  let linkType = -1;
  let builder: IndexBuilder | null = null;
  /** The last segment's builder, for the next segment (nothing reads it once its index is built). */
  let spare: IndexBuilder | null = null;
  let fileOff = 0;
  let segFirstSec = 0;
  let bound: CompiledFilter | null = null;
  let boundLink = -1;
  let lastFlush = 0;
  let timer: NodeJS.Timeout | null = null;
  /** Packets since the last clock check; the first packet checks (see `tick`). */
  let sinceCheck = 1023;

  const counters: RecorderCounters = {
    packets: 0,
    bytes: 0,
    filtered: 0,
    truncated: 0,
    segments: 0,
    writeErrors: 0,
    backpressureWaits: 0,
    backpressureMs: 0,
    syncWaits: 0,
    blocksWritten: 0,
    maxBlocksInFlight: 0,
    directIo: 0,
  };

  const checkErrors = (w: IoWorker | null): void => {
    const e = w?.takeError();
    if (e == null) return;
    counters.writeErrors++;
    log.error('pcap segment write failed', { error: e });
    throw new Error(`pcapstore: segment write failed: ${e}`);
  };

  /** Publish what the I/O thread has written: those packets are on disk and searchable. */
  const reap = (): void => {
    const w = writer;
    if (!w) return;
    const d = w.doneJobs;
    if (d > published) {
      published = d;
      const k = (d - 1) % nBlocks;
      const live = store?.live;
      if (live && live.seq === markSeq[k] && markPackets[k]! > live.flushedPackets) {
        live.flushedPackets = markPackets[k]!;
        live.flushedBytes = markBytes[k]!;
      }
    }
    checkErrors(w);
  };

  /** Copy the pending run into the place reserved for it in the block. */
  const takeRun = (): void => {
    const b = runBuf;
    if (b === null) return;
    runBuf = null;
    const at = start + runAt;
    const len = runEnd - runStart;
    if (copyRecords !== null) {
      copyRecords(block, at, b, runStart, len, runUs);
      return;
    }
    // A longer run (a record past the stored snaplen) goes straight in: slower, same bytes.
    const k = len + 8 <= stage.length ? at & 7 : -1;
    const dst = k < 0 ? block : stage;
    const o0 = k < 0 ? at : k;
    b.copy(dst, o0, runStart, runEnd);
    if (runUs) {
      const v = k < 0 ? new DataView(block.buffer, block.byteOffset) : stageView;
      const end = o0 + len;
      for (let o = o0; o < end; o += RECORD_HEADER_LEN + v.getUint32(o + 8, true)) {
        v.setUint32(o + 4, v.getUint32(o + 4, true) * 1000, true);
      }
    }
    if (k >= 0) stage.copy(block, at, k, k + len);
  };

  /**
   * Hand the filled part of the current block to the I/O thread and take the next block. With
   * O_DIRECT the write is padded to a whole page (0xff bytes: a record header whose length no
   * reader accepts, so a crash leaves a clean end for recovery to cut) and the unfinished page
   * is carried to the next block, which writes it again, completed, at the same offset.
   */
  const submitBlock = (): void => {
    takeRun();
    if (blockLen === carried || fd < 0 || !writer) return;
    const w = writer;
    let len = blockLen;
    let keep = 0;
    if (direct) {
      keep = blockLen & (DIRECT - 1);
      if (keep > 0) {
        len = blockLen - keep + DIRECT;
        block.fill(0xff, start + blockLen, start + len);
      }
    }
    markSeq[slot] = seq;
    markPackets[slot] = builder!.packets;
    markBytes[slot] = blockFileOff + blockLen;
    w.submit({ op: 'write', fd, slot, start, len, off: blockFileOff });
    counters.blocksWritten++;
    const prev = block;
    const prevEnd = start + blockLen;
    blockFileOff += blockLen - keep;
    blockLen = 0;
    carried = 0;
    const inFlight = w.inFlight;
    if (inFlight > counters.maxBlocksInFlight) counters.maxBlocksInFlight = inFlight;
    // Writes finish in order, so the next slot is free once all but nBlocks - 1 are done.
    const need = w.submittedJobs - (nBlocks - 1);
    if (w.doneJobs < need) {
      counters.backpressureWaits++;
      counters.backpressureMs += w.waitDone(need);
    }
    slot = w.submittedJobs % nBlocks;
    block = blocks[slot]!;
    start = starts[slot]!;
    if (keep > 0) {
      prev.copy(block, start, prevEnd - keep, prevEnd);
      blockLen = carried = keep;
    }
    reap();
  };

  /** Wait until every block handed over is written, and publish it. */
  const drain = (): void => {
    submitBlock();
    if (writer) writer.waitDone(writer.submittedJobs);
    reap();
  };

  /** Periodic flush: the block goes to the I/O thread; published when written (next check). */
  const flushSoon = (): void => {
    reap();
    submitBlock();
    lastFlush = now();
  };

  const flush = (): void => {
    drain();
    lastFlush = now();
  };

  const closeSegment = (): void => {
    if (fd < 0 || !builder || !store) return;
    drain();
    // The last O_DIRECT write was padded to a page; the segment ends at its last record.
    blockLen = carried = 0;
    if (direct) ftruncateSync(fd, fileOff);
    const path = join(store.dir, segmentName(seq));
    const idx = builder.build(builder.packets, fileOff);
    idx.write(`${path}.idx`);
    if (cfg.fsync && syncer) {
      // fsync off the main thread; bounded so a slow disk pushes back. Every write is done
      // (drain), so the descriptor closes here and the thread syncs the file by its path.
      const need = syncer.submittedJobs - (Math.max(1, cfg.maxPendingSyncs) - 1);
      if (syncer.doneJobs < need) {
        counters.syncWaits++;
        counters.backpressureMs += syncer.waitDone(need);
      }
      checkErrors(syncer);
      closeSync(fd);
      syncer.submit({ op: 'sync', path, idxPath: `${path}.idx` });
    } else {
      closeSync(fd);
    }
    fd = -1;
    store.live = null;
    store.segments.push({
      seq,
      path,
      idxPath: `${path}.idx`,
      meta: idx.meta,
      diskBytes: fileOff + statSync(`${path}.idx`).size,
      closedAt: now(),
    });
    spare = builder;
    builder = null;
    store.enforceBudget(cfg.maxBytes, cfg.maxAgeSeconds * 1000, now());
  };

  const openSegment = (lt: number, firstSec: number): void => {
    const s = store!;
    seq = Math.max(s.nextSeq, seq + 1);
    const path = join(s.dir, segmentName(seq));
    fd = direct
      ? openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT, 0o644)
      : openSync(path, 'wx');
    // The file header goes out with the first block (an O_DIRECT write cannot be 24 bytes).
    pcapFileHeader(lt).copy(block, start);
    fileOff = PCAP_HEADER_LEN;
    blockFileOff = 0;
    blockLen = PCAP_HEADER_LEN;
    carried = 0;
    linkType = lt;
    segFirstSec = firstSec;
    if (spare !== null) spare.restart(lt);
    // Sized for a segment of 512-byte records: typical traffic never grows the arrays.
    builder = spare ?? new IndexBuilder(lt, false, cfg.segmentBytes / 512);
    spare = null;
    s.live = { seq, path, linkType: lt, builder, flushedPackets: 0, flushedBytes: PCAP_HEADER_LEN };
    counters.segments++;
    // Budget counts the live segment too, so a full store makes room before it grows.
    s.enforceBudget(cfg.maxBytes, cfg.maxAgeSeconds * 1000, now(), cfg.segmentBytes);
  };

  // The hook's rare work is in functions of their own, each called from one site that the
  // first packet of a run already passes through (a segment to open, a clock check), so the
  // optimized hook has type feedback for the call and does not inline them: a call first made
  // from optimized code (the first full block, the first periodic flush) deoptimized the hook.
  /** A new segment (`rotate`) and / or the next block before a record of `rec` bytes. */
  const makeRoom = (p: Packet, rec: number, rotate: boolean): void => {
    if (rotate) {
      closeSegment();
      openSegment(p.linkType, p.tsSec);
    }
    if (blockLen + rec > blockCap) submitBlock();
  };
  /** Every 1024 packets: flush on time, else publish what the I/O thread wrote. */
  const tick = (): void => {
    sinceCheck = 0;
    if (now() - lastFlush >= cfg.flushMs) flushSoon();
    else reap();
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
      if (cfg.directIo && !writer) {
        const found = directStarts(store.dir, blocks);
        direct = found !== null;
        // A huge page's start is aligned for O_DIRECT as the probed start is (same page offset).
        if (found)
          starts = found.map((o, i) => (hugeAt[i]! >= 0 && (hugeAt[i]! - o) % DIRECT === 0 ? hugeAt[i]! : o));
        else log.info('packet store: O_DIRECT refused here; segments are written through the page cache');
        counters.directIo = direct ? 1 : 0;
        start = starts[slot]!;
      }
      writer ??= new IoWorker(shared, deps.ioDelayMs ?? 0);
      published = writer.doneJobs;
      if (cfg.fsync) syncer ??= new IoWorker([], deps.syncDelayMs ?? deps.ioDelayMs ?? 0);
      seq = store.nextSeq - 1;
      store.enforceBudget(cfg.maxBytes, cfg.maxAgeSeconds * 1000, now());
      lastFlush = now();
      timer = setInterval(
        () => {
          if (blockLen > 0 && now() - lastFlush >= cfg.flushMs) {
            flushSoon();
            // Publish as soon as the write thread is done, not a whole timer period later.
            setTimeout(reap, 20).unref();
          } else reap();
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
      // A segment holds at least one packet (it has one when its file is past the header).
      // The order of the tests makes every one of them run on an ordinary packet: a test run
      // only when a segment fills would first run in optimized code without type feedback, and
      // deoptimize this hook (as `builder.packets`, read only then, did at each run's first
      // rotation).
      const rotate =
        fd < 0 ||
        p.linkType !== linkType ||
        (fileOff > PCAP_HEADER_LEN && fileOff + rec > cfg.segmentBytes) ||
        p.tsSec - segFirstSec >= cfg.segmentSeconds;
      if (rotate || blockLen + rec > blockCap) makeRoom(p, rec, rotate);
      const b = p.buf;
      const h = p.frameOff - RECORD_HEADER_LEN;
      // In a wrapped reader's buffer, the record header before the frame is the one the store
      // would write when its four fields say so (any byte order or format whose bytes match);
      // a capture in microseconds differs only in the fraction, scaled when the run is copied.
      let frac = -1;
      if (b === srcBuf && h >= 0) {
        const v = srcView;
        if (v.getUint32(h + 8, true) === cap && v.getUint32(h + 12, true) === p.wirelen) {
          if (v.getUint32(h, true) === p.tsSec) frac = v.getUint32(h + 4, true);
        }
      }
      if (frac >= 0 && (frac === p.tsNs || frac * 1000 === p.tsNs)) {
        // Zero fits either unit; any other fraction decides the run's.
        const us = frac !== p.tsNs;
        if (b !== runBuf || h !== runEnd || (us !== runUs && frac !== 0)) {
          takeRun();
          runBuf = b;
          runStart = h;
          runAt = blockLen;
          runUs = us;
        }
        runEnd = h + rec;
        if (runEnd - runStart >= RUN_TAKE) takeRun();
      } else {
        takeRun(); // records stay in order
        const o = start + blockLen;
        writeRecordHeader(block, o, p.tsSec, p.tsNs, cap, p.wirelen);
        b.copy(block, o + RECORD_HEADER_LEN, p.frameOff, p.frameOff + cap);
      }
      blockLen += rec;
      builder!.add(p, fileOff, rec, flows, slot);
      fileOff += rec;
      counters.packets++;
      counters.bytes += cap;
      // Synchronous readers never yield to the timer: check the clock every 1024 packets.
      if (++sinceCheck >= 1024) tick();
    },

    flush,

    reader(read: CaptureReader): CaptureReader {
      return async (path, onFrame, between) => {
        const tap: FrameHandler = (f) => {
          if (f.buf !== srcBuf) {
            srcBuf = f.buf;
            srcView = new DataView(f.buf.buffer, f.buf.byteOffset, f.buf.byteLength);
          }
          onFrame(f);
        };
        try {
          return await read(path, tap, () => {
            takeRun(); // the reader is about to refill its buffer
            return between?.();
          });
        } finally {
          takeRun();
          srcBuf = null;
        }
      };
    },

    finish(): void {
      flush();
    },

    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = null;
      closeSegment();
      // Every write and segment fsync done before stop resolves (the store is durable).
      const w = writer;
      const y = syncer;
      writer = null;
      syncer = null;
      if (w) await w.close();
      if (y) {
        await y.close();
        checkErrors(y);
      }
    },
  };
  return recorder;
}
