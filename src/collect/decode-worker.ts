/**
 * The collector's decode thread: one `CollectDecoder` (so all templates, sampling and sequence
 * state live here), fed by the main thread with batches of received datagrams copied into one
 * transferred ArrayBuffer, answering each batch with its records in columnar form (flows
 * written straight into the batch by `column-writer.ts`, no object per flow), its statistics,
 * and the batch's buffers for reuse. Template persistence
 * (stateDir) is done here too, so the main thread only receives and copies bytes.
 */

import dgram from 'node:dgram';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { NativeHandle } from '../capture/live.js';
import {
  loadUdpBatchBinding,
  RECV_ADDR_BYTE,
  RECV_CAPLEN,
  RECV_FAMILY,
  RECV_FLAGS,
  RECV_META_STRIDE,
  RECV_OFF,
  RECV_PORT,
  RECV_TRUNCATED,
  type UdpBatchBinding,
} from '../capture/mirror.js';
import { threadCpuSeconds } from '../capture/workers/thread-cpu.js';
import { ipv6BytesToString } from '../common/addr.js';
import { niceThread } from '../common/priority.js';
import { heapReport, type ThreadHeap } from '../common/thread-heap.js';
import { ColumnWriter } from './column-writer.js';
import type { ColumnBatch } from './columns.js';
import { countRecords } from './count.js';
import { CollectDecoder, type CollectDecoderConfig } from './decoder.js';
import { Spool, type SpoolConfig, type SpoolPos, type SpoolStats } from './spool.js';
import type { ExporterStats } from './types.js';

export const TEMPLATE_FILE = 'templates.json';

export interface DecodeWorkerData {
  vantageCollectWorker: true;
  decoder: Partial<CollectDecoderConfig>;
  stateDir: string | null;
  stateSaveMs: number;
  /**
   * Nice value this thread sets for itself (0: left as it is). Decoding is bulk work: when the
   * cores are busy, the thread that answers the API goes first.
   */
  nice?: number;
  /**
   * Receive UDP on this thread too: the sockets are read by a thread that does nothing else
   * than decode, so a busy main thread (store appends, API queries) does not let the kernel's
   * receive buffer overflow. Results the main thread has not taken yet are bounded
   * (`maxOutstanding` datagrams); past it datagrams are dropped here and counted as drops.
   */
  udp?: {
    host: string;
    ports: number[];
    recvBufferSize: number;
    maxOutstanding: number;
    lingerMs: number;
    /**
     * A disk spool (`spool.ts`): a datagram that cannot be decoded at once (records not yet
     * stored past `aheadRecords`, or datagrams already waiting in the spool) is appended to it,
     * and decoding takes from its head as the main thread acknowledges stored results. Without
     * it, datagrams past `maxOutstanding` are dropped.
     */
    spool?: SpoolWorkerConfig;
  };
}

export interface SpoolWorkerConfig extends Partial<SpoolConfig> {
  dir: string;
  /** Records decoded and not yet acknowledged (stored) at most. */
  aheadRecords: number;
  /** Results handed on by an earlier decode thread: already counted as outstanding. */
  carried?: { n: number; rows: number };
  /** Where an earlier decode thread's last handed-on result ended: reading resumes there. */
  skipTo?: SpoolPos | null;
}

/** Per datagram of a batch, Float64 [offset, length, source index, receive time in ms]. */
export const META = 4;

/** A batch of datagrams, main → worker. */
export interface BatchMsg {
  t: 'batch';
  id: number;
  n: number;
  /** Datagram bytes back to back. */
  data: ArrayBuffer;
  /** Float64 × META per datagram. */
  meta: ArrayBuffer;
  /** Exporter address and source port of each source index. */
  sources: { exporter: string; port: number }[];
}

export type ToWorker = BatchMsg | { t: 'stop' } | { t: 'crash' } | AckMsg;

/** Worker → main: the result of one batch (records, changed statistics, buffers back). */
export interface ResultMsg {
  t: 'result';
  id: number;
  n: number;
  records: ColumnBatch;
  /** Statistics of the exporters this batch touched (all of them on a full snapshot). */
  stats: ExporterStats[];
  unknown: number;
  data: ArrayBuffer;
  meta: ArrayBuffer;
  /** Receiving on this thread: datagrams it read from its sockets since start. */
  received?: number;
  /** Records in this result (what the acknowledgement gives back). */
  rows?: number;
  /** With a spool: where the spool's reader stood after this result's last datagram. */
  spoolPos?: SpoolPos;
}

/** Main → worker: results taken (with a spool: stored), so it may decode more. */
export interface AckMsg {
  t: 'ack';
  n: number;
  rows?: number;
  /** Everything in the spool before this position is stored: release it. */
  spoolPos?: SpoolPos;
}

export type FromWorker =
  | ResultMsg
  | { t: 'log'; msg: string }
  | { t: 'stopped' }
  | { t: 'bound'; ports: number[]; recvBufferSize: number[] }
  | { t: 'bindError'; msg: string }
  | { t: 'spool'; stats: SpoolStats; received: number; heap?: ThreadHeap };

function heapNow(): ThreadHeap {
  const h = heapReport();
  return { ...h, cpu: threadCpuSeconds() };
}

function runWorker(wd: DecodeWorkerData): void {
  const port = parentPort!;
  const post = (m: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);
  const log = (msg: string): void => post({ t: 'log', msg });
  if (wd.nice && !niceThread(wd.nice)) log(`collector: the decode thread could not take nice ${wd.nice}`);
  // Flows go straight into the batch's columns; only sFlow counter records are objects.
  const out = new ColumnWriter();
  const decoder = new CollectDecoder(wd.decoder, (r) => out.other(r), out);
  const statePath = wd.stateDir ? join(wd.stateDir, TEMPLATE_FILE) : null;
  let lastFull = 0;

  function saveState(): void {
    if (!statePath || !decoder.dirty) return;
    try {
      mkdirSync(wd.stateDir!, { recursive: true });
      writeFileSync(`${statePath}.tmp`, JSON.stringify(decoder.saveTemplates()));
      renameSync(`${statePath}.tmp`, statePath);
    } catch (e) {
      log(`collector: cannot save templates to ${statePath}: ${(e as Error).message}`);
    }
  }

  if (statePath) {
    let text: string | null = null;
    try {
      text = readFileSync(statePath, 'utf8');
    } catch {
      // nothing saved yet
    }
    if (text !== null) {
      try {
        const n = decoder.loadTemplates(JSON.parse(text));
        log(`collector: ${n} templates restored from ${statePath}`);
      } catch (e) {
        log(`collector: ignoring damaged ${statePath}: ${(e as Error).message}`);
      }
    }
  }
  const timer = statePath ? setInterval(saveState, wd.stateSaveMs) : null;
  timer?.unref();

  function onBatch(m: BatchMsg): void {
    const buf = Buffer.from(m.data);
    const meta = new Float64Array(m.meta, 0, m.n * META);
    const touched = new Set<ExporterStats>();
    for (let i = 0; i < m.n; i++) {
      const o = i * META;
      const src = m.sources[meta[o + 2]!]!;
      decoder.decode(buf, meta[o]!, meta[o + 1]!, src.exporter, src.port, meta[o + 3]!);
      touched.add(decoder.stats(src.exporter, src.port));
    }
    // A full snapshot now and then: pending sets given up count on the exporter that sent them.
    const now = Date.now();
    const full = now - lastFull >= 1000;
    if (full) lastFull = now;
    const records = out.finish();
    const res: ResultMsg = {
      t: 'result',
      id: m.id,
      n: m.n,
      records,
      stats: [...(full ? decoder.exporters.values() : touched)],
      unknown: decoder.unknown,
      data: m.data,
      meta: m.meta,
    };
    post(res, [records.buf, m.data, m.meta]);
  }

  // ---- receiving on this thread ----
  const sockets: dgram.Socket[] = [];
  let received = 0;
  /** Datagrams in results posted and not yet acknowledged by the main thread. */
  let outstanding = 0;
  /** Records in results posted and not yet acknowledged (with a spool: not yet stored). */
  let outstandingRows = 0;
  /** Datagrams decoded (or dropped) since the last result. */
  let pendingN = 0;
  const pendingTouched = new Set<ExporterStats>();
  let flushTimer: NodeJS.Timeout | null = null;
  const sc = wd.udp?.spool;
  let spool: Spool | null = null;
  /** The spool position after the last datagram decoded from it and not yet in a result. */
  let spoolPos: SpoolPos | null = null;
  /** The position of the last result posted (what a clean stop marks as stored). */
  let lastPostedPos: SpoolPos | null = null;
  let pumpScheduled = false;
  let spoolTimer: NodeJS.Timeout | null = null;
  if (sc) {
    try {
      spool = Spool.open(sc);
      const st = spool.stats();
      if (sc.carried) {
        outstanding = sc.carried.n;
        outstandingRows = sc.carried.rows;
      }
      // What an earlier thread already handed on is not decoded again.
      if (sc.skipTo) spool.skipTo(sc.skipTo);
      if (st.torn > 0) log(`collector: spool ${sc.dir}: ${st.torn} torn or damaged record(s) cut at open`);
      if (spool.pending > 0)
        log(`collector: spool ${sc.dir}: draining ${spool.pending} datagrams left by the last run`);
      spoolTimer = setInterval(() => {
        // What is spooled reaches the disk within the interval, whatever the rate.
        spool?.flush();
        if (spool) post({ t: 'spool', stats: spool.stats(), received, heap: heapNow() });
      }, 250);
      spoolTimer.unref();
      post({ t: 'spool', stats: spool.stats(), received: 0 });
    } catch (e) {
      log(
        `collector: spool ${sc.dir} unusable, datagrams past the queue are dropped: ${(e as Error).message}`,
      );
      spool = null;
    }
  }
  const ahead = sc?.aheadRecords ?? Number.POSITIVE_INFINITY;

  function flushReceived(): void {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = null;
    if (pendingN === 0) return;
    const records = out.finish();
    const now = Date.now();
    const full = now - lastFull >= 1000;
    if (full) lastFull = now;
    const res: ResultMsg = {
      t: 'result',
      id: -2,
      n: pendingN,
      records,
      stats: [...(full ? decoder.exporters.values() : pendingTouched)],
      unknown: decoder.unknown,
      data: new ArrayBuffer(0),
      meta: new ArrayBuffer(0),
      received,
      rows: records.n,
    };
    if (spoolPos) {
      res.spoolPos = spoolPos;
      lastPostedPos = spoolPos;
      spoolPos = null;
    }
    outstanding += pendingN;
    outstandingRows += records.n;
    pendingN = 0;
    pendingTouched.clear();
    post(res, [records.buf]);
  }

  function decodeOne(
    buf: Buffer,
    off: number,
    len: number,
    exporter: string,
    port: number,
    ms: number,
  ): void {
    pendingN++;
    pendingTouched.add(decoder.stats(exporter, port));
    decoder.decode(buf, off, len, exporter, port, ms);
  }

  /** Room to decode: the records not yet stored stay under `aheadRecords`. */
  const room = (): boolean => outstandingRows + out.n < ahead;

  function schedulePump(): void {
    if (pumpScheduled || spool === null || spool.pending === 0 || !room()) return;
    pumpScheduled = true;
    setImmediate(pump);
  }

  /**
   * Decode from the spool's head while there is room, a few datagrams per turn so the sockets
   * are read in between.
   */
  function pump(): void {
    pumpScheduled = false;
    const sp = spool;
    if (sp === null) return;
    let k = 0;
    while (k < 64 && sp.pending > 0 && room()) {
      const got = sp.read(8, decodeOne);
      if (got === 0) break;
      k += got;
    }
    if (k > 0) {
      spoolPos = sp.position();
      // A result per turn made batches of ~1,900 records while draining; a batch costs the
      // main thread (a message, a feed entry) and this one (a copy) whatever its size, so a
      // result waits for a full batch unless the spool is empty or the room is used up (the
      // linger timer sends what a stalled turn left).
      if (out.n >= 8192 || sp.pending === 0 || !room()) flushReceived();
      else if (flushTimer === null) flushTimer = setTimeout(flushReceived, wd.udp!.lingerMs);
    }
    schedulePump();
  }

  function onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    onData(msg, 0, msg.length, rinfo.address, rinfo.port);
  }

  /**
   * The socket holds more than one receive batch (the last `recvBatch` filled every slot): with
   * a spool, what is read then is spooled, not decoded. Decoding a datagram costs this thread
   * ~15× what spooling it does (~45 µs against ~3 for 30 records), and while it decodes it does
   * not read: with the store holding commits a row group at a time the thread may decode 3× as
   * many records ahead, and at a flood's start it decoded 4,096 datagrams in one drain while
   * it waited ~0.9 s for a core (load 7), and the socket overflowed. The pump decodes them
   * from the spool between reads.
   */
  let backlog = false;

  function onData(buf: Buffer, off: number, len: number, exporter: string, port: number): void {
    received++;
    if (spool !== null && (backlog || spool.pending > 0 || !room())) {
      // Behind: the datagram waits on disk, after those already there (arrival order).
      // Refused when full: the spool counts it (`spool_full`), and its records are counted
      // from the headers: no decode, no copy, for what cannot be kept.
      if (!spool.append(buf, off, len, exporter, port, Date.now()))
        spool.refusedRecords(countRecords(decoder, buf, off, len, exporter));
      schedulePump();
      return;
    }
    pendingN++;
    const st = decoder.stats(exporter, port);
    pendingTouched.add(st);
    if (spool === null && outstanding >= wd.udp!.maxOutstanding) {
      st.drops++;
      st.dropRecords += countRecords(decoder, buf, off, len, exporter);
    } else decoder.decode(buf, off, len, exporter, port, Date.now());
    if (out.n >= 8192) flushReceived();
    else if (flushTimer === null) flushTimer = setTimeout(flushReceived, wd.udp!.lingerMs);
  }

  // ---- batched receive (recvmmsg) through the vantage-pcap addon, when it is built ----
  const native: UdpBatchBinding | null = wd.udp ? loadUdpBatchBinding() : null;
  const handles: NativeHandle[] = [];
  /** Room for the largest datagram in every slot: IPFIX over loopback may reach 64 KiB. */
  const SLOT = 65_536;
  const SLOTS = 64;
  const rbuf = native ? Buffer.allocUnsafeSlow(SLOT * SLOTS) : Buffer.alloc(0);
  const rmeta = new Uint32Array(native ? RECV_META_STRIDE * SLOTS : 0);
  const rmetaBytes = new Uint8Array(rmeta.buffer);
  let lastAddrKey = -1;
  let lastAddr = '';

  /** The sender's address of datagram i as text (IPv4 cached: exporters are few). */
  function addrOf(i: number): string {
    const m = i * RECV_META_STRIDE;
    const o = m * 4 + RECV_ADDR_BYTE;
    const b = rmetaBytes;
    if (rmeta[m + RECV_FAMILY] === 6) {
      lastAddrKey = -1;
      return ipv6BytesToString(b, o);
    }
    const key = rmeta[m + 8]!;
    if (key !== lastAddrKey) {
      lastAddrKey = key;
      lastAddr = `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
    }
    return lastAddr;
  }

  function drainNative(h: NativeHandle, rounds = 64): void {
    for (let round = 0; round < rounds; round++) {
      let n: number;
      try {
        n = native!.recvBatch(h, rbuf, rmeta, SLOT, 0);
      } catch (e) {
        log(`collector: receive failed: ${(e as Error).message}`);
        break;
      }
      backlog = n === SLOTS;
      for (let i = 0; i < n; i++) {
        const m = i * RECV_META_STRIDE;
        const exporter = addrOf(i);
        const port = rmeta[m + RECV_PORT]!;
        if ((rmeta[m + RECV_FLAGS]! & RECV_TRUNCATED) !== 0) {
          received++;
          decoder.stats(exporter, port).decodeErrors++;
          continue;
        }
        onData(rbuf, rmeta[m + RECV_OFF]!, rmeta[m + RECV_CAPLEN]!, exporter, port);
      }
      if (n < SLOTS) break;
    }
    backlog = false;
  }

  function bindNative(u: NonNullable<DecodeWorkerData['udp']>): void {
    try {
      for (const p of u.ports) {
        const h = native!.udpOpen(u.host.includes(':') ? 6 : 4, u.host, p, u.recvBufferSize, 0);
        handles.push(h);
        native!.poll(h, () => drainNative(h));
      }
      post({
        t: 'bound',
        ports: handles.map((h) => native!.address(h).port),
        recvBufferSize: handles.map(() => u.recvBufferSize),
      });
    } catch (e) {
      for (const h of handles.splice(0)) native!.close(h);
      post({ t: 'bindError', msg: (e as Error).message });
    }
  }

  async function bindAll(u: NonNullable<DecodeWorkerData['udp']>): Promise<void> {
    try {
      for (const p of u.ports) {
        const s = dgram.createSocket({
          type: u.host.includes(':') ? 'udp6' : 'udp4',
          recvBufferSize: u.recvBufferSize,
        });
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.bind(p, u.host, () => {
            s.off('error', reject);
            resolve();
          });
        });
        s.on('error', (e) => log(`collector: udp ${p}: ${e.message}`));
        s.on('message', onDatagram);
        try {
          s.setRecvBufferSize(u.recvBufferSize);
        } catch {
          // the kernel keeps its own cap; the figure is in stats()
        }
        sockets.push(s);
      }
      post({
        t: 'bound',
        ports: sockets.map((s) => s.address().port),
        recvBufferSize: sockets.map((s) => s.getRecvBufferSize()),
      });
    } catch (e) {
      for (const s of sockets.splice(0)) s.close();
      post({ t: 'bindError', msg: (e as Error).message });
    }
  }
  // The addon's sockets belong to the process, not to this thread: a thread that dies must
  // close them, or their poll watchers outlive its event loop.
  process.on('exit', () => {
    for (const h of handles.splice(0)) native!.close(h);
  });
  if (wd.udp) {
    if (native) bindNative(wd.udp);
    else void bindAll(wd.udp);
  }
  // A spool left by the last run drains at once, whether or not anything arrives.
  schedulePump();

  port.on('message', (m: ToWorker) => {
    switch (m.t) {
      case 'batch':
        onBatch(m);
        break;
      case 'ack':
        outstanding -= m.n;
        outstandingRows -= m.rows ?? 0;
        if (m.spoolPos) spool?.release(m.spoolPos);
        schedulePump();
        break;
      case 'stop': {
        for (const s of sockets.splice(0)) {
          s.removeAllListeners('message');
          s.close();
        }
        // What the kernel still holds for us is taken first (spooled when behind), not discarded.
        for (const h of handles) drainNative(h, 4096);
        for (const h of handles.splice(0)) native!.close(h);
        flushReceived();
        if (spoolTimer) clearInterval(spoolTimer);
        if (spool) {
          // The main thread stores every result it was handed before it stops: the spool
          // resumes after the last one (what is still spooled is drained at the next start).
          if (lastPostedPos) spool.release(lastPostedPos);
          spool.close();
          post({ t: 'spool', stats: spool.stats(), received });
          // Acknowledgements still on their way must not move the cursor back.
          spool = null;
        }
        if (timer) clearInterval(timer);
        saveState();
        // Final full statistics, then done.
        const records = out.finish();
        post({
          t: 'result',
          id: -1,
          n: 0,
          records,
          stats: [...decoder.exporters.values()],
          unknown: decoder.unknown,
          data: new ArrayBuffer(0),
          meta: new ArrayBuffer(0),
          received,
        });
        post({ t: 'stopped' });
        break;
      }
      case 'crash':
        // For tests: an uncaught error in the decode thread.
        throw new Error('decode worker crash requested');
    }
  });
}

if (!isMainThread && (workerData as Partial<DecodeWorkerData> | null)?.vantageCollectWorker === true)
  runWorker(workerData as DecodeWorkerData);
