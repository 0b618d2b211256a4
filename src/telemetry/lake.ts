import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  createReadStream,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

import { ConfigError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Metrics } from '../common/metrics.js';
import type { RecordStore } from '../store/types.js';

/** Where the lake's files go: a local (or mounted) directory, or an S3-compatible bucket. */
export type LakeTarget =
  | { kind: 'dir'; path: string }
  | {
      kind: 's3';
      bucket: string;
      prefix: string;
      region: string;
      /** For MinIO, Ceph, s3proxy...: their URL (path-style addressing is used then). */
      endpoint?: string;
      accessKeyId?: string;
      secretAccessKey?: string;
    };

export interface LakeConfig {
  target: LakeTarget;
  /** Record types exported (default: every type the store knows). */
  types?: string[];
  /** An hour is exported this long after it ends (flows are stored when they end), ms. */
  delayMs: number;
  intervalMs: number;
  /** On a first start, begin this many hours back (0: with the current hour). */
  backfillHours: number;
}

/** One partition's manifest, written after its data file: its presence means the partition is whole. */
export interface PartitionManifest {
  type: string;
  date: string;
  hour: string;
  /** The data file's name within the partition (none when the hour had no rows). */
  file: string | null;
  rows: number;
  bytes: number;
  sha256: string | null;
  /** Bumped when the columns of a type change (docs/lake.md). */
  schema: number;
  written: string;
}

/** The lake's layout version; docs/lake.md says what changes it. */
export const LAKE_SCHEMA = 1;
const HOUR = 3_600_000;

/** What `put` writes: a file (streamed) or a small buffer, with its size and MD5 (base64). */
type PutSource = { path: string; bytes: number; md5: string } | { body: Buffer; bytes: number; md5: string };

/** Size, SHA-256 (hex) and MD5 (base64) of a file, read as a stream. */
async function fileSums(path: string): Promise<{ bytes: number; sha256: string; md5: string }> {
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  let bytes = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    sha.update(chunk);
    md5.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: sha.digest('hex'), md5: md5.digest('base64') };
}

/**
 * Every record type exported continuously as Parquet in Hive-style partitions
 * (`type=flow/date=2026-12-06/hour=01/part-0.parquet`), rows sorted by time, with a
 * `_manifest.json` beside each data file giving the row count and checksum.
 *
 * Exactly once per partition across restarts and crashes: an hour is exported only once it is
 * closed (`delay` after its end); its data file has a fixed name and is written whole (rename of
 * a synced temp file, or one S3 PUT), then its manifest, then the type's watermark. A crash
 * anywhere in between makes the next start write the same partition again under the same
 * names: never two copies, never a gap.
 */
export class LakeExporter {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly s3: S3Client | null;
  private readonly state: Record<string, number>;
  readonly counters = { partitions: 0, rows: 0, bytes: 0, errors: 0, lastError: null as string | null };

  constructor(
    readonly cfg: LakeConfig,
    private readonly deps: {
      store: RecordStore;
      dataDir: string;
      log: Logger;
      metrics?: Metrics;
      now?: () => number;
    },
  ) {
    const t = cfg.target;
    this.s3 =
      t.kind === 's3'
        ? new S3Client({
            region: t.region,
            // Object stores other than AWS (s3proxy, older MinIO and Ceph) refuse the SDK's
            // default CRC checksum headers; Content-MD5 below protects each object instead.
            requestChecksumCalculation: 'WHEN_REQUIRED',
            responseChecksumValidation: 'WHEN_REQUIRED',
            ...(t.endpoint ? { endpoint: t.endpoint, forcePathStyle: true } : {}),
            ...(t.accessKeyId && t.secretAccessKey
              ? { credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey } }
              : {}),
          })
        : null;
    this.state = this.load();
    deps.metrics?.collect(() => this.publishMetrics());
  }

  private get statePath(): string {
    return join(this.deps.dataDir, 'lake', 'state.json');
  }

  private now(): number {
    return this.deps.now ? this.deps.now() : Date.now();
  }

  async start(): Promise<void> {
    if (!this.deps.store.exportParquet)
      throw new ConfigError(
        'lake',
        `the ${this.deps.store.backend} record store cannot write Parquet: the lake needs the embedded store`,
      );
    const known = new Set(this.deps.store.defs.map((d) => d.type));
    this.cfg.types?.forEach((t, i) => {
      if (!known.has(t))
        throw new ConfigError(
          `lake.types[${i}]`,
          `unknown record type ${t} (known: ${[...known].join(', ')})`,
        );
    });
    this.timer = setInterval(() => void this.cycle(), this.cfg.intervalMs);
    this.timer.unref();
    void this.cycle();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    this.s3?.destroy();
  }

  /** Export every closed hour not yet exported (the timer calls it; tests call it directly). */
  cycle(): Promise<void> {
    if (!this.running)
      this.running = this.pass().finally(() => {
        this.running = null;
      });
    return this.running;
  }

  /** The next hour each type will export (ms), for status pages and tests. */
  watermarks(): Record<string, number> {
    return { ...this.state };
  }

  private types(): string[] {
    return this.cfg.types ?? this.deps.store.defs.map((d) => d.type);
  }

  private async pass(): Promise<void> {
    const closed = Math.floor((this.now() - this.cfg.delayMs) / HOUR) * HOUR;
    for (const type of this.types()) {
      if (this.state[type] === undefined) {
        this.state[type] = closed - this.cfg.backfillHours * HOUR;
        this.save();
      }
      while (this.state[type]! < closed) {
        const hour: number = this.state[type]!;
        try {
          await this.exportPartition(type, hour);
        } catch (e) {
          this.counters.errors++;
          this.counters.lastError = `${type} ${new Date(hour).toISOString()}: ${(e as Error).message}`;
          this.deps.log.warn(`lake: ${this.counters.lastError}; retrying on the next pass`);
          return;
        }
        this.state[type] = hour + HOUR;
        this.save();
      }
    }
  }

  private async exportPartition(type: string, hour: number): Promise<void> {
    const iso = new Date(hour).toISOString();
    const date = iso.slice(0, 10);
    const hh = iso.slice(11, 13);
    const part = `type=${type}/date=${date}/hour=${hh}`;
    const tmpDir = join(this.deps.dataDir, 'lake', 'tmp');
    mkdirSync(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `${type}-${hour}.parquet`);
    rmSync(tmp, { force: true });
    const rows = await this.deps.store.exportParquet!(
      { type, after: hour * 1000, before: (hour + HOUR) * 1000, desc: false },
      tmp,
    );
    const manifest: PartitionManifest = {
      type,
      date,
      hour: hh,
      file: null,
      rows,
      bytes: 0,
      sha256: null,
      schema: LAKE_SCHEMA,
      written: new Date(this.now()).toISOString(),
    };
    if (rows > 0) {
      // Streamed from the file the store wrote: an hour of flows can be larger than memory.
      const sums = await fileSums(tmp);
      manifest.file = 'part-0.parquet';
      manifest.bytes = sums.bytes;
      manifest.sha256 = sums.sha256;
      await this.put(`${part}/part-0.parquet`, { path: tmp, ...sums }, 'application/vnd.apache.parquet');
    }
    rmSync(tmp, { force: true });
    const body = Buffer.from(`${JSON.stringify(manifest)}\n`);
    await this.put(
      `${part}/_manifest.json`,
      { body, bytes: body.length, md5: createHash('md5').update(body).digest('base64') },
      'application/json',
    );
    this.counters.partitions++;
    this.counters.rows += rows;
    this.counters.bytes += manifest.bytes;
  }

  /** Write one object whole: a synced temp file renamed into place, or one S3 PUT. */
  private async put(key: string, src: PutSource, contentType: string): Promise<void> {
    const t = this.cfg.target;
    if (t.kind === 'dir') {
      const path = join(t.path, key);
      mkdirSync(dirname(path), { recursive: true });
      // A fixed name: a write killed half-way is overwritten by the retry, never left behind.
      const tmp = join(dirname(path), `.${key.slice(key.lastIndexOf('/') + 1)}.tmp`);
      if ('path' in src) copyFileSync(src.path, tmp);
      else writeFileSync(tmp, src.body);
      const fd = openSync(tmp, 'r+');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
      const dfd = openSync(dirname(path), 'r');
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
      return;
    }
    const prefix = t.prefix ? `${t.prefix.replace(/\/+$/, '')}/` : '';
    await this.s3!.send(
      new PutObjectCommand({
        Bucket: t.bucket,
        Key: prefix + key,
        Body: 'path' in src ? createReadStream(src.path) : src.body,
        ContentLength: src.bytes,
        ContentType: contentType,
        ContentMD5: src.md5,
      }),
    );
  }

  private load(): Record<string, number> {
    try {
      return (
        (JSON.parse(readFileSync(this.statePath, 'utf8')) as { next?: Record<string, number> }).next ?? {}
      );
    } catch {
      return {};
    }
  }

  private save(): void {
    mkdirSync(dirname(this.statePath), { recursive: true });
    const tmp = `${this.statePath}.tmp`;
    writeFileSync(tmp, JSON.stringify({ next: this.state }));
    renameSync(tmp, this.statePath);
  }

  private publishMetrics(): void {
    const m = this.deps.metrics;
    if (!m) return;
    m.set(
      'vantage_lake_partitions',
      'Partitions written to the data lake since start',
      {},
      this.counters.partitions,
    );
    m.set('vantage_lake_rows', 'Rows written to the data lake since start', {}, this.counters.rows);
    m.set('vantage_lake_errors', 'Failed partition exports (retried)', {}, this.counters.errors);
    const closed = Math.floor((this.now() - this.cfg.delayMs) / HOUR) * HOUR;
    let lag = 0;
    for (const v of Object.values(this.state)) lag = Math.max(lag, (closed - v) / 1000);
    m.set(
      'vantage_lake_lag_seconds',
      'How far the slowest record type is behind the newest closed hour',
      {},
      lag,
    );
  }
}
