import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { CaptureError, CaptureParser, type CaptureSummary } from '../capture/capture-file.js';
import type { FrameHandler } from '../capture/frame.js';
import { IngestStop } from '../store/ingest.js';
import type { UploadLimits } from './limits.js';

/**
 * Reads an uploaded capture within its limits: gzip, zstd and xz are inflated as a stream (gzip
 * in process, zstd and xz by their standard programs), the inflated bytes are counted as they
 * arrive and the read stops at the inflated-size limit, at the inflation ratio, at the packet
 * limit, or when the job is cancelled or out of time. Memory is one chunk plus the largest
 * record, whatever the input.
 */

export type Compression = 'none' | 'gzip' | 'zstd' | 'xz';

export function compressionOf(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58 && head[4] === 0x5a)
    return 'xz';
  return 'none';
}

/** What a read has consumed so far; shared with the job's progress. */
export interface ReadCounters {
  compressedBytes: number;
  inflatedBytes: number;
  packets: number;
}

/** Set `stop` to end the read at the next chunk (cancel, wall time). */
export interface StopSignal {
  stop: IngestStop | null;
}

const CHUNK = 256 * 1024;

function inflated(path: string, kind: Compression, counters: ReadCounters) {
  const file = createReadStream(path, { highWaterMark: CHUNK });
  const count = new Transform({
    transform(c: Buffer, _e, cb) {
      counters.compressedBytes += c.length;
      cb(null, c);
    },
  });
  let child: ChildProcessWithoutNullStreams | null = null;
  let childErr = '';
  let out: NodeJS.ReadableStream;
  let piped: Promise<void>;
  if (kind === 'gzip') {
    const gz = createGunzip({ chunkSize: CHUNK });
    piped = pipeline(file, count, gz).catch(() => undefined);
    out = gz;
  } else if (kind === 'zstd' || kind === 'xz') {
    child = spawn(kind, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr.on('data', (d: Buffer) => {
      if (childErr.length < 500) childErr += d.toString();
    });
    child.on('error', (e) => {
      childErr ||= `${kind} could not run (${e.message}); install the ${kind} program to read ${kind} uploads`;
    });
    piped = pipeline(file, count, child.stdin).catch(() => undefined);
    out = child.stdout;
  } else {
    piped = Promise.resolve();
    out = file.pipe(count);
  }
  const exited = child
    ? new Promise<number | null>((resolve) => {
        child!.on('close', (code) => resolve(code));
        child!.on('error', () => resolve(-1));
      })
    : Promise.resolve(0);
  return {
    out,
    piped,
    exited,
    childError: () => childErr.trim(),
    /** Release everything; `early` when the read ends before the stream did (kills a decompressor). */
    close(early = true): void {
      file.destroy();
      count.destroy();
      (out as unknown as { destroy?: () => void }).destroy?.();
      if (early && child && child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

export async function sniffCompression(path: string): Promise<Compression> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(6);
    await fh.read(head, 0, 6, 0);
    return compressionOf(head);
  } finally {
    await fh.close();
  }
}

/**
 * The first bytes of the inflated upload, to tell a capture from anything else before a job is
 * queued: null when it inflates to nothing.
 */
export async function inflatedHead(
  path: string,
  n = 8,
): Promise<{ kind: Compression; head: Buffer | null; error: string | null }> {
  const kind = await sniffCompression(path);
  const counters: ReadCounters = { compressedBytes: 0, inflatedBytes: 0, packets: 0 };
  const s = inflated(path, kind, counters);
  let head = Buffer.alloc(0);
  let error: string | null = null;
  try {
    for await (const chunk of s.out as AsyncIterable<Buffer>) {
      head = Buffer.concat([head, chunk.subarray(0, n - head.length)]);
      if (head.length >= n) break;
    }
  } catch (e) {
    error = (e as Error).message;
  } finally {
    s.close();
  }
  if (head.length === 0 && s.childError()) error = s.childError();
  return { kind, head: head.length > 0 ? head : null, error };
}

/** readCaptureFile with limits; throws IngestStop when a limit or the signal ends the read. */
export async function readCaptureLimited(
  path: string,
  onFrame: FrameHandler,
  limits: UploadLimits,
  counters: ReadCounters,
  signal: StopSignal,
  between?: () => Promise<void> | undefined,
): Promise<CaptureSummary> {
  const maxPackets = limits.maxPackets;
  const parser = new CaptureParser((f) => {
    if (counters.packets >= maxPackets) {
      throw new IngestStop(
        'max_packets',
        `stopped at the packet limit (uploads.maxPackets = ${maxPackets}); the packets before it were kept`,
      );
    }
    counters.packets++;
    onFrame(f);
  });
  const kind = await sniffCompression(path);
  const s = inflated(path, kind, counters);
  let work = Buffer.allocUnsafe(2 * CHUNK);
  let start = 0;
  let end = 0;
  let fileOff = 0;
  let error: CaptureError | null = null;
  let whole = false;
  const feed = (chunk: Buffer): void => {
    const have = end - start;
    if (have + chunk.length > work.length) {
      const bigger = Buffer.allocUnsafe(Math.max(work.length * 2, have + chunk.length));
      work.copy(bigger, 0, start, end);
      work = bigger;
    } else if (start !== 0) {
      work.copy(work, 0, start, end);
    }
    start = 0;
    end = have;
    chunk.copy(work, end);
    end += chunk.length;
    const next = parser.parse(work, start, end, fileOff);
    fileOff += next - start;
    start = next;
  };
  try {
    for await (const c of s.out as AsyncIterable<Buffer>) {
      if (signal.stop) throw signal.stop;
      let chunk = c;
      if (kind !== 'none') {
        const room = limits.maxInflatedBytes - counters.inflatedBytes;
        if (room <= 0) {
          throw new IngestStop(
            'max_inflated_bytes',
            `stopped at the inflated-size limit (uploads.maxInflatedBytes = ${limits.maxInflatedBytes} bytes); the packets before it were kept`,
          );
        }
        if (chunk.length > room) chunk = chunk.subarray(0, room);
        counters.inflatedBytes += chunk.length;
        if (
          counters.inflatedBytes > limits.ratioGraceBytes &&
          counters.inflatedBytes > limits.maxInflationRatio * Math.max(1, counters.compressedBytes)
        ) {
          throw new IngestStop(
            'max_inflation_ratio',
            `stopped at the inflation-ratio limit (uploads.maxInflationRatio = ${limits.maxInflationRatio}): ${counters.inflatedBytes} bytes inflated from ${counters.compressedBytes}; the packets before it were kept`,
          );
        }
      } else {
        counters.inflatedBytes += chunk.length;
      }
      try {
        feed(chunk);
      } catch (e) {
        if (e instanceof CaptureError) {
          error = e;
          break;
        }
        throw e;
      }
      // The store's back-pressure: wait while a batch is with it rather than queue records.
      const wait = between?.();
      if (wait) await wait;
    }
    if (signal.stop) throw signal.stop;
    whole = error === null;
  } catch (e) {
    if (e instanceof IngestStop) throw e;
    error ??= new CaptureError(`${kind} stream damaged: ${(e as Error).message}`, fileOff + (end - start));
  } finally {
    s.close(!whole);
  }
  await s.piped;
  if (kind === 'zstd' || kind === 'xz') {
    const code = await s.exited;
    if (!error && code !== 0)
      error = new CaptureError(`${kind}: ${s.childError() || `exit ${code}`}`, fileOff);
  }
  if (!error && end > start) {
    error = new CaptureError(
      `file truncated: ${end - start} trailing bytes do not form a whole ${parser.format ?? 'capture'} record`,
      fileOff,
    );
  } else if (!error && parser.format === null) {
    error = new CaptureError('empty file: no capture header', 0);
  }
  return { format: parser.format ?? 'pcap', packets: parser.packets, bytes: parser.bytes, error };
}
