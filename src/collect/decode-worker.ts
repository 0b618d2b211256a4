/**
 * The collector's decode thread: one `CollectDecoder` (so all templates, sampling and sequence
 * state live here), fed by the main thread with batches of received datagrams copied into one
 * transferred ArrayBuffer, answering each batch with its records in columnar form
 * (`columns.ts`), its statistics, and the batch's buffers for reuse. Template persistence
 * (stateDir) is done here too, so the main thread only receives and copies bytes.
 */
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

export type ToWorker = BatchMsg | { t: 'stop' } | { t: 'crash' };

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
}

export type FromWorker = ResultMsg | { t: 'log'; msg: string } | { t: 'stopped' };

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

  port.on('message', (m: ToWorker) => {
    switch (m.t) {
      case 'batch':
        onBatch(m);
        break;
      case 'stop': {
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
