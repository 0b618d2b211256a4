/**
 * The part writer's thread: a commit's column batches in, a durable Parquet file out (written
 * under a temporary name, fsynced, renamed, its directory fsynced). The file is not in the
 * catalog yet: the store registers it, and only then acknowledges the rows.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { ALL_RECORDS } from '../src/schema/records.js';
import type { Columnar } from '../src/store/columnar.js';
import { type EncodeOptions, encodePart, type PartMeta } from './parquet-part.js';

export interface PartJob {
  id: number;
  type: string;
  parts: Columnar[];
  seq0: number;
  /** Absolute path of the file to make. */
  path: string;
  /** The writer's settings (parquet-part.ts). */
  opts?: EncodeOptions;
}

export interface PartDone {
  id: number;
  meta?: PartMeta;
  bytes?: number;
  error?: string;
  /** CPU-s this thread has used so far. */
  cpu: number;
}

function threadCpu(): number {
  return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e9;
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function writePartFile(job: PartJob): { meta: PartMeta; bytes: number } {
  const def = ALL_RECORDS.find((d) => d.type === job.type);
  if (!def) throw new Error(`unknown record type ${job.type}`);
  const { bytes, meta } = encodePart(def, job.parts, job.seq0, job.opts ?? {});
  mkdirSync(dirname(job.path), { recursive: true });
  const tmp = `${job.path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, job.path);
  syncDir(dirname(job.path));
  return { meta, bytes: bytes.length };
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (job: PartJob) => {
    let out: PartDone;
    try {
      const r = writePartFile(job);
      out = { id: job.id, meta: r.meta, bytes: r.bytes, cpu: threadCpu() };
    } catch (e) {
      out = { id: job.id, error: e instanceof Error ? e.message : String(e), cpu: threadCpu() };
    }
    port.postMessage(out);
  });
}
