import { badRequest } from '../../common/errors.js';
import { createLogger, type Logger } from '../../common/log.js';
import { ALL_RECORDS } from '../../schema/records.js';
import type { AnyRecordDef } from '../../schema/registry.js';
import { type Columnar, columnarToRecords } from '../columnar.js';
import type { Cond } from '../filter.js';
import { checkFields, decodeCursor, lastPerKey, pageOf, sortField } from '../paging.js';
import { seriesFromParts, seriesParts, statParts, statSeriesFromParts } from '../series.js';
import type {
  ListQuery,
  Page,
  Rec,
  RecordStore,
  Series,
  SeriesQuery,
  SeriesStat,
  StoreStats,
  TimeRange,
  TopQuery,
  TopRow,
} from '../types.js';
import { PER_FLOW_METRICS } from '../types.js';
import { microsToIso } from '../values.js';
import { encoder, fromText, outExpr } from './codec.js';
import { ColumnsEncoder } from './columns.js';
import { type ChNode, exec, insertBody, parseTsv, rows } from './http.js';
import { NativeColumnsEncoder, NativeRecordsEncoder } from './native.js';
import { RowBinary } from './rowbinary.js';
import {
  chColumns,
  createDistributedSql,
  createLocalSql,
  FLOW_WEIGHT,
  HOUR_US,
  localTable,
  MINUTE_US,
  ROLLUP,
  ROLLUP_FIELDS,
  rollupSql,
  TOP_DIMS,
  topRollup,
  topRollupSelect,
  topRollupSql,
} from './schema.js';
import { col, condSql, lit } from './sql.js';

export interface ClickHouseConfig {
  /** HTTP interface of the node queries go to (it holds the Distributed tables). */
  url: string;
  /** Nodes written to, one per shard (default: [url]). Each gets its own part of every batch. */
  shards?: string[];
  /** remote_servers cluster naming the shards, for the Distributed tables (needed with >1 shard). */
  cluster?: string;
  database?: string;
  user?: string;
  password?: string;
  /** Drop day partitions older than this many days (0 = keep). */
  retentionDays?: number;
  timeoutMs?: number;
  /** The product's local directory (tokens, packets); the records themselves are in ClickHouse. */
  dataDir?: string;
  /**
   * Insert format: 'native' (default; columnar, the cheapest for the server to take) or
   * 'rowbinary' (row by row, the format of earlier releases).
   */
  insertFormat?: 'native' | 'rowbinary';
  /** Rows per insert from the column path (default 262,144): one part per day it spans. */
  insertRows?: number;
}

/** What the server supports, from its version: 18.16 (Debian) and current releases differ. */
export interface ChFeatures {
  version: string;
  major: number;
  /** quantileExactInclusive (20.1+): the same interpolation as DuckDB's quantile_cont. */
  exactQuantile: boolean;
}

const MAX_GROUP_ROWS = 200_000;
/** Rows per insert from the column path: one part each, large enough that merges keep up. */
export const INSERT_ROWS = 262_144;
/** Encode buffers kept for reuse (each holds one insert; a few are in flight at once). */
const POOL = 4;
/** Larger Native buffers are not kept: the pool holds at most POOL × this. */
const POOL_MAX_BYTES = 160 << 20;
/** _seq values the store assigns itself stay below this; the bus ingester uses the range above. */
export const LOCAL_SEQ_LIMIT = 2 ** 52;
/** Sequence numbers per bus partition (offset × 4096 + index in the message). */
export const BAND = 2 ** 44;

export function createClickHouseStore(
  cfg: ClickHouseConfig,
  deps: { defs?: readonly AnyRecordDef[]; log?: Logger } = {},
): ClickHouseStore {
  return new ClickHouseStore(cfg, deps.defs ?? ALL_RECORDS, deps.log ?? createLogger('store'));
}

/**
 * The distributed record store on ClickHouse: per record type a MergeTree table on every shard
 * and a Distributed table over them. Writes go straight to the shards' local tables, one
 * insert (one atomic part) per shard per batch, so an acknowledged append is on disk on every
 * shard it touched and a retried batch can be recognised by its `_seq` range (appendAt).
 * Reads go to one node through the Distributed tables, which aggregate across shards exactly.
 */
export class ClickHouseStore implements RecordStore {
  readonly backend = 'clickhouse';
  private readonly byType: Map<string, AnyRecordDef>;
  private readonly q: ChNode;
  private readonly shards: ChNode[];
  private readonly db: string;
  private readonly appended: Record<string, number> = {};
  private readonly encoders = new Map<string, ReturnType<typeof encoder>>();
  private readonly colEncoders = new Map<string, ColumnsEncoder>();
  private readonly nativeCols = new Map<string, NativeColumnsEncoder>();
  private readonly nativeRecs = new Map<string, NativeRecordsEncoder>();
  private readonly pool: RowBinary[] = [];
  private readonly nativePool: Buffer[] = [];
  private readonly native: boolean;
  private batches = 0;
  private dropped = 0;
  private seq = 1;
  private started = false;
  features: ChFeatures = { version: '', major: 0, exactQuantile: false };

  constructor(
    private readonly cfg: ClickHouseConfig,
    readonly defs: readonly AnyRecordDef[],
    private readonly log: Logger,
  ) {
    this.byType = new Map(defs.map((d) => [d.type, d]));
    const node = (url: string): ChNode => ({
      url,
      ...(cfg.user ? { user: cfg.user } : {}),
      ...(cfg.password ? { password: cfg.password } : {}),
    });
    this.q = node(cfg.url);
    this.shards = (cfg.shards && cfg.shards.length > 0 ? cfg.shards : [cfg.url]).map(node);
    if (this.shards.length > 1 && !cfg.cluster)
      throw new Error('clickhouse: more than one shard needs a cluster');
    this.native = (cfg.insertFormat ?? 'native') === 'native';
    this.db = cfg.database ?? 'vantage';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(this.db))
      throw new Error(`clickhouse: bad database name ${this.db}`);
  }

  get dataDir(): string {
    return this.cfg.dataDir ?? '';
  }

  private get opts() {
    return { timeoutMs: this.cfg.timeoutMs ?? 300_000 };
  }

  async start(): Promise<void> {
    const v = (await rows(this.q, 'SELECT version()', this.opts))[0]?.[0] ?? '';
    const major = Number.parseInt(v, 10);
    this.features = { version: v, major, exactQuantile: major >= 20 };
    this.log.info?.(`clickhouse ${v} (${this.shards.length} shard(s))`);
    const cluster = this.cfg.cluster;
    // No ON CLUSTER (it needs ZooKeeper): the same DDL runs on every shard, and every shard
    // gets the Distributed tables too so any of them can answer.
    for (const n of this.shards) {
      await exec(n, `CREATE DATABASE IF NOT EXISTS ${this.db}`, this.opts);
      for (const def of this.defs) {
        await exec(n, createLocalSql(this.db, def), this.opts);
        await this.addMissingColumns(n, def, `${def.type}_local`);
        if (cluster) {
          await exec(n, createDistributedSql(this.db, def, cluster), this.opts);
          await this.addMissingColumns(n, def, def.type);
        }
      }
      if (this.rollupDef()) {
        // Our rollup views made before flows carried a weight are made again (their tables keep
        // their rows); any other view in the database is left alone.
        const stale = await rows(
          n,
          `SELECT name FROM system.tables WHERE database = '${this.db}' AND name IN (${[`${ROLLUP}_mv`, ...TOP_DIMS.map((d) => `${topRollup(d)}_mv`)].map((n) => `'${n}'`).join(', ')}) AND position(create_table_query, 'sampling_rate') = 0`,
          this.opts,
        );
        for (const [name] of stale) await exec(n, `DROP TABLE IF EXISTS ${this.db}.${name}`, this.opts);
        for (const s of rollupSql(this.db, cluster)) await exec(n, s, this.opts);
        // A rollup made over a table that already has flows starts from them (once, at start,
        // before this process writes): the view only sees inserts made after it exists.
        const had = new Set(
          (await rows(n, `SELECT name FROM system.tables WHERE database = '${this.db}'`, this.opts)).map(
            (r) => r[0],
          ),
        );
        for (const s of topRollupSql(this.db, cluster)) await exec(n, s, this.opts);
        for (const dim of TOP_DIMS) {
          if (had.has(`${topRollup(dim)}_local`)) continue;
          await exec(
            n,
            `INSERT INTO ${this.db}.${topRollup(dim)}_local ${topRollupSelect(this.db, dim)} GROUP BY hour, kn, k`,
            this.opts,
          );
        }
      }
    }
    for (const def of this.defs) {
      this.appended[def.type] = 0;
      const r = await rows(
        this.q,
        `SELECT max(_seq) FROM ${this.table(def)} WHERE _seq < ${LOCAL_SEQ_LIMIT}`,
        this.opts,
      );
      this.seq = Math.max(this.seq, Number(r[0]?.[0] ?? 0) + 1);
    }
    this.started = true;
  }

  /** Fields added to the registry since the table was made become new Nullable columns. */
  private async addMissingColumns(n: ChNode, def: AnyRecordDef, table: string): Promise<void> {
    const have = new Set(
      (
        await rows(
          n,
          `SELECT name FROM system.columns WHERE database = '${this.db}' AND table = '${table}'`,
          this.opts,
        )
      ).map((r) => r[0]),
    );
    for (const c of chColumns(def)) {
      if (!have.has(c.name))
        await exec(n, `ALTER TABLE ${this.db}.${table} ADD COLUMN ${c.name} ${c.chType}`, this.opts);
    }
  }

  async stop(): Promise<void> {
    this.started = false;
  }

  private def(type: string): AnyRecordDef | undefined {
    return this.byType.get(type);
  }

  private rollupDef(): AnyRecordDef | undefined {
    const d = this.def('flow');
    return d && ROLLUP_FIELDS.every((f) => Object.hasOwn(d.fields, f)) ? d : undefined;
  }

  /** The table reads go to: Distributed over the shards, or the local table on one node. */
  private table(def: AnyRecordDef): string {
    return this.cfg.cluster ? `${this.db}.${def.type}` : localTable(this.db, def);
  }

  /** FROM clause: keyed records are read FINAL so a replaced row is never seen twice. */
  private source(def: AnyRecordDef): string {
    return `${this.table(def)}${def.key ? ' FINAL' : ''}`;
  }

  async append(type: string, records0: readonly Rec[]): Promise<void> {
    const def = this.def(type);
    if (!def) throw new Error(`unknown record type '${type}'`);
    if (records0.length === 0) return;
    const records = def.key ? lastPerKey(records0, def.key) : records0;
    const seq = this.seq;
    this.seq += records.length;
    await this.write(def, records, seq, false);
  }

  /**
   * Append the selected rows of a columnar batch without an object per record (the collector's
   * and the sensor's path): RowBinary encoded straight from the batch into reused buffers, each
   * shard's rows in inserts of up to INSERT_ROWS, all in flight together while the next one is
   * encoded. Keyed types go through `append` (replace by key). Durable when the promise resolves.
   */
  async appendColumns(type: string, c: Columnar): Promise<void> {
    const def = this.def(type);
    if (!def) throw new Error(`unknown record type '${type}'`);
    const n = c.rows.length;
    if (n === 0) return;
    if (def.key) return this.append(type, columnarToRecords(c, type));
    if (!this.started) throw new Error('store is not started');
    const seq = this.seq;
    this.seq += n;
    const target = `${localTable(this.db, def)} (${chColumns(def)
      .map((x) => x.name)
      .join(', ')}, _seq)`;
    const per = Math.ceil(n / this.shards.length);
    const step = this.cfg.insertRows ?? INSERT_ROWS;
    const inserts: Promise<void>[] = [];
    for (let s = 0; s < this.shards.length; s++) {
      const node = this.shards[s]!;
      for (let a = s * per; a < Math.min(n, (s + 1) * per); a += step) {
        const b = Math.min(n, (s + 1) * per, a + step);
        let p: Promise<void>;
        if (this.native) {
          let enc = this.nativeCols.get(type);
          if (!enc) {
            enc = new NativeColumnsEncoder(def);
            this.nativeCols.set(type, enc);
          }
          const body = enc.encode(c, a, b, seq + a, this.nativePool.pop());
          p = insertBody(node, target, 'Native', body, this.opts).finally(() => {
            // Kept for the next block unless huge (a 1M-row block of flows is ~480 MB).
            if (this.nativePool.length < POOL && body.buffer.byteLength <= POOL_MAX_BYTES)
              this.nativePool.push(Buffer.from(body.buffer, body.byteOffset));
          });
        } else {
          let enc = this.colEncoders.get(type);
          if (!enc) {
            enc = new ColumnsEncoder(def);
            this.colEncoders.set(type, enc);
          }
          const w = this.pool.pop() ?? new RowBinary(1 << 22);
          w.reset();
          enc.encode(w, c, a, b, seq + a);
          p = insertBody(node, target, 'RowBinary', w.bytes(), this.opts).finally(() => {
            if (this.pool.length < POOL) this.pool.push(w);
          });
        }
        // Handled here and awaited below: a failure while the next one encodes is not "unhandled".
        p.catch(() => undefined);
        inserts.push(p);
        // Let the request start sending while the next insert is encoded.
        await new Promise((r) => setImmediate(r));
      }
    }
    await Promise.all(inserts);
    this.batches++;
    this.appended[def.type] = (this.appended[def.type] ?? 0) + n;
  }

  /**
   * Append batches whose sequence numbers the caller chose (seqBase + index, every one at or
   * above LOCAL_SEQ_LIMIT), idempotently: the bus ingester derives seqBase from the message's
   * partition and offset, so a redelivered message carries the same numbers. Rows at or below
   * the highest number already stored in their band (2^44 numbers: one bus partition) are
   * looked up and skipped when present, exactly row by row (an insert spanning several day
   * partitions is not atomic); rows above it are new and go straight in.
   */
  async appendAt(
    type: string,
    batches: readonly { records: readonly Rec[]; seqBase: number }[],
  ): Promise<void> {
    const def = this.def(type);
    if (!def) throw new Error(`unknown record type '${type}'`);
    const recs: Rec[] = [];
    const seqs: number[] = [];
    for (const b of batches) {
      if (b.seqBase < LOCAL_SEQ_LIMIT) throw new Error('appendAt: seqBase below LOCAL_SEQ_LIMIT');
      // Keyed records: the last of a key in the message wins, numbered by its own index.
      const last = new Map<unknown, number>();
      if (def.key) for (let i = 0; i < b.records.length; i++) last.set(b.records[i]![def.key], i);
      for (let i = 0; i < b.records.length; i++) {
        if (def.key && last.get(b.records[i]![def.key]) !== i) continue;
        recs.push(b.records[i]!);
        seqs.push(b.seqBase + i);
      }
    }
    if (recs.length === 0) return;
    await this.write(def, recs, seqs, true);
  }

  /** Highest bus-assigned _seq per band on each shard, read once per type (the replay fence). */
  private readonly fences = new Map<string, Promise<Map<number, number>[]>>();

  private fence(def: AnyRecordDef): Promise<Map<number, number>[]> {
    let f = this.fences.get(def.type);
    if (!f) {
      f = Promise.all(
        this.shards.map(async (n) => {
          const r = await rows(
            n,
            `SELECT intDiv(_seq - ${LOCAL_SEQ_LIMIT}, ${BAND}) AS band, max(_seq) FROM ${localTable(this.db, def)} WHERE _seq >= ${LOCAL_SEQ_LIMIT} GROUP BY band`,
            this.opts,
          );
          return new Map(r.map((x) => [Number(x[0]), Number(x[1])]));
        }),
      );
      this.fences.set(def.type, f);
      f.catch(() => this.fences.delete(def.type));
    }
    return f;
  }

  private async write(
    def: AnyRecordDef,
    records: readonly Rec[],
    seq: number | readonly number[],
    idempotent: boolean,
  ): Promise<void> {
    if (!this.started) throw new Error('store is not started');
    let enc = this.encoders.get(def.type);
    if (!enc) {
      enc = encoder(def);
      this.encoders.set(def.type, enc);
    }
    const seqOf = typeof seq === 'number' ? (i: number) => seq + i : (i: number) => seq[i]!;
    const n = this.shards.length;
    const parts: number[][] = Array.from({ length: n }, () => []);
    if (def.key && n > 1) {
      // A key always lands on the same shard, where ReplacingMergeTree can replace it.
      const k = def.key;
      for (let i = 0; i < records.length; i++) parts[hash(String(records[i]![k])) % n]!.push(i);
    } else if (idempotent) {
      // A redelivered message must reach the shard that may already hold it: by message
      // (4096 numbers each), never by its place in a batch.
      for (let i = 0; i < records.length; i++) parts[Math.floor(seqOf(i) / 4096) % n]!.push(i);
    } else {
      const per = Math.ceil(records.length / n);
      for (let i = 0; i < records.length; i++) parts[Math.floor(i / per)]!.push(i);
    }
    const fences = idempotent ? await this.fence(def) : null;
    const cols = `${chColumns(def)
      .map((c) => c.name)
      .join(', ')}, _seq`;
    const table = localTable(this.db, def);
    await Promise.all(
      parts.map(async (idx0, s) => {
        let idx = idx0;
        const node = this.shards[s]!;
        if (fences && idx.length > 0) {
          const fence = fences[s]!;
          let lo = Infinity;
          let hi = -Infinity;
          for (const i of idx) {
            const q = seqOf(i);
            if (q <= (fence.get(Math.floor((q - LOCAL_SEQ_LIMIT) / BAND)) ?? -1)) {
              lo = Math.min(lo, q);
              hi = Math.max(hi, q);
            }
          }
          if (lo <= hi) {
            const sql = `SELECT _seq FROM ${table} WHERE _seq >= ${lo} AND _seq <= ${hi}`;
            const have = new Set((await rows(node, sql, this.opts)).map((r) => Number(r[0])));
            idx = idx.filter((i) => !have.has(seqOf(i)));
          }
        }
        if (idx.length === 0) return;
        if (this.native) {
          let nenc = this.nativeRecs.get(def.type);
          if (!nenc) {
            nenc = new NativeRecordsEncoder(def);
            this.nativeRecs.set(def.type, nenc);
          }
          await insertBody(node, `${table} (${cols})`, 'Native', nenc.encode(records, idx, seqOf), this.opts);
          return;
        }
        const w = new RowBinary(Math.max(1 << 16, idx.length * 48 * chColumns(def).length));
        for (const i of idx) enc(w, records[i]!, seqOf(i));
        await insertBody(node, `${table} (${cols})`, 'RowBinary', w.bytes(), this.opts);
      }),
    );
    this.batches++;
    this.appended[def.type] = (this.appended[def.type] ?? 0) + records.length;
  }

  private where(def: AnyRecordDef, q0: TimeRange & { filter?: Cond | null | undefined }): string[] {
    const out: string[] = [];
    const t = def.timeField;
    if (q0.after !== undefined) out.push(`${t} >= ${lit('ts', q0.after)}`);
    if (q0.before !== undefined) out.push(`${t} < ${lit('ts', q0.before)}`);
    if (q0.filter) out.push(condSql(q0.filter, def));
    return out;
  }

  private select(def: AnyRecordDef, names: readonly string[]): string {
    return names.map((n) => (n === '_seq' ? '_seq' : outExpr(col(n, def), def.fields[n]!.type))).join(', ');
  }

  private toRecs(def: AnyRecordDef, names: readonly string[], raw: (string | null)[][]): Rec[] {
    const types = names.map((n) => (n === '_seq' ? 'int' : def.fields[n]!.type));
    return raw.map((r) => {
      const o: Rec = {};
      for (let i = 0; i < names.length; i++) o[names[i]!] = fromText(types[i]!, r[i] ?? null);
      return o;
    });
  }

  async list(lq: ListQuery): Promise<Page> {
    const def = this.def(lq.type);
    if (!def) return { items: [], next: null };
    const fields = checkFields(def, lq.fields);
    const sort = sortField(def, lq.sort);
    const desc = lq.desc ?? true;
    const conds = this.where(def, lq);
    const st = def.fields[sort]!.type;
    const sc = col(sort, def);
    if (lq.cursor) {
      const [v, s] = decodeCursor(lq.cursor, st);
      const lt = desc ? '<' : '>';
      if (v === null) conds.push(`(isNull(${sc}) AND _seq ${lt} ${s})`);
      else {
        const pv = lit(st, v);
        conds.push(
          `(ifNull(${sc} ${lt} ${pv}, 0) OR ifNull(${sc} = ${pv} AND _seq ${lt} ${s}, 0) OR isNull(${sc}))`,
        );
      }
    }
    const dir = desc ? 'DESC' : 'ASC';
    const names = [...new Set([...fields, sort]), '_seq'];
    const limit = Math.max(1, Math.floor(lq.limit));
    const sql = `SELECT ${this.select(def, names)} FROM ${this.source(def)}${
      conds.length ? ` WHERE ${conds.join(' AND ')}` : ''
    } ORDER BY ${sc} ${dir} NULLS LAST, _seq ${dir} LIMIT ${limit + 1}`;
    return pageOf(this.toRecs(def, names, await rows(this.q, sql, this.opts)), limit, sort, fields);
  }

  async stream(
    lq: Omit<ListQuery, 'limit' | 'cursor'> & { limit?: number },
    onRows: (rows: Rec[]) => Promise<void> | void,
  ): Promise<number> {
    const def = this.def(lq.type);
    if (!def) return 0;
    const fields = checkFields(def, lq.fields);
    const sort = sortField(def, lq.sort);
    const conds = this.where(def, lq);
    const dir = (lq.desc ?? true) ? 'DESC' : 'ASC';
    const sql = `SELECT ${this.select(def, fields)} FROM ${this.source(def)}${
      conds.length ? ` WHERE ${conds.join(' AND ')}` : ''
    } ORDER BY ${col(sort, def)} ${dir} NULLS LAST, _seq ${dir}${lq.limit ? ` LIMIT ${Math.floor(lq.limit)}` : ''} FORMAT TabSeparated`;
    // Read the answer as it arrives and hand it on in chunks: an export never sits in memory.
    const res = await fetch(this.q.url, {
      method: 'POST',
      body: sql,
      headers: {
        ...(this.q.user ? { 'X-ClickHouse-User': this.q.user } : {}),
        ...(this.q.password ? { 'X-ClickHouse-Key': this.q.password } : {}),
      },
    });
    if (!res.ok || !res.body)
      throw new Error(`clickhouse ${this.q.url}: ${(await res.text()).slice(0, 2000)}`);
    const dec = new TextDecoder();
    let rest = '';
    let n = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      rest += dec.decode(chunk, { stream: true });
      const cut = rest.lastIndexOf('\n');
      if (cut < 0) continue;
      const recs = this.toRecs(def, fields, parseTsv(rest.slice(0, cut + 1)));
      rest = rest.slice(cut + 1);
      n += recs.length;
      if (recs.length) await onRows(recs);
    }
    rest += dec.decode();
    if (rest.length) {
      const recs = this.toRecs(def, fields, parseTsv(rest));
      n += recs.length;
      if (recs.length) await onRows(recs);
    }
    return n;
  }

  async count(type: string, q0: TimeRange & { filter?: Cond | null }): Promise<number> {
    const def = this.def(type);
    if (!def) return 0;
    const conds = this.where(def, q0);
    const r = await rows(
      this.q,
      `SELECT count() FROM ${this.source(def)}${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''}`,
      this.opts,
    );
    return Number(r[0]?.[0] ?? 0);
  }

  /**
   * An unfiltered, ungrouped series whose buckets and range are whole minutes is read from the
   * materialized per-minute rollup instead of the flows.
   */
  private rollupSource(sq: SeriesQuery, stepUs: number): string | null {
    if (sq.groupBy || sq.filter || stepUs % MINUTE_US !== 0 || !this.rollupDef()) return null;
    if ((sq.after ?? 0) % MINUTE_US !== 0 || (sq.before ?? 0) % MINUTE_US !== 0) return null;
    const conds: string[] = [];
    if (sq.after !== undefined) conds.push(`minute >= ${lit('ts', sq.after)}`);
    if (sq.before !== undefined) conds.push(`minute < ${lit('ts', sq.before)}`);
    const m = ROLLUP_METRIC[sq.metric];
    const t = this.cfg.cluster ? `${this.db}.${ROLLUP}` : `${this.db}.${ROLLUP}_local`;
    return `SELECT intDiv(minute, ${stepUs}) * ${stepUs} AS b, ${m.num} AS num, ${m.den} AS den FROM ${t}${
      conds.length ? ` WHERE ${conds.join(' AND ')}` : ''
    } GROUP BY b ORDER BY b LIMIT ${MAX_GROUP_ROWS + 1}`;
  }

  async timeseries(sq: SeriesQuery): Promise<Series> {
    const def = this.def('flow');
    if (!def) throw badRequest('no flow records in this store');
    if (sq.stat && sq.stat !== 'mean') return this.statSeries(def, sq, sq.stat);
    if (sq.groupBy && !Object.hasOwn(def.fields, sq.groupBy))
      throw badRequest(`cannot group by '${sq.groupBy}'`);
    const m = METRIC_SQL[sq.metric];
    const stepUs = Math.round(sq.step * 1e6);
    if (!(stepUs > 0)) throw badRequest('step must be positive');
    const t = def.timeField;
    const gt = sq.groupBy ? def.fields[sq.groupBy]!.type : 'string';
    const g = sq.groupBy ? outExpr(col(sq.groupBy, def), gt) : null;
    const conds = this.where(def, sq);
    const sql =
      this.rollupSource(sq, stepUs) ??
      `SELECT intDiv(${t}, ${stepUs}) * ${stepUs} AS b, ${g ? `${g} AS g, ` : ''}${m.num} AS num, ${m.den} AS den FROM ${this.source(def)}${
        conds.length ? ` WHERE ${conds.join(' AND ')}` : ''
      } GROUP BY b${g ? ', g' : ''} ORDER BY b LIMIT ${MAX_GROUP_ROWS + 1}`;
    const got = await rows(this.q, sql, this.opts);
    if (got.length > MAX_GROUP_ROWS)
      throw badRequest(
        `too many points (over ${MAX_GROUP_ROWS}); use a larger step, a shorter range or a coarser group_by`,
      );
    return seriesFromParts(
      seriesParts(got, g !== null, (v) => fromText(gt, v as string | null)),
      sq,
      m.unit,
    );
  }

  /** A quantile (or max) of a per-flow metric per bucket; groups ranked by flows measured. */
  private async statSeries(def: AnyRecordDef, sq: SeriesQuery, stat: SeriesStat): Promise<Series> {
    if (!PER_FLOW_METRICS.includes(sq.metric))
      throw badRequest(`stat ${stat} applies to ${PER_FLOW_METRICS.join(' and ')}, not to ${sq.metric}`);
    if (sq.groupBy && !Object.hasOwn(def.fields, sq.groupBy))
      throw badRequest(`cannot group by '${sq.groupBy}'`);
    const stepUs = Math.round(sq.step * 1e6);
    const conds = this.where(def, sq);
    const f = col(sq.metric, def);
    conds.push(`isNotNull(${f})`);
    const p = Number(stat.slice(1)) / 100;
    // 18.16 has no exact interpolating quantile: quantile() samples 8192 values per bucket
    // (exact below that). Current servers use quantileExactInclusive, DuckDB's quantile_cont.
    const agg =
      stat === 'max'
        ? `max(${f})`
        : this.features.exactQuantile
          ? `quantileExactInclusive(${p})(assumeNotNull(${f}))`
          : `quantile(${p})(assumeNotNull(${f}))`;
    const t = def.timeField;
    const gt = sq.groupBy ? def.fields[sq.groupBy]!.type : 'string';
    const g = sq.groupBy ? outExpr(col(sq.groupBy, def), gt) : null;
    const sql = `SELECT intDiv(${t}, ${stepUs}) * ${stepUs} AS b, ${g ? `${g} AS g, ` : ''}${agg} AS v, count() AS n FROM ${this.source(def)} WHERE ${conds.join(
      ' AND ',
    )} GROUP BY b${g ? ', g' : ''} ORDER BY b LIMIT ${MAX_GROUP_ROWS + 1}`;
    const got = await rows(this.q, sql, this.opts);
    if (got.length > MAX_GROUP_ROWS)
      throw badRequest(`too many points (over ${MAX_GROUP_ROWS}); use a larger step or a shorter range`);
    return statSeriesFromParts(
      statParts(got, g !== null, (v) => fromText(gt, v as string | null)),
      sq,
      stat,
      METRIC_SQL[sq.metric].unit,
    );
  }

  async top(tq: TopQuery): Promise<TopRow[]> {
    const def = this.def(tq.type);
    if (!def) return [];
    if (!Object.hasOwn(def.fields, tq.dim))
      throw badRequest(`cannot rank by '${tq.dim}': not a field of ${def.type}`);
    // A flow's two directions, or a collected flow's one (`bytes`, `packets`).
    const has = (f: string): boolean => Object.hasOwn(def.fields, f);
    // A metered flow kept 1 in N by a mirror stands for N (FLOW_WEIGHT); a collected flow's
    // sampling rate is its exporter's, already in its counts.
    const w = def.type === 'flow' && has('sampling_rate') ? FLOW_WEIGHT : null;
    const weigh = (e: string): string => (w ? `(${e}) * ${w}` : e);
    const sumOf = (a: string, b: string, one: string): string =>
      has(a) && has(b)
        ? `sum(${weigh(`ifNull(${a}, 0) + ifNull(${b}, 0)`)})`
        : has(one)
          ? `sum(${weigh(`ifNull(${one}, 0)`)})`
          : '0';
    const bytes = sumOf('client_wire_bytes', 'server_wire_bytes', 'bytes');
    const packets = sumOf('client_packets', 'server_packets', 'packets');
    const t = def.fields[tq.dim]!.type;
    const order = `ORDER BY ${tq.by} DESC, flows DESC LIMIT ${Math.floor(tq.limit)}`;
    const rolled = this.topFromRollup(tq, order);
    if (rolled) {
      return (await rows(this.q, rolled, this.opts)).map((r) => ({
        key: (r[0] === '1' ? null : fromText('ip', r[1] ?? null)) as TopRow['key'],
        bytes: Number(r[2] ?? 0),
        packets: Number(r[3] ?? 0),
        flows: Number(r[4] ?? 0),
      }));
    }
    const conds = this.where(def, tq);
    // Grouped by the stored column (addresses as 16 bytes); only the winners become text. The
    // Distributed table merges the shards' partial aggregates before ranking: exact.
    const d = col(tq.dim, def);
    const sql = `SELECT ${outExpr(d, t)} AS k, ${bytes} AS bytes, ${packets} AS packets, ${w ? `sum(${w})` : 'count()'} AS flows FROM ${this.source(def)}${
      conds.length ? ` WHERE ${conds.join(' AND ')}` : ''
    } GROUP BY ${d} ${order}`;
    return (await rows(this.q, sql, this.opts)).map((r) => ({
      key: fromText(t, r[0] ?? null) as TopRow['key'],
      bytes: Number(r[1] ?? 0),
      packets: Number(r[2] ?? 0),
      flows: Number(r[3] ?? 0),
    }));
  }

  /**
   * A flow top-N by a rolled-up address with no filter: whole hours of the range from the
   * hourly rollup, the partial hours at either end from the flows, summed per address before
   * ranking, so the answer is the raw rows' answer exactly. Null when the query needs raw rows.
   */
  private topFromRollup(tq: TopQuery, order: string): string | null {
    if (tq.type !== 'flow' || tq.filter || !this.rollupDef()) return null;
    if (!(TOP_DIMS as readonly string[]).includes(tq.dim)) return null;
    const h1 = tq.after === undefined ? undefined : Math.ceil(tq.after / HOUR_US) * HOUR_US;
    const h2 = tq.before === undefined ? undefined : Math.floor(tq.before / HOUR_US) * HOUR_US;
    if (h1 !== undefined && h2 !== undefined && h1 >= h2) return null;
    const roll = this.cfg.cluster
      ? `${this.db}.${topRollup(tq.dim)}`
      : `${this.db}.${topRollup(tq.dim)}_local`;
    const rc: string[] = [];
    if (h1 !== undefined) rc.push(`hour >= ${h1}`);
    if (h2 !== undefined) rc.push(`hour < ${h2}`);
    const parts = [
      `SELECT kn, k, sum(bytes) AS bytes, sum(packets) AS packets, sum(flows) AS flows FROM ${roll}${
        rc.length ? ` WHERE ${rc.join(' AND ')}` : ''
      } GROUP BY kn, k`,
    ];
    const raw = (lo: number, hi: number) =>
      `SELECT isNull(${tq.dim}) AS kn, assumeNotNull(${tq.dim}) AS k, sum((ifNull(client_wire_bytes, 0) + ifNull(server_wire_bytes, 0)) * ${FLOW_WEIGHT}) AS bytes, sum((ifNull(client_packets, 0) + ifNull(server_packets, 0)) * ${FLOW_WEIGHT}) AS packets, toUInt64(sum(${FLOW_WEIGHT})) AS flows FROM ${this.table(this.def('flow')!)} WHERE first_ts >= ${lo} AND first_ts < ${hi} GROUP BY kn, k`;
    if (tq.after !== undefined && h1! > tq.after) parts.push(raw(Math.round(tq.after), h1!));
    if (tq.before !== undefined && h2! < tq.before) parts.push(raw(h2!, Math.round(tq.before)));
    return `SELECT kn, hex(k), sum(bytes) AS bytes, sum(packets) AS packets, sum(flows) AS flows FROM (${parts.join(
      ' UNION ALL ',
    )}) GROUP BY kn, k ${order}`;
  }

  async distinct(
    type: string,
    field: string,
    dq: TimeRange & { filter?: Cond | null; limit: number },
  ): Promise<{ value: unknown; first: string; last: string; count: number }[]> {
    const def = this.def(type);
    if (!def || !Object.hasOwn(def.fields, field)) return [];
    const f = col(field, def);
    const conds = [...this.where(def, dq), `isNotNull(${f})`];
    const t = def.timeField;
    const ft = def.fields[field]!.type;
    const sql = `SELECT ${outExpr(f, ft)} AS v, min(${t}), max(${t}), count() AS n FROM ${this.source(def)} WHERE ${conds.join(
      ' AND ',
    )} GROUP BY v ORDER BY n DESC LIMIT ${Math.floor(dq.limit)}`;
    return (await rows(this.q, sql, this.opts)).map((r) => ({
      value: fromText(ft, r[0] ?? null),
      first: microsToIso(Number(r[1])),
      last: microsToIso(Number(r[2])),
      count: Number(r[3]),
    }));
  }

  /** Drop day partitions older than retentionDays on every shard; returns (type, day)s dropped. */
  async enforceRetention(now = Date.now()): Promise<number> {
    const days = this.cfg.retentionDays ?? 0;
    if (days <= 0) return 0;
    const cutoff = Number(new Date(now - days * 86_400_000).toISOString().slice(0, 10).replaceAll('-', ''));
    const tables = this.defs.filter((d) => !d.key).map((d) => `${d.type}_local`);
    const rollups = [`${ROLLUP}_local`, ...TOP_DIMS.map((d) => `${topRollup(d)}_local`)];
    if (this.rollupDef()) tables.push(...rollups);
    const seen = new Set<string>();
    for (const n of this.shards) {
      const parts = await rows(
        n,
        `SELECT DISTINCT table, partition FROM system.parts WHERE active AND database = '${this.db}' AND table IN (${tables
          .map((t) => `'${t}'`)
          .join(', ')})`,
        this.opts,
      );
      for (const [table, partition] of parts) {
        const day = Number(partition);
        if (!Number.isInteger(day) || day >= cutoff) continue;
        await exec(n, `ALTER TABLE ${this.db}.${table} DROP PARTITION ${day}`, this.opts);
        if (!rollups.includes(table ?? '')) seen.add(`${table}/${day}`);
      }
    }
    this.dropped += seen.size;
    return seen.size;
  }

  async stats(): Promise<StoreStats> {
    const rowsByType: Record<string, number> = {};
    for (const def of this.defs) rowsByType[def.type] = await this.count(def.type, {});
    let bytes = 0;
    let partitions = 0;
    for (const n of this.shards) {
      const r = await rows(
        n,
        `SELECT sum(bytes), uniqExact(table, partition) FROM system.parts WHERE active AND database = '${this.db}'`,
        this.opts,
      );
      bytes += Number(r[0]?.[0] ?? 0);
      partitions += Number(r[0]?.[1] ?? 0);
    }
    return {
      appended: { ...this.appended },
      batches: this.batches,
      rows: rowsByType,
      bytesOnDisk: bytes,
      partitions,
      droppedPartitions: this.dropped,
    };
  }

  /** Merge parts now (OPTIMIZE … FINAL on every shard): tests use it as the compaction step. */
  async optimize(): Promise<void> {
    for (const n of this.shards) {
      for (const def of this.defs)
        await exec(n, `OPTIMIZE TABLE ${localTable(this.db, def)} FINAL`, this.opts);
    }
  }

  /** Drop the database on every shard (tests and benchmarks). */
  async dropAll(): Promise<void> {
    for (const n of this.shards) await exec(n, `DROP DATABASE IF EXISTS ${this.db}`, this.opts);
  }
}

const ROLLUP_METRIC: Record<SeriesQuery['metric'], { num: string; den: string }> = {
  bps: { num: 'sum(bytes) * 8', den: 'sum(flows)' },
  pps: { num: 'sum(packets)', den: 'sum(flows)' },
  flows: { num: 'sum(flows)', den: 'sum(flows)' },
  rtt_ms: { num: 'sum(rtt_sum)', den: 'sum(rtt_n)' },
  srt_ms: { num: 'sum(srt_sum)', den: 'sum(srt_n)' },
  retrans_rate: { num: 'sum(retrans)', den: 'sum(packets)' },
};

const METRIC_SQL: Record<SeriesQuery['metric'], { num: string; den: string; unit: string }> = {
  bps: {
    num: `sum((ifNull(client_wire_bytes, 0) + ifNull(server_wire_bytes, 0)) * ${FLOW_WEIGHT}) * 8`,
    den: `sum(${FLOW_WEIGHT})`,
    unit: 'bit/s',
  },
  pps: {
    num: `sum((ifNull(client_packets, 0) + ifNull(server_packets, 0)) * ${FLOW_WEIGHT})`,
    den: `sum(${FLOW_WEIGHT})`,
    unit: 'packets/s',
  },
  flows: { num: `sum(${FLOW_WEIGHT})`, den: `sum(${FLOW_WEIGHT})`, unit: 'flows/s' },
  rtt_ms: { num: 'sum(ifNull(rtt_ms, 0))', den: 'count(rtt_ms)', unit: 'ms' },
  srt_ms: { num: 'sum(ifNull(srt_ms, 0))', den: 'count(srt_ms)', unit: 'ms' },
  retrans_rate: {
    num: `sum((ifNull(client_retransmissions, 0) + ifNull(server_retransmissions, 0)) * ${FLOW_WEIGHT})`,
    den: `sum((ifNull(client_packets, 0) + ifNull(server_packets, 0)) * ${FLOW_WEIGHT})`,
    unit: 'ratio',
  },
};

/** FNV-1a: stable across processes, so a key keeps its shard. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
