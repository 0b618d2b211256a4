/**
 * The collector's decode thread: one `CollectDecoder` (so all templates, sampling and sequence
 * state live here), fed by the main thread with batches of received datagrams copied into one
 * transferred ArrayBuffer, answering each batch with its records in columnar form
 * (`columns.ts`), its statistics, and the batch's buffers for reuse. Template persistence
 * (stateDir) is done here too, so the main thread only receives and copies bytes.
 */
import dgram from 'node:dgram';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { type ColumnBatch, encodeColumns } from './columns.js';
import { CollectDecoder, type CollectDecoderConfig } from './decoder.js';
import type { CollectedRecord, ExporterStats } from './types.js';

export const TEMPLATE_FILE = 'templates.json';

export interface DecodeWorkerData {
  vantageCollectWorker: true;
  decoder: Partial<CollectDecoderConfig>;
  stateDir: string | null;
  stateSaveMs: number;
  /**
   * Receive UDP on this thread too: the sockets are read by a thread that does nothing else
   * than decode, so a busy main thread (store appends, API queries) does not let the kernel's
   * receive buffer overflow. Results the main thread has not taken yet are bounded
   * (`maxOutstanding` datagrams); past it datagrams are dropped here and counted as drops.
   */
  udp?: { host: string; ports: number[]; recvBufferSize: number; maxOutstanding: number; lingerMs: number };
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

export type ToWorker = BatchMsg | { t: 'stop' } | { t: 'crash' } | { t: 'ack'; n: number };

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
}

export type FromWorker =
  | ResultMsg
  | { t: 'log'; msg: string }
  | { t: 'stopped' }
  | { t: 'bound'; ports: number[]; recvBufferSize: number[] }
  | { t: 'bindError'; msg: string };

function runWorker(wd: DecodeWorkerData): void {
  const port = parentPort!;
  const post = (m: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);
  const log = (msg: string): void => post({ t: 'log', msg });
  let out: CollectedRecord[] = [];
  const decoder = new CollectDecoder(wd.decoder, (r) => out.push(r));
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
    const recs = out;
    out = [];
    const records = encodeColumns(recs);
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
  /** Datagrams decoded (or dropped) since the last result. */
  let pendingN = 0;
  const pendingTouched = new Set<ExporterStats>();
  let flushTimer: NodeJS.Timeout | null = null;

  function flushReceived(): void {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = null;
    if (pendingN === 0) return;
    const recs = out;
    out = [];
    const records = encodeColumns(recs);
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
    };
    outstanding += pendingN;
    pendingN = 0;
    pendingTouched.clear();
    post(res, [records.buf]);
  }

  function onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    received++;
    pendingN++;
    const st = decoder.stats(rinfo.address, rinfo.port);
    pendingTouched.add(st);
    if (outstanding >= wd.udp!.maxOutstanding) st.drops++;
    else decoder.decode(msg, 0, msg.length, rinfo.address, rinfo.port, Date.now());
    if (out.length >= 8192) flushReceived();
    else if (flushTimer === null) flushTimer = setTimeout(flushReceived, wd.udp!.lingerMs);
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
  if (wd.udp) void bindAll(wd.udp);

  port.on('message', (m: ToWorker) => {
    switch (m.t) {
      case 'batch':
        onBatch(m);
        break;
      case 'ack':
        outstanding -= m.n;
        break;
      case 'stop': {
        for (const s of sockets.splice(0)) {
          s.removeAllListeners('message');
          s.close();
        }
        flushReceived();
        if (timer) clearInterval(timer);
        saveState();
        // Final full statistics, then done.
        const records = encodeColumns([]);
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
