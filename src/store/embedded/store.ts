import './allocator.js';
import { closeSync, fsyncSync, openSync, statSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import duckdb from '@duckdb/node-bindings';
import { parseBytes } from '../../common/budget.js';
import { badRequest, ConfigError } from '../../common/errors.js';
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
import { bigintToIp, microsToIso, numberToMac } from '../values.js';
import { ChunkWriter } from './chunk-writer.js';
import {
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBDataChunk,
  DuckDBInstance,
  DuckDBTableFunction,
  listValue,
  UBIGINT,
  VARCHAR,
} from './duckdb.js';
import {
  columnsOf,
  createTableSql,
  liveGenTable,
  liveTable,
  PARQUET_FORMAT,
  parquetOptions,
  parquetRead,
  parquetSelect,
  q,
} from './schema.js';
import { col, condSql, Params } from './sql.js';
import {
  DEFAULT_TOP_ROLLUPS,
  LIVE_CHUNK_ROWS,
  liveRollupInsertSql,
  liveRollupTable,
  MINUTE_US,
  topMeasures,
  topRollupCreateSql,
  topRollupFromLiveSql,
  topRollupInsertSql,
  topRollupTable,
  topTotalCreateSql,
  topTotalMergeSql,
  topTotalRebuildSql,
  topTotalTable,
  wholeMinutes,
} from './top-rollup.js';

export interface EmbeddedConfig {
  /** The data directory: records.duckdb plus parquet/<type>/<day>/*.parquet. */
  dataDir: string;
  /**
   * Live rows of a type that trigger its compaction into Parquet (default 2M): every day,
   * today included, so a high-rate type's live table stays bounded. It runs beside the
   * appends on its own connection; appends are not held while a file is written.
   */
  compactRows?: number;
  /** Rows per Parquet row group a compaction writes (default PARQUET_ROW_GROUP_ROWS, schema.ts). */
  compactRowGroup?: number;
  /** Drop partitions whose newest record is older than this many days (0 = keep). */
  retentionDays?: number;
  /** Drop oldest partitions until the store is under this many bytes (0 = no limit). */
  retentionBytes?: number;
  /** DuckDB worker threads (default: CPU count). */
  threads?: number;
  /**
   * DuckDB's memory limit in bytes (its buffer pool, sorts, hash tables). Without it DuckDB
   * takes 80% of the machine's RAM, outside any budget the process keeps.
   */
  memoryLimit?: number;
  /** Reader connections (default 4). */
  readers?: number;
  /**
   * WAL size past which the store checkpoints (see `checkpointIfDue`). Appends are durable
   * once in the fsynced WAL either way. Rows appended since the last checkpoint are held uncompressed in
   * DuckDB's memory (spilled to temporary files past its limit), so the default is a quarter
   * of `memoryLimit` (16MB..1GB; 1GB without a limit): measured at 1.5M flow rows, 1GB held
   * 262MB in memory plus 221MB spilled, 64MB held 23MB for no more CPU per row.
   */
  walCheckpoint?: string;
  /**
   * Column appends through an in-memory staging table and an INSERT on DuckDB's threads, so
   * the event loop is not blocked while DuckDB writes (measured: 62% instead of 100% busy,
   * but ~25% more CPU per row); default false: the appender's synchronous flush.
   * `'while-reading'`: staged only while queries run or ran in the last `READ_ACTIVE_MS`, so a
   * store that serves an API answers between commits (a synchronous commit of 50k collected
   * rows holds the event loop, where the API answers, for 0.3 s on an idle machine and seconds
   * on a loaded one), and a store nobody asks keeps the cheaper synchronous flush.
   */
  stagedAppend?: boolean | 'while-reading';
  /**
   * Compress the live table's rows (default false). Live rows are compacted into zstd Parquet
   * once a type has `compactRows` of them, so compressing them first is work done twice:
   * measured on 45-column collected flows, DuckDB's analyse-and-compress was 40% of its append
   * CPU, for 141 instead of 31 bytes per live row on disk until compaction.
   */
  liveCompression?: boolean;
  /**
   * How long a commit waits for the queries already running to finish, ms (default 500; 0:
   * never). While a source offers more than the store takes, commits follow each other with no
   * gap and a query waits for DuckDB's locks between them; this bounds a query's wait at about
   * one commit, at the cost of fewer rows stored per second while queries run.
   */
  readPriorityMs?: number;
  /**
   * Held column appends (`appendColumnParts(…, { hold: true })`) commit once this many rows
   * are held (default `COMMIT_ROWS`, one DuckDB row group)…
   */
  commitRows?: number;
  /** …or this long after the first of them was held, ms (default `COMMIT_DELAY_MS`). */
  commitDelayMs?: number;
  /**
   * Held column appends made while nobody queries: held in an open transaction until
   * `commitRows` (true, the default), or committed at once (false). The open transaction and the
   * row group a source must run ahead for it cost memory a tight budget may not have. While
   * queries run (`stagedAppend: 'while-reading'`) held appends gather in the staging table either
   * way: there a commit per batch costs ~40% more CPU per row than one per row group.
   */
  holdWhileIdle?: boolean;
  /** More DuckDB settings by name (after the store's own, so they win): for measurements. */
  duckdbSettings?: Record<string, string>;
  /**
   * Dimensions whose per-minute sums (flows, bytes, packets per key) are kept for each
   * compacted partition, by record type, so a top-N over them reads those sums instead of
   * every row (top-rollup.ts). Default: `flow` client_ip, server_ip, server_port, app;
   * `exported_flow` src_ip, dst_ip, dst_port, proto. `{}` keeps none.
   */
  topRollups?: Readonly<Record<string, readonly string[]>>;
  /**
   * New live rows of a rolled-up type that are summed into a live chunk (default 131,072): a
   * top-N reads about this many raw live rows at most, the rest from sums.
   */
  liveChunkRows?: number;
  /** Rows a staged commit fills per turn of the event loop (default 32,768). */
  stageSliceRows?: number;
  /**
   * Column commits as an `INSERT … SELECT` over a table function that DuckDB scans on its own
   * threads (default true): this thread only fills each 2,048-row chunk when DuckDB asks for
   * it, and DuckDB's append, its statistics and the commit (the WAL) run beside it. false: the
   * appender's synchronous flush, where all of that ran on this thread.
   */
  insertFeed?: boolean;
}

/**
 * DuckDB's allocator (jemalloc inside the library) beside its memory_limit, which bounds the
 * buffer pool only. The appender's commits run on the calling thread (Node's main thread), not
 * on a DuckDB worker, so DuckDB's purge after a task never reaches that thread's arena: the
 * background threads purge every arena by time, a lower flush threshold purges the workers'
 * after smaller tasks, and a freed checkpoint or compaction buffer (tens of MB) is returned at
 * once instead of past 512 MiB. Measured with test/load/store-memory.ts (3M collected rows,
 * 51,200 per commit, four top-10 queries alongside): peak RSS 538–659 MB before, 494–500 MB
 * after, rows per CPU-second within the machine's noise.
 *
 * `perfect_ht_threshold` 0: a top-10 running beside commits failed with "Perfect hash
 * aggregate: aggregate group 255 exceeded total groups 4" (DuckDB 1.5.5 planned a perfect
 * hash table from statistics the concurrent append had not updated yet); the ordinary hash
 * aggregate reads no statistics.
 */
const ALLOCATOR_SETTINGS = {
  allocator_background_threads: 'true',
  allocator_flush_threshold: '8MB',
  allocator_bulk_deallocation_flush_threshold: '16MB',
  perfect_ht_threshold: '0',
};

interface Partition {
  type: string;
  path: string;
  minTs: number;
  maxTs: number;
  rows: number;
  bytes: number;
  maxSeq: number;
  /** Shared by every partition of the same columns (`columnSet`): never mutated. */
  columns: ReadonlySet<string>;
  /** Parquet file format (schema.ts); kept in the manifest's column list as `@N`. */
  format: number;
}

const MAX_GROUP_ROWS = 200_000;
/** Rows filled into a staged commit's temp table per turn of the event loop. */
const STAGE_SLICE = 32_768;

/**
 * Held column appends commit at one DuckDB row group (122,880 rows): from there DuckDB writes
 * the transaction's row groups to the file as they fill and the commit only links them, instead
 * of logging every row in the WAL, keeping it in memory and writing it again at a checkpoint.
 */
export const COMMIT_ROWS = 122_880;
/** How long held rows wait for more before they commit anyway, ms. */
export const COMMIT_DELAY_MS = 1500;
/** A hold of several types commits once it holds this many times `commitRows` in all. */
const HOLD_TYPES_ROWS = 3;

/** Column appends held for one commit (`holdColumns`). */
interface Hold {
  /** The type that opened it (a staged hold holds no other). */
  type: string;
  /** `tx`: in an open transaction on the live tables; `stage`: in the temp staging table. */
  kind: 'tx' | 'stage';
  rows: number;
  /** Rows held by type. */
  types: Map<string, number>;
  waiters: { resolve: () => void; reject: (e: unknown) => void }[];
  timer: NodeJS.Timeout | null;
}
const newHold = (type: string, kind: Hold['kind']): Hold => ({
  type,
  kind,
  rows: 0,
  types: new Map(),
  waiters: [],
  timer: null,
});

/**
 * With `stagedAppend: 'while-reading'`, how long after the last query commits stay staged: a
 * dashboard or a load generator asks every few seconds at most, and one synchronous commit
 * between two of its requests would hold the next one.
 */
const READ_ACTIVE_MS = 5000;

/** How long a forced checkpoint waits for the open reads to end (new ones wait meanwhile). */
const FORCE_WAIT_MS = 5_000;
/** After a forced checkpoint was put off, plain ones only for this long. */
const FORCE_RETRY_MS = 30_000;

/** The checkpoint threshold: a quarter of DuckDB's memory limit, 16MB..1GB (see `walCheckpoint`). */
export function defaultWalCheckpoint(memoryLimit: number | undefined): string {
  if (!memoryLimit) return '1GB';
  return `${Math.max(16, Math.min(1024, Math.floor(memoryLimit / 4 / 2 ** 20)))}MB`;
}
/**
 * A WAL size DuckDB never reaches, so it never checkpoints inside a commit. DuckDB 1.5 lets
 * inserting commits run while a checkpoint runs, and 1.5.5 then sometimes checkpointed a row
 * group with an append in progress: "Failed to create checkpoint because of error: Corrupted
 * in-memory column - column with index 0 has misaligned count (row group has 121920 rows,
 * column has 138304)", after which it invalidated the database (every query failed until a
 * restart). Met in 600-s soaks of `vantage start` under a saturating collector.
 */
const NO_AUTO_CHECKPOINT = '1000TB';
/** DuckDB's out-of-memory errors (its buffer pool could not give a block). */
const OUT_OF_MEMORY = /Out of Memory|failed to pin block|could not allocate block/i;
/** The size of a store's DuckDB WAL, bytes (0 when there is none). */
const walBytes = (dataDir: string): number =>
  statSync(join(dataDir, 'records.duckdb.wal'), { throwIfNoEntry: false })?.size ?? 0;
const stageTable = (def: AnyRecordDef): string => `stage_${def.type}`;
const DAY_US = 86_400_000_000;
/** The day of a row, as compaction partitions rows (a row without a time goes to day 0). */
const dayOf = (def: AnyRecordDef): string =>
  `CAST(epoch_us(COALESCE(${q(def.timeField)}, TIMESTAMP '1970-01-01')) // ${DAY_US} AS BIGINT)`;

export function createEmbeddedStore(
  cfg: EmbeddedConfig,
  deps: { defs?: readonly AnyRecordDef[]; log?: Logger; onStep?: StepHook } = {},
): EmbeddedStore {
  return new EmbeddedStore(cfg, deps.defs ?? ALL_RECORDS, deps.log ?? createLogger('store'), deps.onStep);
}

/**
 * The steps of a rotation and a compaction, in order, where `onStep` is called (tests stop the
 * process at each to check that a restart keeps every acknowledged row exactly once).
 */
export const STORE_STEPS = [
  'rotate:begun',
  'rotate:committed',
  'compact:begun',
  'compact:rolled',
  'compact:copied',
  'compact:renamed',
  'compact:uncommitted',
  'compact:committed',
  'compact:checkpointed',
] as const;
export type StoreStep = (typeof STORE_STEPS)[number];
/** Called at each step with the record type; a returned promise holds the step (tests). */
export type StepHook = (step: StoreStep, type: string) => void | Promise<void>;

/**
 * The embedded record store: DuckDB for the live (recent) rows of each record type, with
 * older rows compacted into zstd Parquet files listed in a manifest table. Queries read the
 * live tables and only the Parquet files whose time span overlaps the asked range.
 *
 * Live generations: a type's appends go to its newest live table (`live_flow__7`); once that
 * holds `compactRows` rows the next append goes to a fresh one, and the closed one is copied
 * to Parquet and then dropped whole. Deleting two million rows from the table the appends
 * went on writing to, and checkpointing those deletions, had held the appends for 15–30 s. The
 * generations are listed in `_live`, which changes in the same transactions as the tables, so
 * a query's snapshot names exactly the tables it may read, and a restart finds closed ones
 * still to compact.
 *
 * Durability: an append resolves after the appender's flush committed to DuckDB's WAL.
 * Compaction writes the files and renames them into place, then records them, moves the
 * rollups and drops the generation in one transaction; files not in the manifest after a
 * crash are removed at start, so every acknowledged row is in exactly one place.
 */
export class EmbeddedStore implements RecordStore {
  readonly backend = 'embedded-duckdb';
  private db: DuckDBInstance | null = null;
  private w: DuckDBConnection | null = null;
  private readonly pool: DuckDBConnection[] = [];
  private readonly waiters: ((c: DuckDBConnection) => void)[] = [];
  private readonly appenders = new Map<string, { app: DuckDBAppender; writer: ChunkWriter }>();
  private readonly byType: Map<string, AnyRecordDef>;
  private partitions: Partition[] = [];
  private readonly liveRows = new Map<string, number>();
  /** Live generations by type, oldest first: the last takes the appends, the others are closed. */
  private readonly gens = new Map<string, number[]>();
  /** Rows of a type's newest generation. */
  private readonly genRows = new Map<string, number>();
  /** The last `_seq` of each closed generation, by type: live chunks never span two. */
  private readonly genEnd = new Map<string, Map<number, number>>();
  private readonly appended: Record<string, number> = {};
  private batches = 0;
  private dropped = 0;
  private seq = 1;
  /** Bumped by every change of the stored rows; cached results of older generations are stale. */
  private generation = 0;
  private readonly cache = new Map<string, Flight>();
  private chain: Promise<unknown> = Promise.resolve();
  private readonly compactRows: number;
  /** The compaction running beside the appends (one at a time), on its own connection. */
  private compacting: Promise<void> | null = null;
  /** The WAL size that makes the next append checkpoint, bytes (`walCheckpoint`). */
  private readonly walLimit: number;
  /** The tail of the writes that exclude a checkpoint on the compaction's connection (`exclusive`). */
  private gate: Promise<unknown> = Promise.resolve();
  /** Checkpoints run, put off while queries needed older rows (`busy`), failed; time (ms). */
  readonly checkpoints = { runs: 0, busy: 0, failed: 0, forced: 0, ms: 0, maxMs: 0 };
  private cw: DuckDBConnection | null = null;
  /** Rolled-up top-N dimensions by record type (validated). */
  private readonly topDims = new Map<string, readonly string[]>();
  /** The last `_seq` of a type's live rows summed into its live chunk rollups. */
  private readonly liveRolled = new Map<string, number>();

  constructor(
    private readonly cfg: EmbeddedConfig,
    readonly defs: readonly AnyRecordDef[],
    private readonly log: Logger,
    private readonly onStep?: StepHook,
  ) {
    this.byType = new Map(defs.map((d) => [d.type, d]));
    this.compactRows = cfg.compactRows ?? 2_000_000;
    const rg = cfg.compactRowGroup;
    if (rg !== undefined && !(Number.isInteger(rg) && rg >= 2048))
      throw new ConfigError('compactRowGroup', `a whole number of rows, at least 2048 (got ${rg})`);
    this.walLimit = parseBytes('walCheckpoint', cfg.walCheckpoint ?? defaultWalCheckpoint(cfg.memoryLimit));
    for (const [type, dims] of Object.entries(cfg.topRollups ?? DEFAULT_TOP_ROLLUPS)) {
      const def = this.byType.get(type);
      // The defaults name types a store built with fewer definitions (tests) may not have.
      if (!def) {
        if (cfg.topRollups) throw new ConfigError(`topRollups.${type}`, 'not a record type');
        continue;
      }
      if (def.key) throw new ConfigError(`topRollups.${type}`, 'keyed records are not compacted');
      for (const d of dims)
        if (!Object.hasOwn(def.fields, d))
          throw new ConfigError(`topRollups.${type}`, `'${d}' is not a field of ${type}`);
      if (dims.length > 0) this.topDims.set(type, [...new Set(dims)]);
    }
  }

  get dataDir(): string {
    return this.cfg.dataDir;
  }

  async start(): Promise<void> {
    await mkdir(join(this.cfg.dataDir, 'parquet'), { recursive: true });
    this.db = await DuckDBInstance.create(join(this.cfg.dataDir, 'records.duckdb'), {
      threads: String(this.cfg.threads ?? Math.max(1, cpus().length)),
      preserve_insertion_order: 'false',
      // DuckDB's automatic checkpoint is off: the store runs its own (`checkpointIfDue`).
      checkpoint_threshold: NO_AUTO_CHECKPOINT,
      ...(this.cfg.liveCompression === true ? {} : { force_compression: 'uncompressed' }),
      ...(this.cfg.memoryLimit
        ? { memory_limit: `${Math.max(64, Math.floor(this.cfg.memoryLimit / 2 ** 20))}MB` }
        : {}),
      ...ALLOCATOR_SETTINGS,
      ...this.cfg.duckdbSettings,
    });
    this.w = await this.db.connect();
    if (this.cfg.insertFeed !== false) this.w.registerTableFunction(this.feedFunction());
    // Parquet is built in: no download.
    await this.w.run('LOAD parquet');
    // DuckDB's Parquet metadata cache stays off (its default, set in case that changes): it
    // keeps every decoded footer, also of parts retention deleted, in an LRU capped by an
    // *estimate* of their size against memory_limit, and the footers take ~4× that estimate in
    // the heap. 1,500 parts shaped like the store's (41 columns, 10 row groups), written, read
    // once and deleted, took RSS +567 MB with 134 MB accounted at a 192 MB limit, still rising
    // toward a cap of ~800 MB, past the whole budget; off, +39 MB, flat (bench/parquet-cache.ts).
    // Off, a query decodes each part's footer again: ~0.3 ms of CPU per part it reads.
    await this.w.run('SET GLOBAL parquet_metadata_cache = false');
    await this.w.run(
      'CREATE TABLE IF NOT EXISTS _partitions (type VARCHAR, path VARCHAR, min_ts BIGINT, max_ts BIGINT, rows BIGINT, bytes BIGINT, max_seq BIGINT, columns VARCHAR)',
    );
    await this.w.run('CREATE TABLE IF NOT EXISTS _live (type VARCHAR, gen BIGINT)');
    // The catalog is read once for every type (a query per table cost ~5 ms of CPU each, ~0.1
    // CPU-s at every start).
    const generations = new Map<string, number[]>();
    for (const [type, gen] of (
      await this.w.runAndReadAll('SELECT type, gen FROM _live ORDER BY type, gen')
    ).getRows()) {
      const t = String(type);
      const g = generations.get(t) ?? [];
      g.push(Number(gen));
      generations.set(t, g);
    }
    const columns = await this.tableColumns();
    for (const def of this.defs) {
      const listed = generations.get(def.type) ?? [];
      // A new store, or one from before generations: its one live table is generation 0.
      const gens = listed.length > 0 ? listed : [0];
      if (listed.length === 0) {
        await this.w.run(createTableSql(def));
        await this.w.run('INSERT INTO _live VALUES ($1, 0)', [def.type]);
      }
      const ends = new Map<number, number>();
      let total = 0;
      let end = 0;
      for (const g of gens) {
        const n = await this.migrateLive(def, liveGenTable(def, g), columns);
        total += n.rows;
        end = Math.max(end, n.maxSeq);
        this.seq = Math.max(this.seq, n.maxSeq + 1);
        if (g !== gens.at(-1)) ends.set(g, end);
        else this.genRows.set(def.type, n.rows);
      }
      this.gens.set(def.type, gens);
      this.genEnd.set(def.type, ends);
      this.liveRows.set(def.type, total);
      this.appended[def.type] ??= 0;
    }
    await this.w.run(`CREATE TABLE IF NOT EXISTS ${ROLLUP} (${ROLLUP_COLS})`);
    for (const [type, dims] of this.topDims) {
      const def = this.byType.get(type)!;
      for (const d of dims) {
        for (const sql of topRollupCreateSql(def, d)) await this.w.run(sql);
        // A store from before the totals: summed once from the partitions' rollup rows. (The
        // tables made since the catalog was read are other names: the answer is the same.)
        if (!columns.has(topTotalTable(def, d))) this.totalsStale.add(`${type}/${d}`);
        await this.w.run(topTotalCreateSql(def, d));
      }
      // Live chunks: every rolled-up dimension is written in one transaction, so one tells.
      const r = await this.w.runAndReadAll(
        `SELECT coalesce(max(hi), 0) FROM ${liveRollupTable(def, dims[0]!)}`,
      );
      this.liveRolled.set(type, Number(r.getRows()[0]![0]));
      const c = await this.w.runAndReadAll(
        `SELECT count(DISTINCT hi) FROM ${liveRollupTable(def, dims[0]!)}`,
      );
      this.liveChunks.set(type, Number(c.getRows()[0]![0]));
    }
    await this.loadPartitions();
    await this.backfillRollups();
    await this.backfillTopRollups();
    for (const [type, dims] of this.topDims)
      for (const d of dims)
        if (this.totalsStale.has(`${type}/${d}`))
          for (const sql of topTotalRebuildSql(this.byType.get(type)!, d)) await this.w.run(sql);
    this.totalsStale.clear();
    for (let i = 0; i < (this.cfg.readers ?? 4); i++) {
      const c = await this.db.connect();
      this.connGen.set(c, this.dbGen);
      this.pool.push(c);
    }
    this.cw = await this.db.connect();
    this.loop = monitorEventLoopDelay({ resolution: 20 });
    this.loop.enable();
    // The WAL replayed into memory: checkpointed now if it is past the threshold, not at the
    // first append (which may not fit beside it).
    await this.checkpointIfDue();
    // Generations closed before a stop or a crash are compacted now, beside the appends.
    for (const def of this.defs) this.maintain(def);
  }

  /**
   * Rebuild a live table whose columns are not the registry's (fields were added: the appender
   * writes columns by position; old rows get NULL for the new fields). Its rows and last `_seq`.
   */
  private async migrateLive(
    def: AnyRecordDef,
    t: string,
    columns: ReadonlyMap<string, readonly string[]>,
  ): Promise<{ rows: number; maxSeq: number }> {
    const w = this.w!;
    // A table made after the catalog was read (a new type or store) has the registry's columns.
    const names = columns.get(t) ?? [...columnsOf(def).map((c) => c.name), '_seq'];
    const want = [...columnsOf(def).map((c) => c.name), '_seq'];
    if (names.join(',') !== want.join(',')) {
      const had = new Set(names);
      const sel = columnsOf(def)
        .map((c) => (had.has(c.name) ? q(c.name) : `CAST(NULL AS ${c.sqlType}) AS ${q(c.name)}`))
        .concat('_seq');
      await w.run('BEGIN TRANSACTION');
      await w.run(`CREATE TABLE ${t}__new AS SELECT ${sel.join(', ')} FROM ${t}`);
      await w.run(`DROP TABLE ${t}`);
      await w.run(`ALTER TABLE ${t}__new RENAME TO ${t}`);
      await w.run('COMMIT');
    }
    const r = await w.runAndReadAll(`SELECT count(*), coalesce(max(_seq), 0) FROM ${t}`);
    const row = r.getRows()[0]!;
    return { rows: Number(row[0]), maxSeq: Number(row[1]) };
  }

  /** Every table of the main schema and its columns in order, in one catalog query. */
  private async tableColumns(): Promise<Map<string, string[]>> {
    const r = await this.w!.runAndReadAll(
      "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main' AND NOT internal ORDER BY table_name, column_index",
    );
    const m = new Map<string, string[]>();
    for (const [t, c] of r.getRows()) {
      const a = m.get(String(t)) ?? [];
      a.push(String(c));
      m.set(String(t), a);
    }
    return m;
  }

  /** The table of a type's newest live generation (the one appends go to). */
  private current(def: AnyRecordDef): string {
    return liveGenTable(def, this.gens.get(def.type)?.at(-1) ?? 0);
  }

  /**
   * Close a type's newest generation: the appends go on at once into a fresh table (in the
   * serial chain, so no append is half in either), and the closed one waits for `maintain`.
   */
  private async rotate(def: AnyRecordDef): Promise<void> {
    const gens = this.gens.get(def.type)!;
    const next = gens.at(-1)! + 1;
    const w = this.w!;
    await w.run('BEGIN TRANSACTION');
    try {
      await w.run(createTableSql(def, liveGenTable(def, next)));
      await w.run('INSERT INTO _live VALUES ($1, $2)', [def.type, next]);
      await this.step('rotate:begun', def.type);
      await w.run('COMMIT');
    } catch (e) {
      await w.run('ROLLBACK').catch(() => undefined);
      throw e;
    }
    const a = this.appenders.get(def.type);
    if (a) {
      this.appenders.delete(def.type);
      a.app.closeSync();
    }
    this.genEnd.get(def.type)!.set(gens.at(-1)!, this.seq - 1);
    gens.push(next);
    this.genRows.set(def.type, 0);
    this.rotations++;
    await this.step('rotate:committed', def.type);
  }
  /** Generations closed so far (counted for the store's figures). */
  rotations = 0;

  private async step(step: StoreStep, type: string): Promise<void> {
    if (this.onStep) await this.onStep(step, type);
  }

  private async loadPartitions(): Promise<void> {
    const r = await this.w!.runAndReadAll(
      'SELECT type, path, min_ts, max_ts, rows, bytes, max_seq, columns FROM _partitions',
    );
    const parts: Partition[] = [];
    for (const row of r.getRows()) {
      const p: Partition = {
        type: String(row[0]),
        path: String(row[1]),
        minTs: Number(row[2]),
        maxTs: Number(row[3]),
        rows: Number(row[4]),
        bytes: Number(row[5]),
        maxSeq: Number(row[6]),
        columns: this.columnSet(
          String(row[7])
            .split(',')
            .filter((c) => !c.startsWith('@')),
        ),
        format: Number(/(?:^|,)@(\d+)/.exec(String(row[7]))?.[1] ?? 1),
      };
      try {
        await stat(join(this.cfg.dataDir, p.path));
        parts.push(p);
        this.seq = Math.max(this.seq, p.maxSeq + 1);
      } catch {
        this.log.warn('partition file missing; forgetting it', { path: p.path });
        await this.w!.run('DELETE FROM _partitions WHERE path = $1', [p.path]);
        await this.w!.run(`DELETE FROM ${ROLLUP} WHERE path = $1`, [p.path]);
        await this.deleteTopRollups(this.w!, p);
      }
    }
    this.partitions = parts.sort((a, b) => a.minTs - b.minTs);
    for (const p of parts) this.known.set(p.path, p);
    // Files a crash left behind before their manifest row was committed.
    const known = new Set(parts.map((p) => p.path));
    for (const f of await walk(join(this.cfg.dataDir, 'parquet'))) {
      const rel = relative(this.cfg.dataDir, f);
      if (!known.has(rel)) {
        this.log.warn('removing partition file not in the manifest (interrupted compaction)', { path: rel });
        await rm(f, { force: true });
      }
    }
  }

  /** Flow partitions compacted before rollups existed get theirs built from the file. */
  private async backfillRollups(): Promise<void> {
    const def = this.rollupDef();
    if (!def) return;
    const have = new Set(
      (await this.w!.runAndReadAll(`SELECT DISTINCT path FROM ${ROLLUP}`)).getRows().map((r) => String(r[0])),
    );
    for (const p of this.partitions) {
      if (p.type !== def.type || have.has(p.path)) continue;
      const file = `'${join(this.cfg.dataDir, p.path).replaceAll("'", "''")}'`;
      const src = `(SELECT ${parquetRead(def, p.columns, p.format)} FROM read_parquet(${file}))`;
      await this.w!.run(rollupInsertSql(src, 'TRUE'), [p.path]);
      this.compressNext = true;
    }
  }

  /** The top-N rollups of a partition go with it (retention, a missing file), and its totals. */
  private async deleteTopRollups(w: DuckDBConnection, p: { type: string; path: string }): Promise<void> {
    const def = this.byType.get(p.type);
    for (const d of (def && this.topDims.get(p.type)) || []) {
      for (const sql of topTotalMergeSql(def!, d, p.path, -1)) await w.run(sql);
      await w.run(`DELETE FROM ${topRollupTable(def!, d)} WHERE path = $1`, [p.path]);
      this.compressNext = true;
    }
  }
  /** Top-N totals to sum again from the rollup rows at start (`${type}/${dim}`). */
  private readonly totalsStale = new Set<string>();

  /**
   * Partitions compacted before a dimension was rolled up get its sums from their file (once:
   * a store upgraded with a large history pays one read of each file per new dimension).
   */
  private async backfillTopRollups(): Promise<void> {
    for (const [type, dims] of this.topDims) {
      const def = this.byType.get(type)!;
      for (const d of dims) {
        const t = topRollupTable(def, d);
        const have = new Set(
          (await this.w!.runAndReadAll(`SELECT DISTINCT path FROM ${t}`)).getRows().map((r) => String(r[0])),
        );
        for (const p of this.partitions) {
          if (p.type !== type || have.has(p.path)) continue;
          const file = `'${join(this.cfg.dataDir, p.path).replaceAll("'", "''")}'`;
          const src = `(SELECT ${parquetRead(def, p.columns, p.format)} FROM read_parquet(${file}))`;
          await this.w!.run(topRollupInsertSql(def, d, src, 'TRUE'), [p.path]);
          this.totalsStale.add(`${type}/${d}`);
          this.compressNext = true;
        }
      }
    }
  }

  /** The flow type when it has the fields the rollup sums (timeseries is over flows). */
  private rollupDef(): AnyRecordDef | undefined {
    const def = this.def('flow');
    return def && ROLLUP_FIELDS.every((f) => Object.hasOwn(def.fields, f)) ? def : undefined;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.serial(async () => {
      while (this.compacting) await this.compacting;
      for (const { app } of this.appenders.values()) app.closeSync();
      this.appenders.clear();
      for (const { app } of this.stages.values()) app.closeSync();
      this.stages.clear();
      if (this.w) await this.checkpointSql('CHECKPOINT');
    });
    this.loop?.disable();
    for (const c of this.pool) c.closeSync();
    this.pool.length = 0;
    // No read runs now: dropped files still waiting for one go (a crash leaves them to start).
    this.openReads.clear();
    await this.removeDoomed();
    this.cw?.closeSync();
    this.cw = null;
    this.mc?.closeSync();
    this.mc = null;
    this.w?.closeSync();
    this.db?.closeSync();
    this.w = null;
    this.db = null;
  }

  /** Writes and compactions run one at a time, in order. */
  private serial<T>(fn0: () => Promise<T> | T, holding?: string): Promise<T> {
    // Held rows commit before any other write (objects, compaction, stop; another type's
    // column hold only when the rows are staged, one type to a staging table).
    const fn = async (): Promise<T> => {
      if (this.needsReopen) await this.reopen();
      if (this.held && !(holding !== undefined && (this.held.kind === 'tx' || this.held.type === holding)))
        await this.commitHeld();
      return fn0();
    };
    const run = this.chain.then(fn, fn);
    this.chain = run.catch((e: unknown) => this.noticeFatal(e, true));
    return run;
  }

  /**
   * After a fatal error DuckDB invalidates the database: every statement fails until it is
   * opened again (a checkpoint that could not write, e.g. on a full disk, does it). The store
   * then opens it again at once, in the serial chain: the WAL replays every acknowledged row,
   * appends wait meanwhile, and a failed append was never acknowledged (its source retries).
   */
  private noticeFatal(e: unknown, write = false): void {
    if (this.needsReopen || this.stopping || !this.db) return;
    const m = String(e);
    if (/database has been invalidated|FATAL Error/.test(m))
      this.log.error('DuckDB invalidated the database; opening it again', { error: m.slice(0, 500) });
    else if (write && OUT_OF_MEMORY.test(m))
      // A write that ran out of DuckDB's memory can leave DuckDB 1.5.5's table with a column
      // longer than its row group (the next checkpoint then invalidates the database: reproduced
      // by bench/store-stress.ts), and every later append failing for the memory it kept.
      this.log.error('DuckDB ran out of memory in a write; opening the database again', {
        error: m.slice(0, 500),
      });
    else return;
    this.needsReopen = true;
    void this.serial(() => undefined).catch(() => undefined);
  }
  /** The database must be opened again before the next write or read (`noticeFatal`). */
  private needsReopen = false;
  /** Bumped at each reopening: a reader connection of an older one is closed, not pooled. */
  private dbGen = 0;
  /**
   * The opening each reader connection belongs to: a read that ends hands its connection on,
   * and one handed on just before a reopening must not come back into the new pool.
   */
  private readonly connGen = new WeakMap<DuckDBConnection, number>();
  /** Times the database was opened again after DuckDB invalidated it. */
  reopens = 0;

  /** In the serial chain: close everything and start again; tried again by the next write. */
  private async reopen(): Promise<void> {
    const gen = ++this.dbGen;
    this.failHeld(new Error('the database was invalidated before the held rows committed'));
    // Everything in flight fails fast on an invalidated database.
    while (this.compacting) await this.compacting.catch(() => undefined);
    const old = this.pool.splice(0);
    await Promise.allSettled([...this.reads]);
    for (const { app } of [...this.appenders.values(), ...this.stages.values()])
      try {
        app.closeSync();
      } catch {}
    this.appenders.clear();
    this.stages.clear();
    for (const c of [...old, this.cw, this.mc, this.w])
      try {
        c?.closeSync();
      } catch {}
    this.cw = null;
    this.mc = null;
    this.w = null;
    try {
      this.db?.closeSync();
    } catch {}
    this.db = null;
    this.loop?.disable();
    this.cache.clear();
    this.generation++;
    this.gate = Promise.resolve();
    try {
      await this.start();
    } catch (e) {
      this.log.error('the database could not be opened again; trying at the next write', {
        error: String(e),
      });
      throw e;
    }
    this.needsReopen = false;
    this.reopens++;
    for (const def of this.defs) this.maintain(def);
    this.log.info('database opened again', { reopens: this.reopens, gen });
    // Reads that waited for a connection meanwhile.
    while (this.waiters.length > 0 && this.pool.length > 0) this.waiters.shift()!(this.pool.pop()!);
  }

  private def(type: string): AnyRecordDef | undefined {
    return this.byType.get(type);
  }

  async append(type: string, records0: readonly Rec[]): Promise<void> {
    let records = records0;
    const def = this.def(type);
    if (!def) throw new Error(`unknown record type '${type}'`);
    if (records.length === 0) return;
    if (def.key) records = lastPerKey(records, def.key);
    await this.serial(async () => {
      await this.yieldToReads();
      if (def.key) await this.deleteKeys(def, def.key, records);
      const a = await this.appender(def);
      try {
        a.writer.append(a.app, records, this.seq);
        a.app.flushSync();
      } catch (e) {
        // A failed appender cannot be reused; the batch was not acknowledged.
        this.appenders.delete(type);
        try {
          a.app.closeSync();
        } catch {}
        throw e;
      }
      await this.appended_(def, records.length);
    });
  }

  /**
   * Append the selected rows of a columnar batch (no object per record). Durable when the
   * promise resolves, like `append`. Keyed types go through `append` (replace by key).
   */
  async appendColumns(type: string, c: Columnar): Promise<void> {
    return this.appendColumnParts(type, [c]);
  }

  /**
   * Append several columnar batches of one type as one commit, without first copying them
   * into one batch. DuckDB commits a transaction of at least one row group (122,880 rows)
   * by writing whole row groups instead of logging every row (measured: half the CPU per
   * row of 92k-row commits), so a caller with rows waiting should hand them over together.
   * Below 204,800 rows in all: past that DuckDB's appender commits on its own mid-batch.
   */
  async appendColumnParts(
    type: string,
    parts: readonly Columnar[],
    opts: {
      hold?: boolean;
      /** With `hold`: called once DuckDB has its copy of the rows (the batches may be let go). */
      copied?: () => void;
    } = {},
  ): Promise<void> {
    const def = this.def(type);
    if (!def) throw new Error(`unknown record type '${type}'`);
    let n = 0;
    for (const c of parts) n += c.rows.length;
    if (n === 0) return;
    if (opts.hold && !def.key) return this.holdColumns(def, parts, n, opts.copied);
    const staged = this.stagedNow();
    if (def.key)
      return this.append(
        type,
        parts.flatMap((c) => columnarToRecords(c, type)),
      );
    if (!staged) return this.serial(() => this.commitNow(def, parts, n));
    await this.serial(async () => {
      // Staged: the rows go to an in-memory temp table (a cheap synchronous flush, no WAL),
      // then one INSERT moves them into the live table on DuckDB's threads. The main thread
      // is not blocked while DuckDB writes the WAL and the table (the synchronous appender
      // flush held it for most of each append); the INSERT commits before we acknowledge.
      this.readStats.stagedCommits++;
      try {
        await this.fillStage(def, parts, this.seq);
        await this.w!.run(`INSERT INTO ${this.current(def)} SELECT * FROM temp.main.${stageTable(def)}`);
      } finally {
        await this.dropStage(def);
      }
      await this.appended_(def, n);
    });
  }

  /** Append and commit at once (in the serial chain). */
  private async commitNow(def: AnyRecordDef, parts: readonly Columnar[], n: number): Promise<void> {
    await this.yieldToReads();
    if (this.cfg.insertFeed !== false) {
      // What the commit held this thread for: the chunk fills, not DuckDB's time beside them.
      const t0 = this.feedHeldMs;
      await this.insertFeed(def, parts, this.seq);
      const took = this.feedHeldMs - t0;
      this.readStats.commitMs += took;
      this.readStats.commits++;
      if (took > this.readStats.commitMaxMs) this.readStats.commitMaxMs = took;
      await this.appended_(def, n);
      return;
    }
    const a = await this.appender(def);
    try {
      const t0 = performance.now();
      let seq = this.seq;
      for (const p of parts) {
        a.writer.appendColumns(a.app, p, seq);
        seq += p.rows.length;
      }
      a.app.flushSync();
      const held = performance.now() - t0;
      this.readStats.commitMs += held;
      this.readStats.commits++;
      if (held > this.readStats.commitMaxMs) this.readStats.commitMaxMs = held;
    } catch (e) {
      this.appenders.delete(def.type);
      try {
        a.app.closeSync();
      } catch {}
      throw e;
    }
    await this.appended_(def, n);
  }

  /**
   * Insert `parts` (rows numbered from `seq`) into the type's live table with one statement
   * that scans them through `vantage_feed` (in the serial chain; it commits with the statement
   * unless a transaction is open). The statement runs on DuckDB's threads: this thread is
   * asked for each chunk in turn and is free between them.
   */
  private async insertFeed(def: AnyRecordDef, parts: readonly Columnar[], seq: number): Promise<void> {
    let wr = this.feedWriters.get(def.type);
    if (!wr) {
      wr = new ChunkWriter(def);
      this.feedWriters.set(def.type, wr);
    }
    wr.beginFeed(parts, seq);
    this.feeding.set(def.type, wr);
    try {
      await this.w!.run(`INSERT INTO ${this.current(def)} SELECT * FROM vantage_feed('${def.type}')`);
    } finally {
      this.feeding.delete(def.type);
      wr.endFeed();
    }
  }
  /** The column writers of `insertFeed`, by type (their buffers are reused). */
  private readonly feedWriters = new Map<string, ChunkWriter>();
  /** The feed each running `insertFeed` statement scans, by type. */
  private readonly feeding = new Map<string, ChunkWriter>();
  /** Time this thread spent filling feed chunks, ms. */
  private feedHeldMs = 0;

  /**
   * `vantage_feed(type)`: the table function an `insertFeed` statement scans, the rows of the
   * feed begun for that type, in the live table's columns. DuckDB calls it from its threads;
   * the binding runs it on this one and waits for it.
   */
  private feedFunction(): DuckDBTableFunction {
    const fn = DuckDBTableFunction.create({
      name: 'vantage_feed',
      parameterTypes: [VARCHAR],
      bindFunction: (b) => {
        const def = this.def(String(b.getParameter(0)));
        if (!def) {
          b.setError('vantage_feed: not a record type');
          return;
        }
        for (const c of columnsOf(def)) b.addResultColumn(c.name, c.duck);
        b.addResultColumn('_seq', UBIGINT);
        b.setBindData({ type: def.type });
      },
      initFunction: () => {},
      mainFunction: () => {},
    });
    // The binding's own callback, without the two wrapper objects made per chunk.
    duckdb.table_function_set_function(fn.table_function, (info, out) => {
      const t0 = performance.now();
      try {
        const type = (duckdb.function_get_bind_data(info) as { type: string } | undefined)?.type;
        const wr = type === undefined ? undefined : this.feeding.get(type);
        if ((wr?.feedChunk(out) ?? 0) === 0) duckdb.data_chunk_set_size(out, 0);
      } catch (e) {
        duckdb.function_set_error(info, `vantage_feed: ${String(e)}`);
      }
      this.feedHeldMs += performance.now() - t0;
    });
    return fn;
  }

  /**
   * Append in an open transaction without committing: the rows commit with the ones that
   * follow once a whole row group of one type is held (`commitRows`), or `commitDelayMs` after
   * the first, and the promise resolves then. A commit of at least one row group of a table is
   * written as row groups straight to the database file; a smaller one is logged row by row in
   * the WAL and held in DuckDB's memory (IN_MEMORY_TABLE) until a checkpoint writes it again.
   * The transaction holds every column type (`insertFeed`): interleaved batches of flows, DNS,
   * TLS… each reach a row group instead of committing one another's few rows. Every other write
   * (objects, a keyed type, compaction, stop) commits the held rows first (see `serial`), so
   * `_seq` and the live rows that compaction and rollups read stay those committed. A staged
   * hold holds one type.
   */
  private holdColumns(
    def: AnyRecordDef,
    parts: readonly Columnar[],
    n: number,
    copied?: () => void,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.serial(async () => {
        if (!this.held) {
          // A hold is staged or not as a whole, decided when it opens: while queries run
          // (`stagedAppend`) the rows gather in the temp table and one INSERT on DuckDB's
          // threads moves a row group's worth into the live table, so neither a synchronous
          // flush nor a small commit (logged row by row, then written again at a checkpoint,
          // and held in DuckDB's memory until then) is paid for every batch.
          if (this.stagedNow()) this.held = newHold(def.type, 'stage');
          else if (this.cfg.holdWhileIdle === false) {
            try {
              await this.commitNow(def, parts, n);
            } catch (e) {
              reject(e);
              return;
            }
            copied?.();
            resolve();
            return;
          } else {
            await this.yieldToReads();
            await this.w!.run('BEGIN TRANSACTION');
            this.held = newHold(def.type, 'tx');
          }
        } else if (this.held.kind === 'tx') await this.yieldToReads();
        const h = this.held;
        try {
          const seq = this.seq + h.rows;
          if (h.kind === 'tx' && this.cfg.insertFeed !== false)
            // Into the open transaction, on DuckDB's threads (its row groups go to the file as
            // they fill), so neither this thread nor Node's heap holds a whole commit's rows.
            await this.insertFeed(def, parts, seq);
          else if (h.kind === 'tx') {
            const a = await this.appender(def);
            let at = seq;
            for (const p of parts) {
              a.writer.appendColumns(a.app, p, at);
              at += p.rows.length;
            }
            a.app.flushSync();
          } else await this.fillStage(def, parts, seq);
        } catch (e) {
          reject(e);
          this.failHeld(e);
          return;
        }
        h.rows += n;
        const mine = (h.types.get(def.type) ?? 0) + n;
        h.types.set(def.type, mine);
        h.waiters.push({ resolve, reject });
        copied?.();
        const rg = this.cfg.commitRows ?? COMMIT_ROWS;
        // A row group of one type, or a bound on what the other types hold in DuckDB's memory
        // beside it (their tables' partial row groups stay there until the commit).
        if (mine >= rg || h.rows >= HOLD_TYPES_ROWS * rg) await this.commitHeld();
        else
          h.timer ??= setTimeout(
            () => void this.serial(() => this.commitHeld()).catch(() => undefined),
            this.cfg.commitDelayMs ?? COMMIT_DELAY_MS,
          );
      }, def.type).catch(reject);
    });
  }

  /**
   * Fill a type's temp staging table with `parts` (rows numbered from `seq`), in slices with a
   * turn of the event loop between them: the API answers on this thread, and one fill of a whole
   * commit held it up to 0.7 s in the soak (the temp table is the writer's alone, so nobody sees
   * it half filled).
   */
  private async fillStage(def: AnyRecordDef, parts: readonly Columnar[], seq: number): Promise<void> {
    const stage = await this.stage(def);
    const slice = Math.max(1, this.cfg.stageSliceRows ?? STAGE_SLICE);
    let first = true;
    for (const c of parts) {
      const rows = c.rows;
      for (let at = 0; at < rows.length; at += slice) {
        if (!first) await new Promise<void>((r) => setImmediate(r));
        first = false;
        const t0 = performance.now();
        const end = Math.min(rows.length, at + slice);
        const part =
          at === 0 && end === rows.length
            ? c
            : {
                ...c,
                rows: ArrayBuffer.isView(rows)
                  ? (rows as Uint32Array).subarray(at, end)
                  : Array.prototype.slice.call(rows, at, end),
              };
        stage.writer.appendColumns(stage.app, part, seq + at);
        const held = performance.now() - t0;
        this.readStats.stageMs += held;
        if (held > this.readStats.stageMaxMs) this.readStats.stageMaxMs = held;
      }
      seq += rows.length;
    }
    const t0 = performance.now();
    stage.app.flushSync();
    this.readStats.stageMs += performance.now() - t0;
  }

  /** Close and drop a type's staging table (dropped, not emptied: see `appendColumnParts`). */
  private async dropStage(def: AnyRecordDef): Promise<void> {
    const stage = this.stages.get(def.type);
    this.stages.delete(def.type);
    try {
      stage?.app.closeSync();
    } catch {}
    await this.w?.run(`DROP TABLE IF EXISTS temp.main.${stageTable(def)}`).catch(() => undefined);
  }

  /** Rows appended and not committed yet, and the callers waiting. */
  private held: Hold | null = null;

  /** Commit the held rows (in the serial chain) and tell their callers. */
  private async commitHeld(): Promise<void> {
    const h = this.held;
    if (!h) return;
    this.held = null;
    if (h.timer) clearTimeout(h.timer);
    try {
      if (h.kind === 'stage') {
        // One INSERT of everything held, on DuckDB's threads; it commits before anyone is told.
        const def = this.def(h.type)!;
        this.readStats.stagedCommits++;
        await this.w!.run(`INSERT INTO ${this.current(def)} SELECT * FROM temp.main.${stageTable(def)}`);
        await this.dropStage(def);
      } else {
        const t0 = performance.now();
        await this.w!.run('COMMIT');
        const took = performance.now() - t0;
        this.readStats.commitMs += took;
        this.readStats.commits++;
        if (took > this.readStats.commitMaxMs) this.readStats.commitMaxMs = took;
      }
    } catch (e) {
      this.held = h;
      this.failHeld(e);
      return;
    }
    // Every held row is numbered below the new `seq` before any type's bookkeeping (a rotation
    // records its generation's last `_seq` from it).
    this.seq += h.rows;
    for (const [type, n] of h.types) await this.appended_(this.def(type)!, n, false);
    for (const w of h.waiters) w.resolve();
  }

  /** A held append failed: its transaction is rolled back and no held row is acknowledged. */
  private failHeld(e: unknown): void {
    const h = this.held;
    this.held = null;
    if (!h) return;
    if (h.timer) clearTimeout(h.timer);
    if (h.kind === 'stage') {
      const def = this.def(h.type);
      if (def) void this.dropStage(def);
    } else {
      for (const type of h.types.keys()) {
        const a = this.appenders.get(type);
        this.appenders.delete(type);
        try {
          a?.app.closeSync();
        } catch {}
      }
      void this.w?.run('ROLLBACK').catch(() => undefined);
    }
    for (const w of h.waiters) w.reject(e);
  }

  private readonly stages = new Map<string, { app: DuckDBAppender; writer: ChunkWriter }>();

  /** Whether the next column commit goes through the staging table (`stagedAppend`). */
  private stagedNow(): boolean {
    const mode = this.cfg.stagedAppend;
    if (mode !== 'while-reading') return mode === true;
    return this.reads.size > 0 || performance.now() - this.lastReadEnd < READ_ACTIVE_MS;
  }
  /** When the last query ended (performance.now()). */
  private lastReadEnd = Number.NEGATIVE_INFINITY;

  /** Queries running on the reader connections. */
  private readonly reads = new Set<Promise<unknown>>();

  /**
   * Let the queries running now finish before the next commit, for at most `readPriorityMs`.
   * Commits taken back to back (a source that offers more than the store takes) otherwise
   * starve the readers: measured under a saturated collector, a top-10 over 3M rows that takes
   * 0.2 s alone took 4.4 s (p50) between commits, and 15 ms (p50) when the commits left gaps.
   */
  private async yieldToReads(): Promise<void> {
    const cap = this.cfg.readPriorityMs ?? 500;
    if (this.reads.size === 0 || cap <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    const t0 = performance.now();
    await Promise.race([
      Promise.allSettled([...this.reads]),
      new Promise<void>((r) => {
        timer = setTimeout(r, cap);
      }),
    ]);
    clearTimeout(timer);
    this.yieldedToReads.commits++;
    this.yieldedToReads.ms += performance.now() - t0;
  }
  /** Commits that waited for running queries, and how long in all (ms). */
  readonly yieldedToReads = { commits: 0, ms: 0 };

  /** The appender of a type's staging table (temp: in memory, not logged). */
  private async stage(def: AnyRecordDef): Promise<{ app: DuckDBAppender; writer: ChunkWriter }> {
    let a = this.stages.get(def.type);
    if (!a) {
      await this.w!.run(
        `CREATE TEMP TABLE IF NOT EXISTS ${stageTable(def)} AS SELECT * FROM ${this.current(def)} LIMIT 0`,
      );
      a = {
        app: await this.w!.createAppender(stageTable(def), 'main', 'temp'),
        writer: new ChunkWriter(def),
      };
      this.stages.set(def.type, a);
    }
    return a;
  }

  private async appender(def: AnyRecordDef): Promise<{ app: DuckDBAppender; writer: ChunkWriter }> {
    let a = this.appenders.get(def.type);
    if (!a) {
      a = { app: await this.w!.createAppender(this.current(def)), writer: new ChunkWriter(def) };
      this.appenders.set(def.type, a);
    }
    return a;
  }

  /** Bookkeeping after `n` rows of a type were acknowledged (`seq` moved past them unless `advance`). */
  private async appended_(def: AnyRecordDef, n: number, advance = true): Promise<void> {
    const type = def.type;
    if (advance) this.seq += n;
    this.batches++;
    this.generation++;
    this.appended[type] = (this.appended[type] ?? 0) + n;
    const live = (this.liveRows.get(type) ?? 0) + n;
    this.liveRows.set(type, live);
    const cur = (this.genRows.get(type) ?? 0) + n;
    this.genRows.set(type, cur);
    // At most MAX_CLOSED generations wait for compaction: past that the newest grows on (a
    // store that appends faster than it compacts keeps its backlog in one table, as before).
    if (!def.key && cur >= this.compactRows && this.gens.get(type)!.length <= MAX_CLOSED)
      // The rows are acknowledged whatever happens here: a failed rotation is retried later.
      await this.rotate(def).catch((e: unknown) =>
        this.log.warn('live generation not rotated; appends stay in the current one', {
          type,
          error: String(e),
        }),
      );
    await this.checkpointIfDue();
    this.maintain(def);
  }

  /**
   * Checkpoint once the WAL holds `walCheckpoint` bytes, in the serial chain (no append of
   * ours is in flight) and never beside a write transaction of the compaction's connection
   * (`exclusive`): DuckDB's own checkpoint inside a commit is off (NO_AUTO_CHECKPOINT) because
   * it ran beside inserts and sometimes corrupted the table it wrote. Readers go on meanwhile.
   * The rows are acknowledged whatever happens here: a failed checkpoint is tried again at the
   * next append and the WAL keeps them.
   */
  private async checkpointIfDue(): Promise<void> {
    const wal = walBytes(this.cfg.dataDir);
    if (wal >= this.walLimit)
      await this.checkpoint(wal >= 2 * this.walLimit && performance.now() >= this.forceAfter);
  }

  /**
   * A plain CHECKPOINT fails while a committed write is still needed by a query that began
   * before it (DuckDB cleans a transaction up only then), which a store queried without pause
   * meets often: it is tried again at the next append, and once the WAL holds twice
   * `walCheckpoint`, FORCE CHECKPOINT waits for those queries (and holds new ones for the
   * checkpoint's time) so the WAL and the memory it pins stay bounded.
   */
  private async checkpoint(force = false): Promise<void> {
    const t0 = performance.now();
    try {
      if (force) await this.forceCheckpoint();
      else await this.exclusive(() => this.checkpointSql('CHECKPOINT'));
    } catch (e) {
      if (!force && /other write transactions/.test(String(e))) {
        this.checkpoints.busy++;
        return;
      }
      this.checkpoints.failed++;
      this.log.warn('checkpoint failed; the WAL keeps the rows', { error: String(e) });
      this.noticeFatal(e);
      return;
    }
    const ms = performance.now() - t0;
    this.checkpoints.runs++;
    this.checkpoints.ms += ms;
    if (ms > this.checkpoints.maxMs) this.checkpoints.maxMs = ms;
  }

  /**
   * Set when a compaction (or a partition's removal) committed rows to the tables kept for as
   * long as the partitions: the top-N and series rollups, their totals, the manifest. The next
   * checkpoint writes them compressed. Live rows are kept uncompressed (`liveCompression`), a
   * setting DuckDB has only for the whole database, and a checkpoint writes what every table
   * changed since the last one; so the one checkpoint after a compaction compresses (also the
   * live rows of its second or so), and the rest do not. Left uncompressed, each compaction's
   * ~60k rollup rows of a busy collector took a 256 KiB block per column segment: 4.4 GB of
   * DuckDB file for 48M rollup rows after 800 partitions (`bench/store-history.ts`), and a
   * block handle and segment in memory for each.
   */
  private compressNext = false;

  private async checkpointSql(sql: 'CHECKPOINT' | 'FORCE CHECKPOINT'): Promise<void> {
    const w = this.w!;
    // Live rows compressed, or a compression the operator chose for everything: nothing to switch.
    if (
      !this.compressNext ||
      this.cfg.liveCompression === true ||
      this.cfg.duckdbSettings?.force_compression
    ) {
      await w.run(sql);
      return;
    }
    await w.run(`SET GLOBAL force_compression = 'auto'`);
    try {
      await w.run(sql);
      this.compressNext = false;
    } finally {
      await w.run(`SET GLOBAL force_compression = 'uncompressed'`);
    }
  }

  /**
   * FORCE CHECKPOINT with no read open. DuckDB's waits for every transaction older than the
   * writes it must clean up while holding the lock that starts new ones, and spins: a read in
   * its snapshot (several statements) that began before it could then never run its next
   * statement once the statements blocked behind that lock held every thread of Node's pool
   * (4), and the store hung (appends, reads, `duckdb_memory()`), which `bench/store-stress.ts`
   * met within two minutes. So new reads wait here, the open ones end, and the checkpoint then
   * has nobody to wait for. A read still open after FORCE_WAIT_MS puts the forced checkpoint off
   * (FORCE_RETRY_MS of plain ones) rather than hold the appends and the reads behind it.
   */
  private async forceCheckpoint(): Promise<void> {
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    this.readGate = gate;
    let timer: NodeJS.Timeout | undefined;
    try {
      if (this.openReads.size > 0) {
        const ended = await new Promise<boolean>((r) => {
          this.readsEnded = () => r(true);
          timer = setTimeout(() => r(false), FORCE_WAIT_MS);
        });
        if (!ended) {
          // A read that does not end (an export to a client that stopped reading) must not
          // hold the appends behind it: plain checkpoints until FORCE_RETRY_MS have passed.
          this.forceAfter = performance.now() + FORCE_RETRY_MS;
          this.checkpoints.busy++;
          this.log.warn('forced checkpoint put off: a read stayed open', {
            openReads: this.openReads.size,
            waitedMs: FORCE_WAIT_MS,
          });
          return;
        }
      }
      await this.exclusive(() => this.checkpointSql('FORCE CHECKPOINT'));
      this.checkpoints.forced++;
    } finally {
      clearTimeout(timer);
      this.readsEnded = null;
      this.readGate = null;
      open();
    }
  }
  /** When the next forced checkpoint may run (after one put off by a read that stayed open). */
  private forceAfter = 0;
  /** Set while a forced checkpoint waits for the open reads and runs: new reads wait for it. */
  private readGate: Promise<void> | null = null;
  /** Called when the last open read ends, while a forced checkpoint waits for it. */
  private readsEnded: (() => void) | null = null;

  /**
   * Run a write transaction of the compaction's connection, or a checkpoint, with no other of
   * either running: the two must not overlap (NO_AUTO_CHECKPOINT). Nothing in `fn` may call
   * `exclusive` again.
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.gate.then(fn, fn);
    this.gate = run.catch(() => undefined);
    return run;
  }

  /**
   * Start the background work a type is due for, on the compaction's connection beside the
   * appends, one job at a time: its compaction (first), or the next live chunk of its rollups.
   * When a job ends the next one due starts, so a chunk running when the live rows reached the
   * compaction threshold does not put the compaction off until the next append.
   */
  private maintain(def: AnyRecordDef): void {
    if (this.compacting || !this.cw || def.key || this.stopping || this.needsReopen) return;
    const type = def.type;
    let job: Promise<void> | null = null;
    // Every day, today included: compacting closed days only left a high-rate type's live
    // table growing all day, and the check (a scan of it) ran after every append.
    const gens = this.gens.get(type) ?? [];
    const failed = this.compactFailed.get(`${type}/${gens[0]}`);
    if (gens.length > 1 && (failed === undefined || performance.now() - failed > COMPACT_RETRY_MS))
      job = this.compactGen(def, gens[0]!, this.cw, false).catch((e: unknown) => {
        // Not retried by every append (a failing copy would run back to back).
        this.compactFailed.set(`${type}/${gens[0]}`, performance.now());
        this.log.warn('compaction failed; the rows stay live', { type, error: String(e) });
        this.noticeFatal(e, true);
      });
    else if (
      this.topDims.has(type) &&
      this.seq - 1 - (this.liveRolled.get(type) ?? 0) >= (this.cfg.liveChunkRows ?? LIVE_CHUNK_ROWS) &&
      performance.now() - (this.rollFailed.get(type) ?? Number.NEGATIVE_INFINITY) > ROLL_RETRY_MS
    )
      job = this.rollLive(def, this.cw).catch((e: unknown) => {
        // Not retried at once: a rollup that fails fast (an invalidated database, DuckDB out of
        // memory) ran back to back, 740k times in a 2-minute stress run.
        this.rollFailed.set(type, performance.now());
        this.log.warn('live rollup failed', { type, error: String(e) });
        this.noticeFatal(e, true);
      });
    if (!job) return;
    this.compacting = job.finally(() => {
      this.compacting = null;
      this.maintain(def);
    });
  }
  private stopping = false;
  /** When a generation's compaction failed (`type/gen`): tried again after COMPACT_RETRY_MS. */
  private readonly compactFailed = new Map<string, number>();
  /** When a type's live rollup last failed: tried again after ROLL_RETRY_MS. */
  private readonly rollFailed = new Map<string, number>();
  /** Live chunks per rolled-up type (distinct `hi`): merged into one past MERGE_CHUNKS. */
  private readonly liveChunks = new Map<string, number>();

  /**
   * Sum the live rows acknowledged since the last chunk into the live chunk rollups (one
   * transaction for every dimension), so a top-N reads at most a chunk's worth of raw live rows.
   */
  private async rollLive(def: AnyRecordDef, w: DuckDBConnection): Promise<void> {
    const dims = this.topDims.get(def.type);
    if (!dims) return;
    const lo = this.liveRolled.get(def.type) ?? 0;
    let hi = this.seq - 1;
    // A chunk ends where a closed generation ends (its compaction moves its chunks whole), and
    // merges only with the chunks of its own generation.
    let floor = 0;
    for (const end of this.genEnd.get(def.type)?.values() ?? []) {
      if (end > lo && end < hi) hi = end;
      if (end <= lo && end > floor) floor = end;
    }
    if (hi <= lo) return;
    const chunks = (this.liveChunks.get(def.type) ?? 0) + 1;
    const merge = chunks > MERGE_CHUNKS;
    const src = this.liveUnion(def, this.gens.get(def.type) ?? [0]);
    await this.exclusive(() => this.rollLiveTx(def, dims, w, lo, hi, floor, merge, src));
    this.liveRolled.set(def.type, hi);
    this.liveChunks.set(def.type, merge ? 1 : chunks);
  }

  private async rollLiveTx(
    def: AnyRecordDef,
    dims: readonly string[],
    w: DuckDBConnection,
    lo: number,
    hi: number,
    floor: number,
    merge: boolean,
    src: string,
  ): Promise<void> {
    await w.run('BEGIN TRANSACTION');
    try {
      for (const d of dims) {
        await w.run(liveRollupInsertSql(def, d, dayOf(def), lo, hi, src));
        // A chunk of many distinct keys sums few rows per key: merged, the chunks of a minute
        // and key become one row (as the partition's rollup will), under the highest `hi`.
        if (merge) {
          const t = liveRollupTable(def, d);
          await w.run(
            `INSERT INTO ${t} SELECT ${-hi}, d, minute, k, sum(flows), sum(bytes), sum(packets) FROM ${t} WHERE hi > ${floor} GROUP BY d, minute, k`,
          );
          await w.run(`DELETE FROM ${t} WHERE hi > ${floor}`);
          await w.run(`UPDATE ${t} SET hi = ${hi} WHERE hi < 0`);
        }
      }
      await w.run('COMMIT');
    } catch (e) {
      await w.run('ROLLBACK');
      throw e;
    }
  }

  /** Resolves when the appends so far are acknowledged and the compaction they started is done. */
  async compactionDone(): Promise<void> {
    await this.serial(() => undefined);
    while (this.compacting) await this.compacting;
  }

  /**
   * Compact live rows into Parquet now: every day of every live generation with `all`, or all
   * days but the newest (whose rows go on in the newest generation). Keyed types stay live.
   */
  compact(all = true): Promise<void> {
    return this.serial(async () => {
      while (this.compacting) await this.compacting;
      for (const def of this.defs) await this.compactAll(def, all);
    });
  }

  /**
   * In the serial chain, no job running: every live row of a type, or with `all` false every
   * row but the newest day's (those are copied into the fresh generation as the rest goes).
   */
  private async compactAll(def: AnyRecordDef, all: boolean): Promise<void> {
    if (def.key) return;
    let keepFrom: number | undefined;
    if (!all) {
      const r = await this.w!.runAndReadAll(
        `SELECT max(${dayOf(def)}) FROM ${this.liveUnion(def, this.gens.get(def.type)!)}`,
      );
      const v = r.getRows()[0]?.[0];
      if (v === null || v === undefined) return;
      keepFrom = Number(v);
    }
    if ((this.genRows.get(def.type) ?? 0) > 0) await this.rotate(def);
    const gens = this.gens.get(def.type)!;
    while (gens.length > 1) {
      this.compactFailed.delete(`${def.type}/${gens[0]}`);
      await this.compactGen(def, gens[0]!, this.w!, true, keepFrom);
    }
  }

  /** Rows of a keyed type that a batch replaces. */
  private async deleteKeys(def: AnyRecordDef, key: string, records: readonly Rec[]): Promise<void> {
    const keys = records.map((r) => String(r[key]));
    let removed = 0;
    // Keyed types have one live generation (never rotated): `live_<type>`.
    for (let i = 0; i < keys.length; i += 1000) {
      const part = keys.slice(i, i + 1000);
      const r = await this.w!.runAndReadAll(
        `DELETE FROM ${liveTable(def)} WHERE ${q(key)} IN (SELECT unnest($1::VARCHAR[]))`,
        [listValue(part)],
      );
      removed += r.rowsChanged;
    }
    this.liveRows.set(def.type, (this.liveRows.get(def.type) ?? 0) - removed);
  }

  /**
   * Compact a closed generation (the oldest of its type): its rows go to one Parquet file per
   * day, and then one transaction records the files, moves its rollups and drops its table.
   * On the compaction connection beside the appends (which go to the newest generation, so
   * nothing here waits for them or they for it), or on the writer in the serial chain. `sort`
   * orders each file by time (worth it for a day's file; a generation written at a high rate
   * is already nearly in order, and sorting it costs a spill under the memory limit).
   */
  private async compactGen(
    def: AnyRecordDef,
    gen: number,
    w: DuckDBConnection,
    sort: boolean,
    /** Days from this one on are not compacted: copied into the newest generation (serial chain only). */
    keepFrom?: number,
  ): Promise<void> {
    const type = def.type;
    const gens = this.gens.get(type)!;
    const end = this.genEnd.get(type)!.get(gen);
    if (gens[0] !== gen || end === undefined) throw new Error(`generation ${gen} of ${type} is not closed`);
    await this.step('compact:begun', type);
    const table = liveGenTable(def, gen);
    const t = q(def.timeField);
    const dayExpr = dayOf(def);
    // Its live chunks first: they end at its end, and go to the partitions' rollups with it.
    const dims = this.topDims.get(type) ?? [];
    if (dims.length > 0)
      while ((this.liveRolled.get(type) ?? 0) < end) {
        const was = this.liveRolled.get(type) ?? 0;
        await this.rollLive(def, w);
        if ((this.liveRolled.get(type) ?? 0) === was) throw new Error('live rollup made no progress');
      }
    await this.step('compact:rolled', type);
    const all = (
      await w.runAndReadAll(
        `SELECT ${dayExpr} AS d, min(epoch_us(${t})), max(epoch_us(${t})), count(*), max(_seq) FROM ${table} GROUP BY d ORDER BY d`,
      )
    ).getRows();
    const days = keepFrom === undefined ? all : all.filter((r) => Number(r[0]) < keepFrom);
    const kept = all.length - days.length;
    const made: { p: Partition; abs: string; day: number }[] = [];
    let keptRows = 0;
    try {
      for (const row of days) {
        const day = Number(row[0]);
        const maxSeq = Number(row[4]);
        const dayName = new Date(day * 86_400_000).toISOString().slice(0, 10);
        const rel = join('parquet', type, dayName, `${String(maxSeq).padStart(12, '0')}.parquet`);
        const abs = join(this.cfg.dataDir, rel);
        await mkdir(dirname(abs), { recursive: true });
        const where = all.length === 1 ? '' : ` WHERE ${dayExpr} = ${day}`;
        await w.run(
          `COPY (SELECT ${parquetSelect(def)} FROM ${table}${where}${sort ? ` ORDER BY ${t}` : ''}) TO '${abs}.tmp' (${parquetOptions(this.cfg.compactRowGroup)})`,
        );
        syncFile(`${abs}.tmp`);
        await this.step('compact:copied', type);
        await rename(`${abs}.tmp`, abs);
        syncFile(dirname(abs));
        const p: Partition = {
          type,
          path: rel,
          minTs: Number(row[1] ?? 0),
          maxTs: Number(row[2] ?? 0),
          rows: Number(row[3]),
          bytes: (await stat(abs)).size,
          maxSeq,
          columns: this.columnSet(columnsOf(def).map((c) => c.name)),
          format: PARQUET_FORMAT,
        };
        // Known before its manifest row commits: a read whose snapshot has the row finds the file.
        this.known.set(p.path, p);
        made.push({ p, abs, day });
        await this.step('compact:renamed', type);
      }
      await this.exclusive(async () => {
        await w.run('BEGIN TRANSACTION');
        try {
          for (const { p, day } of made) {
            const where = `${dayExpr} = ${day}`;
            if (def === this.rollupDef()) await w.run(rollupInsertSql(table, where), [p.path]);
            for (const d of dims) {
              await w.run(topRollupFromLiveSql(def, d, day, end), [p.path]);
              for (const sql of topTotalMergeSql(def, d, p.path, 1)) await w.run(sql);
            }
            await w.run('INSERT INTO _partitions VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
              p.type,
              p.path,
              String(p.minTs),
              String(p.maxTs),
              String(p.rows),
              String(p.bytes),
              String(p.maxSeq),
              [...p.columns, `@${p.format}`].join(','),
            ]);
          }
          if (kept > 0) {
            // The newest day goes on live: its rows (and its live chunks, which still cover them)
            // move into the newest generation.
            const r = await w.runAndReadAll(
              `INSERT INTO ${this.current(def)} SELECT * FROM ${table} WHERE ${dayExpr} >= ${keepFrom}`,
            );
            keptRows = r.rowsChanged;
          }
          for (const d of dims)
            await w.run(
              `DELETE FROM ${liveRollupTable(def, d)} WHERE hi > 0 AND hi <= ${end}${kept > 0 ? ` AND d < ${keepFrom}` : ''}`,
            );
          await w.run('DELETE FROM _live WHERE type = $1 AND gen = $2', [type, gen]);
          await w.run(`DROP TABLE ${table}`);
          await this.step('compact:uncommitted', type);
          await w.run('COMMIT');
          this.compressNext = true;
        } catch (e) {
          await w.run('ROLLBACK').catch(() => undefined);
          throw e;
        }
      });
    } catch (e) {
      for (const { p, abs } of made) {
        this.known.delete(p.path);
        await rm(abs, { force: true });
      }
      throw e;
    }
    this.generation++;
    let moved = 0;
    for (const { p } of made) {
      this.partitions.push(p);
      moved += p.rows;
    }
    this.partitions.sort((x, y) => x.minTs - y.minTs);
    this.liveRows.set(type, (this.liveRows.get(type) ?? 0) - moved);
    this.genRows.set(type, (this.genRows.get(type) ?? 0) + keptRows);
    gens.shift();
    this.genEnd.get(type)!.delete(gen);
    this.compactions++;
    await this.step('compact:committed', type);
    if (dims.length > 0) {
      const r = await w.runAndReadAll(`SELECT count(DISTINCT hi) FROM ${liveRollupTable(def, dims[0]!)}`);
      this.liveChunks.set(type, Number(r.getRows()[0]![0]));
    }
    // The dropped table's blocks are free once checkpointed. Only in the write chain: beside the
    // appends (on the compaction's connection) a CHECKPOINT met a staged INSERT and DuckDB 1.5.5
    // invalidated the database ("Corrupted in-memory column - misaligned count"; reproduced on
    // the code before generations too); the automatic one at the WAL threshold runs in a commit.
    if (w === this.w) await this.checkpoint();
    await this.step('compact:checkpointed', type);
  }
  /** Generations compacted (counted for the store's figures). */
  compactions = 0;

  /**
   * Drop what is past the retention. It waits for a running compaction outside the serial
   * chain: `vantage start` calls this every minute, and waiting inside the chain held every
   * append for as long as the compaction ran (the 12-s pause the 400k records/s bench showed 60
   * s into each run).
   */
  async enforceRetention(now = Date.now()): Promise<number> {
    for (;;) {
      while (this.compacting) await this.compacting;
      const n = await this.serial(() => (this.compacting ? null : this.retentionNow(now)));
      if (n !== null) return n;
    }
  }

  private async retentionNow(now: number): Promise<number> {
    let n = 0;
    const days = this.cfg.retentionDays ?? 0;
    if (days > 0) {
      const cutoff = (now - days * 86_400_000) * 1000;
      for (const p of [...this.partitions]) if (p.maxTs < cutoff) n += await this.dropPartition(p);
      for (const def of this.defs) {
        const gens = this.gens.get(def.type) ?? [0];
        let removed = 0;
        for (const g of gens) {
          const r = await this.w!.runAndReadAll(
            `DELETE FROM ${liveGenTable(def, g)} WHERE ${q(def.timeField)} < make_timestamp(CAST($1 AS BIGINT))`,
            [String(cutoff)],
          );
          removed += r.rowsChanged;
          if (g === gens.at(-1))
            this.genRows.set(def.type, (this.genRows.get(def.type) ?? 0) - r.rowsChanged);
        }
        this.liveRows.set(def.type, (this.liveRows.get(def.type) ?? 0) - removed);
        if (removed > 0) {
          this.generation++;
          // Rows went from inside live chunks: those chunks are summed again from the rows.
          if (this.topDims.has(def.type)) {
            for (const d of this.topDims.get(def.type)!)
              await this.w!.run(`DELETE FROM ${liveRollupTable(def, d)}`);
            this.liveRolled.set(def.type, 0);
            this.liveChunks.set(def.type, 0);
          }
        }
      }
    }
    const limit = this.cfg.retentionBytes ?? 0;
    if (limit > 0) {
      let size = await this.bytesOnDisk();
      if (size > limit && this.partitions.length === 0) {
        for (const def of this.defs) await this.compactAll(def, true);
        size = await this.bytesOnDisk();
      }
      const byAge = [...this.partitions].sort((a, b) => a.maxTs - b.maxTs);
      while (size > limit && byAge.length > 0) {
        const p = byAge.shift()!;
        n += await this.dropPartition(p);
        size -= p.bytes;
      }
    }
    this.dropped += n;
    return n;
  }

  private async dropPartition(p: Partition): Promise<number> {
    await this.w!.run('BEGIN TRANSACTION');
    await this.w!.run('DELETE FROM _partitions WHERE path = $1', [p.path]);
    await this.w!.run(`DELETE FROM ${ROLLUP} WHERE path = $1`, [p.path]);
    await this.deleteTopRollups(this.w!, p);
    await this.w!.run('COMMIT');
    this.generation++;
    this.partitions = this.partitions.filter((x) => x !== p);
    // A read begun before this commit may have the file in its snapshot: it goes after them.
    this.doomed.push({ path: p.path, until: this.readIds });
    await this.removeDoomed();
    this.log.info('retention dropped partition', { path: p.path, rows: p.rows });
    return 1;
  }

  private async bytesOnDisk(): Promise<number> {
    let total = 0;
    for (const f of ['records.duckdb', 'records.duckdb.wal']) {
      try {
        total += (await stat(join(this.cfg.dataDir, f))).size;
      } catch {}
    }
    for (const p of this.partitions) total += p.bytes;
    return total;
  }

  /** Bytes of the compacted Parquet partitions of a type. */
  parquetBytes(type: string): number {
    return this.partitions.filter((p) => p.type === type).reduce((n, p) => n + p.bytes, 0);
  }

  /**
   * What DuckDB's buffer manager holds now, bytes, by tag (`duckdb_memory()`), beside its
   * limit. On a connection of its own, outside the readers that commits yield to, so asking
   * while the store is busy does not slow it. What DuckDB's allocator holds beyond these
   * (appends, checkpoints, query results) is not in them: that is the process's RSS less
   * everything else.
   */
  async memoryUse(): Promise<{ limit: number; used: number; temp: number; tags: Record<string, number> }> {
    if (!this.db) return { limit: 0, used: 0, temp: 0, tags: {} };
    this.mc ??= await this.db.connect();
    const r = await this.mc.runAndReadAll(
      'SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0 OR temporary_storage_bytes > 0',
    );
    const tags: Record<string, number> = {};
    let used = 0;
    let temp = 0;
    for (const row of r.getRows()) {
      const n = Number(row[1]);
      tags[String(row[0])] = n;
      used += n;
      temp += Number(row[2]);
    }
    return { limit: this.cfg.memoryLimit ?? 0, used, temp, tags };
  }
  private mc: DuckDBConnection | null = null;

  async stats(): Promise<StoreStats> {
    const rows: Record<string, number> = {};
    for (const def of this.defs) rows[def.type] = this.liveRows.get(def.type) ?? 0;
    for (const p of this.partitions) rows[p.type] = (rows[p.type] ?? 0) + p.rows;
    return {
      appended: { ...this.appended },
      batches: this.batches,
      rows,
      bytesOnDisk: await this.bytesOnDisk(),
      partitions: this.partitions.length,
      droppedPartitions: this.dropped,
      reads: {
        queries: this.readStats.queries,
        shared: this.shared,
        waitSeconds: this.readStats.waitMs / 1000,
        runSeconds: this.readStats.runMs / 1000,
        commits: this.readStats.commits,
        commitSeconds: this.readStats.commitMs / 1000,
        commitMaxSeconds: this.readStats.commitMaxMs / 1000,
        commitYieldSeconds: this.yieldedToReads.ms / 1000,
        stagedCommits: this.readStats.stagedCommits,
        sharedWaitSeconds: this.readStats.sharedWaitMs / 1000,
        stageSeconds: this.readStats.stageMs / 1000,
        stageMaxSeconds: this.readStats.stageMaxMs / 1000,
        ...this.loopDelay(),
      },
      checkpoints: {
        runs: this.checkpoints.runs,
        busy: this.checkpoints.busy,
        failed: this.checkpoints.failed,
        seconds: this.checkpoints.ms / 1000,
        maxSeconds: this.checkpoints.maxMs / 1000,
      },
      reopens: this.reopens,
    };
  }

  /**
   * How long the thread that answers the API (this one) was held when it should have run, in
   * seconds: what every request waits beside its query (commits, decoding, GC).
   */
  private loopDelay(): {
    loopDelayP50Seconds: number;
    loopDelayP99Seconds: number;
    loopDelayMaxSeconds: number;
  } {
    const h = this.loop;
    if (!h || h.count === 0)
      return { loopDelayP50Seconds: 0, loopDelayP99Seconds: 0, loopDelayMaxSeconds: 0 };
    return {
      loopDelayP50Seconds: h.percentile(50) / 1e9,
      loopDelayP99Seconds: h.percentile(99) / 1e9,
      loopDelayMaxSeconds: h.max / 1e9,
    };
  }
  private loop: IntervalHistogram | null = null;

  // ---- reading ---------------------------------------------------------------------------

  /**
   * Run a read on a reader connection. `plan` builds the query (synchronously) and returns
   * what runs it. A query that reads Parquet files is planned from the manifest as its own
   * snapshot sees it (read in a transaction with the query): the file list taken before the
   * snapshot let a compaction committing in between hide the rows it moved (or a retention
   * drop delete a listed file: "IO Error: No files found that match the pattern"). The read is
   * registered before its snapshot exists, so a file dropped meanwhile is removed only after it.
   */
  private async withReader<T>(plan: () => (c: DuckDBConnection) => Promise<T>): Promise<T> {
    // Reopened by the serial chain (or its error, if it cannot be).
    if (this.needsReopen) await this.serial(() => undefined);
    if (!this.db) throw new Error('store is not started');
    const t0 = performance.now();
    while (this.readGate) await this.readGate;
    const id = ++this.readIds;
    this.openReads.add(id);
    try {
      this.planFiles = false;
      const fn = plan();
      const snapshot = this.planFiles;
      const c = this.pool.pop() ?? (await new Promise<DuckDBConnection>((res) => this.waiters.push(res)));
      const t1 = performance.now();
      const run = snapshot ? this.inSnapshot(c, plan) : fn(c);
      this.reads.add(run);
      try {
        return await run;
      } catch (e) {
        this.noticeFatal(e);
        throw e;
      } finally {
        const st = this.readStats;
        st.queries++;
        st.waitMs += t1 - t0;
        st.runMs += performance.now() - t1;
        this.reads.delete(run);
        this.lastReadEnd = performance.now();
        if (this.connGen.get(c) !== this.dbGen)
          try {
            c.closeSync();
          } catch {}
        else {
          const w = this.waiters.shift();
          if (w) w(c);
          else this.pool.push(c);
        }
      }
    } finally {
      this.openReads.delete(id);
      if (this.openReads.size === 0) this.readsEnded?.();
      if (this.doomed.length > 0) this.removeDoomed();
    }
  }

  /** Plan and run a read with the partition manifest of the query's own snapshot. */
  private async inSnapshot<T>(
    c: DuckDBConnection,
    plan: () => (c: DuckDBConnection) => Promise<T>,
  ): Promise<T> {
    await c.run('BEGIN TRANSACTION');
    try {
      // The files and the live generations of this snapshot, in one statement.
      const r = await c.runAndReadAll(
        'SELECT path, NULL FROM _partitions UNION ALL SELECT type, gen FROM _live ORDER BY 2 NULLS FIRST',
      );
      const view = new Set<string>();
      const live = new Map<string, number[]>();
      for (const [a, g] of r.getRows()) {
        if (g === null) view.add(String(a));
        else {
          const list = live.get(String(a));
          if (list) list.push(Number(g));
          else live.set(String(a), [Number(g)]);
        }
      }
      this.planView = view;
      this.planLive = live;
      let fn: (c: DuckDBConnection) => Promise<T>;
      try {
        fn = plan();
      } finally {
        this.planView = null;
        this.planLive = null;
      }
      const out = await fn(c);
      await c.run('COMMIT');
      return out;
    } catch (e) {
      await c.run('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  /** Partition files by path, from before their manifest row commits until they are removed. */
  private readonly known = new Map<string, Partition>();
  /**
   * One set per distinct column list: a store that runs for months at 100k records/s lists
   * ~4,000 partitions a day, and a set of 46 names each (~1.5 kB) would grow the heap with the
   * history kept.
   */
  private readonly columnSets = new Map<string, ReadonlySet<string>>();

  private columnSet(names: readonly string[]): ReadonlySet<string> {
    const key = names.join(',');
    let set = this.columnSets.get(key);
    if (!set) {
      set = new Set(names);
      this.columnSets.set(key, set);
    }
    return set;
  }
  /** While a plan is built in a read's snapshot: the manifest's paths as that snapshot sees them. */
  private planView: Set<string> | null = null;
  /** While a plan is built in a read's snapshot: its live generations by type, oldest first. */
  private planLive: Map<string, number[]> | null = null;
  /** Set while planning when the query reads a type that has partition files. */
  private planFiles = false;
  private readIds = 0;
  /** Reads not finished, by id (ids grow): a dropped file waits for those begun before the drop. */
  private readonly openReads = new Set<number>();
  /** Dropped partition files still readable by a read begun before the drop (`until`: its last id). */
  private readonly doomed: { path: string; until: number }[] = [];

  /** Remove the dropped files no running read may still read. */
  private removeDoomed(): Promise<unknown> {
    let oldest = Number.POSITIVE_INFINITY;
    for (const id of this.openReads) if (id < oldest) oldest = id;
    const now = this.doomed.filter((d) => d.until < oldest);
    if (now.length === 0) return Promise.resolve();
    const keep = this.doomed.filter((d) => d.until >= oldest);
    this.doomed.length = 0;
    this.doomed.push(...keep);
    return Promise.all(
      now.map((d) => {
        this.known.delete(d.path);
        return rm(join(this.cfg.dataDir, d.path), { force: true }).catch((e: unknown) =>
          this.log.warn('could not remove a dropped partition file', { path: d.path, error: String(e) }),
        );
      }),
    );
  }

  /**
   * The live rows of a type: its live generations as the read's snapshot lists them (or, when
   * not planning in one, as this process knows them), one table or their union.
   */
  private liveSrc(def: AnyRecordDef): string {
    if (def.key) return liveTable(def);
    this.planFiles = true;
    return this.liveUnion(def, this.planLive?.get(def.type) ?? this.gens.get(def.type) ?? [0]);
  }

  private liveUnion(def: AnyRecordDef, gens: readonly number[]): string {
    if (gens.length === 1) return liveGenTable(def, gens[0]!);
    return `(${gens.map((g) => `SELECT * FROM ${liveGenTable(def, g)}`).join(' UNION ALL ')})`;
  }

  /** FROM clause: the live tables plus the Parquet files overlapping the range. */
  private source(def: AnyRecordDef, range: TimeRange, live = true): string {
    const cols = columnsOf(def)
      .map((c) => q(c.name))
      .concat('_seq')
      .join(', ');
    const all = this.planView
      ? [...this.known.values()].filter((p) => this.planView!.has(p.path))
      : this.partitions;
    // Keyed types are never compacted; any other may get its first file while this is planned.
    if (!def.key) this.planFiles = true;
    const files = all.filter(
      (p) =>
        p.type === def.type &&
        (range.after === undefined || p.maxTs >= range.after) &&
        (range.before === undefined || p.minTs < range.before),
    );
    const liveSrc = this.liveSrc(def);
    if (files.length === 0) return live ? liveSrc : `(SELECT ${cols} FROM ${liveSrc} WHERE FALSE)`;
    const parts = live ? [`SELECT ${cols} FROM ${liveSrc}`] : [];
    for (const format of new Set(files.map((f) => f.format))) {
      const group = files.filter((f) => f.format === format);
      const present = new Set<string>();
      for (const f of group) for (const c of f.columns) present.add(c);
      const list = group.map((f) => `'${join(this.cfg.dataDir, f.path).replaceAll("'", "''")}'`).join(', ');
      // Unifying schemas costs a footer read per file: only when the files differ.
      const uniform = group.every((f) => f.columns.size === present.size);
      parts.push(
        `SELECT ${parquetRead(def, present, format)} FROM read_parquet([${list}]${uniform ? '' : ', union_by_name = true'})`,
      );
    }
    return `(${parts.join(' UNION ALL ')})`;
  }

  private where(
    def: AnyRecordDef,
    q0: TimeRange & { filter?: Cond | null | undefined },
    p: Params,
  ): string[] {
    const out: string[] = [];
    const t = q(def.timeField);
    if (q0.after !== undefined) out.push(`${t} >= ${p.add('ts', q0.after)}`);
    if (q0.before !== undefined) out.push(`${t} < ${p.add('ts', q0.before)}`);
    if (q0.filter) out.push(condSql(q0.filter, def, p));
    return out;
  }

  async list(lq: ListQuery): Promise<Page> {
    const def = this.def(lq.type);
    if (!def) return { items: [], next: null };
    const fields = checkFields(def, lq.fields);
    const sort = sortField(def, lq.sort);
    const desc = lq.desc ?? true;
    const selected = [...new Set([...fields, sort])];
    const rows = await this.withReader(() => {
      const p = new Params();
      const conds = this.where(def, lq, p);
      const st = def.fields[sort]!.type;
      const sc = col(sort, def);
      if (lq.cursor) {
        const [v, s] = decodeCursor(lq.cursor, st);
        const lt = desc ? '<' : '>';
        const seq = p.add('int', s);
        if (v === null) conds.push(`(${sc} IS NULL AND _seq ${lt} ${seq})`);
        else {
          const pv = p.add(st, v);
          conds.push(`(${sc} ${lt} ${pv} OR (${sc} = ${pv} AND _seq ${lt} ${seq}) OR ${sc} IS NULL)`);
        }
      }
      const dir = desc ? 'DESC' : 'ASC';
      const sql = `SELECT ${selected.map((f) => col(f, def)).join(', ')}, _seq FROM ${this.source(def, lq)} AS r${
        conds.length ? ` WHERE ${conds.join(' AND ')}` : ''
      } ORDER BY ${sc} ${dir} NULLS LAST, _seq ${dir} LIMIT ${Math.max(1, Math.floor(lq.limit)) + 1}`;
      return async (c) => {
        const r = await c.run(sql, p.values);
        const chunks: DuckDBDataChunk[] = [];
        for (let i = 0; i < r.chunkCount; i++) chunks.push(r.getChunk(i));
        return convertChunks(def, [...selected, '_seq'], chunks);
      };
    });
    return pageOf(rows, lq.limit, sort, fields);
  }

  async stream(
    lq: Omit<ListQuery, 'limit' | 'cursor'> & { limit?: number },
    onRows: (rows: Rec[]) => Promise<void> | void,
  ): Promise<number> {
    const def = this.def(lq.type);
    if (!def) return 0;
    const fields = checkFields(def, lq.fields);
    return this.withReader(() => {
      const { sql, p } = this.exportSql(
        def,
        lq,
        fields.map((f) => col(f, def)),
      );
      return (c) => streamRows(c, sql, p.values, def, fields, onRows);
    });
  }

  private exportSql(
    def: AnyRecordDef,
    lq: Omit<ListQuery, 'limit' | 'cursor'> & { limit?: number },
    select: string[],
  ): { sql: string; p: Params } {
    const sort = sortField(def, lq.sort);
    const p = new Params();
    const conds = this.where(def, lq, p);
    const dir = (lq.desc ?? true) ? 'DESC' : 'ASC';
    const sql = `SELECT ${select.join(', ')} FROM ${this.source(def, lq)} AS r${
      conds.length ? ` WHERE ${conds.join(' AND ')}` : ''
    } ORDER BY ${col(sort, def)} ${dir} NULLS LAST, _seq ${dir}${lq.limit ? ` LIMIT ${Math.floor(lq.limit)}` : ''}`;
    return { sql, p };
  }

  async exportParquet(
    lq: Omit<ListQuery, 'limit' | 'cursor'> & { limit?: number },
    path: string,
  ): Promise<number> {
    const def = this.def(lq.type);
    const fields = def ? checkFields(def, lq.fields) : [];
    if (!def) {
      await this.withReader(
        () => (c) => c.run(`COPY (SELECT 1 AS empty WHERE FALSE) TO '${sqlPath(path)}' (FORMAT parquet)`),
      );
      return 0;
    }
    // Addresses and MACs are exported as text so any Parquet reader shows them as people do.
    const select = fields.map((f) => {
      const t = def.fields[f]!.type;
      const c = col(f, def);
      if (t === 'ip') return `vt_ip(${c}) AS ${c}`;
      if (t === 'mac') return `vt_mac(${c}) AS ${c}`;
      return c;
    });
    return this.withReader(() => {
      const { sql, p } = this.exportSql(def, lq, select);
      return async (c) => {
        await c.run(MACROS);
        // COPY takes no parameters, so the rows are first materialised in a temp table.
        const tmp = `export_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e9)}`;
        await c.run(`CREATE TEMP TABLE ${tmp} AS ${sql}`, p.values);
        try {
          await c.run(`COPY ${tmp} TO '${sqlPath(path)}' (FORMAT parquet, COMPRESSION zstd)`);
          const r = await c.runAndReadAll(`SELECT count(*) FROM ${tmp}`);
          return Number(r.getRows()[0]![0]);
        } finally {
          await c.run(`DROP TABLE ${tmp}`);
        }
      };
    });
  }

  async count(type: string, q0: TimeRange & { filter?: Cond | null }): Promise<number> {
    const def = this.def(type);
    if (!def) return 0;
    return this.withReader(() => {
      const p = new Params();
      const conds = this.where(def, q0, p);
      const sql = `SELECT count(*) FROM ${this.source(def, q0)} AS r${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''}`;
      return async (c) => Number((await c.runAndReadAll(sql, p.values)).getRows()[0]![0]);
    });
  }

  /**
   * Identical requests share one computation, never a stale result. A computation not yet
   * started is joined by any identical request (it reads the rows as they are when it starts,
   * after that request came); a started or finished one only while no commit was acknowledged
   * since it started. One computation per query runs at a time: the requests that come while
   * it runs share the next one, so four viewers polling the same panel while commits follow
   * each other cost at most two queries at once, not four.
   */
  private cached<T>(kind: string, query: object, fn: () => Promise<T>): Promise<T> {
    const key = `${kind}:${JSON.stringify(query, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (
      hit &&
      (hit.gen === -1 || (hit.gen === this.generation && (hit.pending || now - hit.at < CACHE_MS)))
    ) {
      this.shared++;
      if (hit.pending) {
        const t0 = performance.now();
        const done = () => {
          this.readStats.sharedWaitMs += performance.now() - t0;
        };
        hit.value.then(done, done);
      }
      return hit.value as Promise<T>;
    }
    const prev = hit?.pending ? hit.value : undefined;
    const entry: Flight = { gen: -1, at: now, pending: true, value: Promise.resolve() };
    entry.value = (async () => {
      if (prev) await prev.catch(() => undefined);
      entry.gen = this.generation;
      entry.at = Date.now();
      return fn();
    })();
    this.cache.delete(key);
    this.cache.set(key, entry);
    entry.value.then(
      () => {
        entry.pending = false;
      },
      () => {
        entry.pending = false;
        if (this.cache.get(key) === entry) this.cache.delete(key);
      },
    );
    while (this.cache.size > CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    return entry.value as Promise<T>;
  }

  /** Requests answered by a computation another identical request started (single flight). */
  shared = 0;
  /**
   * Where reads spend their time: waiting for a reader connection, and running (DuckDB's
   * locks included: a query waits inside DuckDB while a commit holds them); and the time the
   * synchronous column commits held the main thread.
   */
  readonly readStats = {
    queries: 0,
    waitMs: 0,
    runMs: 0,
    commits: 0,
    commitMs: 0,
    commitMaxMs: 0,
    stagedCommits: 0,
    sharedWaitMs: 0,
    stageMs: 0,
    stageMaxMs: 0,
  };

  timeseries(sq: SeriesQuery): Promise<Series> {
    return this.cached('series', sq, () => this.timeseriesNow(sq));
  }

  /**
   * The SQL of an ungrouped, unfiltered series from the per-minute rollup of the compacted
   * partitions, the live rows, and raw Parquet rows only in the partial minutes at the edges.
   */
  private rollupSeriesSql(def: AnyRecordDef, sq: SeriesQuery, stepUs: number, p: Params): string | null {
    if (sq.groupBy || sq.filter || stepUs % MINUTE_US !== 0 || def !== this.rollupDef()) return null;
    if (sq.after === undefined || sq.before === undefined) return null;
    const a = Math.ceil(sq.after / MINUTE_US) * MINUTE_US;
    const b = Math.floor(sq.before / MINUTE_US) * MINUTE_US;
    if (a < 0 || a >= b) return null;
    const m = METRIC_SQL[sq.metric];
    const mr = ROLLUP_METRIC[sq.metric];
    const t = q(def.timeField);
    const bucket = `(epoch_us(${t}) // ${stepUs}) * ${stepUs}`;
    const after = p.add('ts', sq.after);
    const before = p.add('ts', sq.before);
    const parts = [
      `SELECT (minute // ${stepUs}) * ${stepUs} AS b, ${mr.num} AS num, ${mr.den} AS den FROM ${ROLLUP} WHERE minute >= ${a} AND minute < ${b} GROUP BY 1`,
      `SELECT ${bucket} AS b, ${m.num} AS num, ${m.den} AS den FROM ${this.liveSrc(def)} WHERE ${t} >= ${after} AND ${t} < ${before} GROUP BY 1`,
    ];
    const edges: string[] = [];
    if (sq.after < a) edges.push(`(${t} >= ${after} AND ${t} < ${p.add('ts', a)})`);
    if (b < sq.before) edges.push(`(${t} >= ${p.add('ts', b)} AND ${t} < ${before})`);
    if (edges.length > 0) {
      const src = this.source(def, { after: sq.after, before: sq.before }, false);
      parts.push(
        `SELECT ${bucket} AS b, ${m.num} AS num, ${m.den} AS den FROM ${src} AS r WHERE ${edges.join(' OR ')} GROUP BY 1`,
      );
    }
    return `SELECT b, sum(num) AS num, sum(den) AS den FROM (${parts.join(' UNION ALL ')}) GROUP BY b ORDER BY b LIMIT ${MAX_GROUP_ROWS + 1}`;
  }

  /**
   * A series of bytes, packets or flows, whole or grouped by a rolled-up dimension, from the
   * top-N rollups: their rows for the whole minutes of the range (compacted partitions and live
   * chunks), and raw rows only past the live chunks and in the partial minutes at the edges.
   */
  private topSeriesSql(def: AnyRecordDef, sq: SeriesQuery, stepUs: number, p: Params): string | null {
    if (sq.filter || stepUs % MINUTE_US !== 0 || stepUs <= 0) return null;
    if (sq.metric !== 'bps' && sq.metric !== 'pps' && sq.metric !== 'flows') return null;
    const dims = this.topDims.get(def.type);
    const dim = sq.groupBy ?? dims?.[0];
    if (!dims || dim === undefined || !dims.includes(dim)) return null;
    // Times before 1970 bucket differently by minute than by row (DuckDB's `//` truncates).
    if (sq.after === undefined || sq.before === undefined || sq.after < 0) return null;
    const a = Math.ceil(sq.after / MINUTE_US) * MINUTE_US;
    const b = Math.floor(sq.before / MINUTE_US) * MINUTE_US;
    const grouped = sq.groupBy !== undefined;
    const num = sq.metric === 'bps' ? 'sum(bytes) * 8' : sq.metric === 'pps' ? 'sum(packets)' : 'sum(flows)';
    const sums = (table: string, conds: string[]): string =>
      `SELECT (minute // ${stepUs}) * ${stepUs} AS b${grouped ? ', k AS g' : ''}, ${num} AS num, sum(flows) AS den FROM ${table} WHERE ${conds.join(' AND ')} GROUP BY ALL`;
    const m = METRIC_SQL[sq.metric];
    const t = q(def.timeField);
    const raw = (src: string, conds: string[]): string =>
      `SELECT (epoch_us(${t}) // ${stepUs}) * ${stepUs} AS b${grouped ? `, ${col(dim, def)} AS g` : ''}, ${m.num} AS num, ${m.den} AS den FROM ${src} AS r WHERE ${conds.join(' AND ')} GROUP BY ALL`;
    const after = p.add('ts', sq.after);
    const before = p.add('ts', sq.before);
    const parts: string[] = [];
    const live = [`${t} >= ${after}`, `${t} < ${before}`];
    const edges: TimeRange[] = [];
    if (a < b) {
      const minutes = [`minute >= ${a}`, `minute < ${b}`];
      parts.push(sums(topRollupTable(def, dim), minutes));
      parts.push(sums(liveRollupTable(def, dim), minutes));
      live.push(
        `(_seq > ${liveWatermark(def, dim)} OR ${t} < ${p.add('ts', a)} OR ${t} >= ${p.add('ts', b)})`,
      );
      if (sq.after < a) edges.push({ after: sq.after, before: a });
      if (b < sq.before) edges.push({ after: b, before: sq.before });
    } else edges.push({ after: sq.after, before: sq.before });
    parts.push(raw(this.liveSrc(def), live));
    for (const e of edges)
      parts.push(
        raw(this.source(def, e, false), [
          `${t} >= ${p.add('ts', e.after!)}`,
          `${t} < ${p.add('ts', e.before!)}`,
        ]),
      );
    return `SELECT b${grouped ? ', g' : ''}, sum(num) AS num, sum(den) AS den FROM (${parts.join(' UNION ALL ')}) GROUP BY ALL ORDER BY b LIMIT ${MAX_GROUP_ROWS + 1}`;
  }

  private async timeseriesNow(sq: SeriesQuery): Promise<Series> {
    const def = this.def('flow')!;
    if (sq.stat && sq.stat !== 'mean') return this.statSeries(def, sq, sq.stat);
    const m = METRIC_SQL[sq.metric];
    const stepUs = Math.round(sq.step * 1e6);
    const t = q(def.timeField);
    const g = sq.groupBy ? col(sq.groupBy, def) : null;
    if (sq.groupBy && !Object.hasOwn(def.fields, sq.groupBy))
      throw badRequest(`cannot group by '${sq.groupBy}'`);
    const rows = await this.withReader(() => {
      const pr = new Params();
      const rollup = this.topSeriesSql(def, sq, stepUs, pr) ?? this.rollupSeriesSql(def, sq, stepUs, pr);
      const p = rollup ? pr : new Params();
      const conds = rollup ? [] : this.where(def, sq, p);
      const sql =
        rollup ??
        `SELECT (epoch_us(${t}) // ${stepUs}) * ${stepUs} AS b, ${g ? `${g} AS g, ` : ''}${m.num} AS num, ${m.den} AS den FROM ${this.source(def, sq)} AS r${
          conds.length ? ` WHERE ${conds.join(' AND ')}` : ''
        } GROUP BY ALL ORDER BY b LIMIT ${MAX_GROUP_ROWS + 1}`;
      return async (c) => (await c.runAndReadAll(sql, p.values)).getRows();
    });
    if (rows.length > MAX_GROUP_ROWS) {
      throw badRequest(
        `too many points (over ${MAX_GROUP_ROWS}); use a larger step, a shorter range or a coarser group_by`,
      );
    }
    const gt = sq.groupBy ? def.fields[sq.groupBy]!.type : 'string';
    return seriesFromParts(
      seriesParts(rows, g !== null, (v) => toJson(gt, v)),
      sq,
      m.unit,
    );
  }

  /** A quantile (or max) of a per-flow metric per bucket; groups ranked by flows measured. */
  private async statSeries(def: AnyRecordDef, sq: SeriesQuery, stat: SeriesStat): Promise<Series> {
    if (!PER_FLOW_METRICS.includes(sq.metric)) {
      throw badRequest(`stat ${stat} applies to ${PER_FLOW_METRICS.join(' and ')}, not to ${sq.metric}`);
    }
    if (sq.groupBy && !Object.hasOwn(def.fields, sq.groupBy))
      throw badRequest(`cannot group by '${sq.groupBy}'`);
    const stepUs = Math.round(sq.step * 1e6);
    const g = sq.groupBy ? col(sq.groupBy, def) : null;
    const rows = await this.withReader(() => {
      const p = new Params();
      const conds = this.where(def, sq, p);
      const f = q(sq.metric);
      conds.push(`${f} IS NOT NULL`);
      const agg = stat === 'max' ? `max(${f})` : `quantile_cont(${f}, ${Number(stat.slice(1)) / 100})`;
      const t = q(def.timeField);
      const sql = `SELECT (epoch_us(${t}) // ${stepUs}) * ${stepUs} AS b, ${g ? `${g} AS g, ` : ''}${agg} AS v, count(*) AS n FROM ${this.source(def, sq)} AS r WHERE ${conds.join(' AND ')} GROUP BY ALL ORDER BY b LIMIT ${MAX_GROUP_ROWS + 1}`;
      return async (c) => (await c.runAndReadAll(sql, p.values)).getRows();
    });
    if (rows.length > MAX_GROUP_ROWS) {
      throw badRequest(`too many points (over ${MAX_GROUP_ROWS}); use a larger step or a shorter range`);
    }
    const gt = sq.groupBy ? def.fields[sq.groupBy]!.type : 'string';
    return statSeriesFromParts(
      statParts(rows, g !== null, (v) => toJson(gt, v)),
      sq,
      stat,
      METRIC_SQL[sq.metric].unit,
    );
  }

  /** Top-N: shared by identical concurrent requests (see `cached`), exact. */
  top(tq: TopQuery): Promise<TopRow[]> {
    return this.cached('top', tq, () => this.topNow(tq));
  }

  private async topNow(tq: TopQuery): Promise<TopRow[]> {
    const def = this.def(tq.type);
    if (!def) return [];
    if (!Object.hasOwn(def.fields, tq.dim))
      throw badRequest(`cannot rank by '${tq.dim}': not a field of ${def.type}`);
    const m = topMeasures(def);
    const k = col(tq.dim, def);
    const rows = await this.withReader(() => {
      const p = new Params();
      const rawPart = (src: string, conds: string[]): string =>
        `SELECT ${k} AS k, sum(${m.bytes}) AS bytes, sum(${m.packets}) AS packets, ${m.flows} AS flows FROM ${src} AS r${
          conds.length ? ` WHERE ${conds.join(' AND ')}` : ''
        } GROUP BY 1`;
      const parts = this.topRollupParts(def, tq, p, rawPart) ?? [
        rawPart(this.source(def, tq), this.where(def, tq, p)),
      ];
      const order = tq.by === 'flows' ? 'flows' : tq.by;
      const sql = `SELECT k, sum(bytes) AS bytes, sum(packets) AS packets, sum(flows) AS flows FROM (${parts.join(
        ' UNION ALL ',
      )}) GROUP BY k ORDER BY ${order} DESC, flows DESC, k NULLS LAST LIMIT ${Math.floor(tq.limit)}`;
      return async (c) => (await c.runAndReadAll(sql, p.values)).getRows();
    });
    const t = def.fields[tq.dim]!.type;
    return rows.map((r) => ({
      key: toJson(t, r[0]) as TopRow['key'],
      bytes: Number(r[1] ?? 0),
      packets: Number(r[2] ?? 0),
      flows: Number(r[3] ?? 0),
    }));
  }

  /**
   * The parts of a top-N read from the per-minute rollups: the rollup rows of the whole
   * minutes in the range (every compacted partition), the live rows in the range, and raw
   * Parquet rows only in the partial minutes at the range's edges. Null when the dimension is
   * not rolled up or a filter needs the rows themselves.
   */
  private topRollupParts(
    def: AnyRecordDef,
    tq: TopQuery,
    p: Params,
    rawPart: (src: string, conds: string[]) => string,
  ): string[] | null {
    if (tq.filter || !this.topDims.get(def.type)?.includes(tq.dim)) return null;
    const { a, b } = wholeMinutes(tq.after, tq.before);
    const t = q(def.timeField);
    const parts: string[] = [];
    // With no range at all: the partitions' totals, one row per key (rows without a time too).
    if (a === undefined && b === undefined)
      parts.push(`SELECT k, bytes, packets, flows FROM ${topTotalTable(def, tq.dim)}`);
    else if (a === undefined || b === undefined || a < b) {
      const conds: string[] = [];
      if (a !== undefined) conds.push(`minute >= ${a}`);
      if (b !== undefined) conds.push(`minute < ${b}`);
      parts.push(
        `SELECT k, sum(bytes) AS bytes, sum(packets) AS packets, sum(flows) AS flows FROM ${topRollupTable(def, tq.dim)}${
          conds.length ? ` WHERE ${conds.join(' AND ')}` : ''
        } GROUP BY 1`,
      );
    }
    // Live rows: chunk sums for the whole minutes, raw rows past the chunks and at the edges.
    const live = this.where(def, tq, p);
    if (a === undefined || b === undefined || a < b) {
      const conds: string[] = [];
      if (a !== undefined) conds.push(`minute >= ${a}`);
      if (b !== undefined) conds.push(`minute < ${b}`);
      parts.push(
        `SELECT k, sum(bytes) AS bytes, sum(packets) AS packets, sum(flows) AS flows FROM ${liveRollupTable(def, tq.dim)}${
          conds.length ? ` WHERE ${conds.join(' AND ')}` : ''
        } GROUP BY 1`,
      );
      const outside: string[] = [`_seq > ${liveWatermark(def, tq.dim)}`];
      if (a !== undefined) outside.push(`${t} < ${p.add('ts', a)}`);
      if (b !== undefined) outside.push(`${t} >= ${p.add('ts', b)}`);
      live.push(`(${outside.join(' OR ')})`);
    }
    parts.push(rawPart(this.liveSrc(def), live));
    const edges: TimeRange[] = [];
    if (a !== undefined && b !== undefined && a >= b) edges.push({ after: tq.after!, before: tq.before! });
    else {
      if (tq.after !== undefined && tq.after < a!)
        edges.push({ after: tq.after, before: tq.before === undefined ? a! : Math.min(a!, tq.before) });
      if (tq.before !== undefined && b! < tq.before)
        edges.push({ after: tq.after === undefined ? b! : Math.max(b!, tq.after), before: tq.before });
    }
    for (const e of edges) {
      if (e.after! >= e.before!) continue;
      parts.push(
        rawPart(this.source(def, e, false), [
          `${t} >= ${p.add('ts', e.after!)}`,
          `${t} < ${p.add('ts', e.before!)}`,
        ]),
      );
    }
    return parts;
  }

  async distinct(
    type: string,
    field: string,
    dq: TimeRange & { filter?: Cond | null; limit: number },
  ): Promise<{ value: unknown; first: string; last: string; count: number }[]> {
    const def = this.def(type);
    if (!def || !Object.hasOwn(def.fields, field)) return [];
    const rows = await this.withReader(() => {
      const p = new Params();
      const conds = [...this.where(def, dq, p), `${col(field, def)} IS NOT NULL`];
      const t = q(def.timeField);
      const sql = `SELECT ${col(field, def)}, epoch_us(min(${t})), epoch_us(max(${t})), count(*) AS n FROM ${this.source(def, dq)} AS r WHERE ${conds.join(
        ' AND ',
      )} GROUP BY 1 ORDER BY n DESC LIMIT ${Math.floor(dq.limit)}`;
      return async (c) => (await c.runAndReadAll(sql, p.values)).getRows();
    });
    const ft = def.fields[field]!.type;
    return rows.map((r) => ({
      value: toJson(ft, r[0]),
      first: microsToIso(Number(r[1])),
      last: microsToIso(Number(r[2])),
      count: Number(r[3]),
    }));
  }

  /**
   * Retro-hunt: the hunted addresses and networks go into a temporary table, one row per
   * prefix (`shift`, `net`), and each address column is joined against it once per prefix
   * length in use (a hash semi-join: `(ip >> shift) IN (...)`), with the time range. A thousand
   * indicators over ten million flows read only the hits instead of sending every row out.
   */
  async hunt(
    hq: import('../types.js').HuntQuery,
    onRows: (rows: Rec[]) => Promise<void> | void,
  ): Promise<number> {
    const def = this.def(hq.type);
    if (!def || hq.nets.length === 0 || hq.ipFields.length === 0) return 0;
    const fields = checkFields(def, hq.fields);
    for (const f of hq.ipFields)
      if (def.fields[f]?.type !== 'ip') throw badRequest(`'${f}' is not an address field of ${def.type}`);
    const shifts = [...new Set(hq.nets.map((n) => n.shift))].sort((a, b) => a - b);
    if (shifts.some((s) => !Number.isInteger(s) || s < 0 || s >= 128))
      throw badRequest('hunt: a prefix shift is out of range');
    const tmp = `hunt_${process.pid}_${++huntSeq}`;
    return this.withReader(() => {
      const p = new Params();
      const conds = this.where(def, hq, p);
      const any = hq.ipFields.flatMap((f) =>
        shifts.map((s) => `(${col(f, def)} >> ${s}) IN (SELECT net FROM ${tmp} WHERE shift = ${s})`),
      );
      conds.push(`(${any.join(' OR ')})`);
      const t = col(def.timeField, def);
      const sql = `SELECT ${fields.map((f) => col(f, def)).join(', ')} FROM ${this.source(def, hq)} AS r WHERE ${conds.join(
        ' AND ',
      )} ORDER BY ${t} DESC NULLS LAST, _seq DESC`;
      return async (c) => {
        await c.run(`CREATE TEMP TABLE ${tmp} (shift INTEGER, net UHUGEINT)`);
        try {
          for (let k = 0; k < hq.nets.length; k += 2000) {
            const values = hq.nets
              .slice(k, k + 2000)
              .map((n) => `(${Math.floor(n.shift)}, CAST('${BigInt(n.net).toString()}' AS UHUGEINT))`);
            await c.run(`INSERT INTO ${tmp} VALUES ${values.join(', ')}`);
          }
          return await streamRows(c, sql, p.values, def, fields, onRows);
        } finally {
          await c.run(`DROP TABLE IF EXISTS ${tmp}`);
        }
      };
    });
  }
}

let huntSeq = 0;

/** Live chunks merged into one past this many (see `rollLive`). */
const MERGE_CHUNKS = 4;

/** Closed live generations a type may have waiting for compaction before the newest grows on. */
const MAX_CLOSED = 2;
/** A failed compaction is tried again after this long, ms (or at once when one is called for). */
const COMPACT_RETRY_MS = 60_000;
/** How long after a failed live rollup the next is tried (the live rows are summed then). */
const ROLL_RETRY_MS = 5_000;

/**
 * The last `_seq` the live chunks cover, read in the query's own snapshot: a chunk committed,
 * merged or compacted away while the query was being built is then seen consistently with
 * the live rows (a watermark kept in JavaScript could disagree with the snapshot).
 */
const liveWatermark = (def: AnyRecordDef, dim: string): string =>
  `(SELECT coalesce(max(hi), 0) FROM ${liveRollupTable(def, dim)})`;

/** A shared computation: `gen` -1 until it starts, then the generation it started at. */
interface Flight {
  gen: number;
  at: number;
  pending: boolean;
  value: Promise<unknown>;
}

const CACHE_MS = 2000;
const CACHE_ENTRIES = 256;

/** Per-minute sums of the compacted flow partitions, written in the compaction's transaction. */
const ROLLUP = '_rollup_flow';
const ROLLUP_COLS =
  'path VARCHAR, minute BIGINT, flows BIGINT, bytes HUGEINT, packets HUGEINT, rtt_sum DOUBLE, rtt_n BIGINT, srt_sum DOUBLE, srt_n BIGINT, retrans HUGEINT';
const ROLLUP_FIELDS = [
  'first_ts',
  'client_wire_bytes',
  'server_wire_bytes',
  'client_packets',
  'server_packets',
  'rtt_ms',
  'srt_ms',
  'client_retransmissions',
  'server_retransmissions',
  'sampling_rate',
];

/**
 * A flow's weight in the KPI sums: a flow a mirror kept 1 in N under overload stands for N
 * (see `flowWeight`). Means of per-flow times (RTT, SRT) are over the flows kept.
 */
const W = 'coalesce(sampling_rate, 1)';

/** Rollup rows (path = $1) of the flow rows of `src` matching `where`. */
function rollupInsertSql(src: string, where: string): string {
  return `INSERT INTO ${ROLLUP} SELECT $1, (epoch_us("first_ts") // ${MINUTE_US}) * ${MINUTE_US} AS m, sum(${W}),
    sum((coalesce(client_wire_bytes, 0) + coalesce(server_wire_bytes, 0)) * ${W}),
    sum((coalesce(client_packets, 0) + coalesce(server_packets, 0)) * ${W}),
    sum(rtt_ms), count(rtt_ms), sum(srt_ms), count(srt_ms),
    sum((coalesce(client_retransmissions, 0) + coalesce(server_retransmissions, 0)) * ${W})
    FROM ${src} WHERE (${where}) AND epoch_us("first_ts") >= 0 GROUP BY m`;
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
    num: `sum((coalesce(client_wire_bytes, 0) + coalesce(server_wire_bytes, 0)) * ${W}) * 8`,
    den: `sum(${W})`,
    unit: 'bit/s',
  },
  pps: {
    num: `sum((coalesce(client_packets, 0) + coalesce(server_packets, 0)) * ${W})`,
    den: `sum(${W})`,
    unit: 'packets/s',
  },
  flows: { num: `sum(${W})`, den: `sum(${W})`, unit: 'flows/s' },
  rtt_ms: { num: 'sum(rtt_ms)', den: 'count(rtt_ms)', unit: 'ms' },
  srt_ms: { num: 'sum(srt_ms)', den: 'count(srt_ms)', unit: 'ms' },
  retrans_rate: {
    num: `sum((coalesce(client_retransmissions, 0) + coalesce(server_retransmissions, 0)) * ${W})`,
    den: `sum((coalesce(client_packets, 0) + coalesce(server_packets, 0)) * ${W})`,
    unit: 'ratio',
  },
};

/** SQL macros that format coded addresses and MACs as text (used by the Parquet export). */
const MACROS = `
CREATE OR REPLACE TEMP MACRO vt_ip(x) AS CASE WHEN x IS NULL THEN NULL
  WHEN (x >> 32) = 65535 THEN concat_ws('.', CAST((x >> 24) & 255 AS VARCHAR), CAST((x >> 16) & 255 AS VARCHAR), CAST((x >> 8) & 255 AS VARCHAR), CAST(x & 255 AS VARCHAR))
  ELSE array_to_string(list_transform(range(0, 8), i -> printf('%x', CAST((x >> CAST((7 - i) * 16 AS UHUGEINT)) & CAST(65535 AS UHUGEINT) AS BIGINT))), ':') END;
CREATE OR REPLACE TEMP MACRO vt_mac(x) AS CASE WHEN x IS NULL THEN NULL ELSE
  (SELECT concat_ws(':', h[1:2], h[3:4], h[5:6], h[7:8], h[9:10], h[11:12]) FROM (SELECT printf('%012x', x) AS h)) END;
`;

/** Run `sql` and hand its rows to `onRows` a DuckDB chunk at a time; the number of rows. */
async function streamRows(
  c: DuckDBConnection,
  sql: string,
  values: Params['values'],
  def: AnyRecordDef,
  fields: string[],
  onRows: (rows: Rec[]) => Promise<void> | void,
): Promise<number> {
  const res = await c.stream(sql, values);
  let n = 0;
  for (;;) {
    const chunk = await res.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const rows = convertChunks(def, fields, [chunk]);
    n += rows.length;
    await onRows(rows);
  }
  return n;
}

function sqlPath(p: string): string {
  if (/[\0\n\r]/.test(p)) throw new Error('invalid path');
  return p.replaceAll("'", "''");
}

/** A stored value as the API shows it. */
function toJson(type: string, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'ip':
      return bigintToIp(BigInt(v as bigint));
    case 'mac':
      return numberToMac(Number(v));
    case 'int':
      return Number(v);
    case 'ts':
      return microsToIso(Number((v as { micros: bigint }).micros ?? v));
    case 'string[]':
    case 'int[]':
    case 'json':
      try {
        return JSON.parse(String(v));
      } catch {
        return null;
      }
    default:
      return v;
  }
}

function convertChunks(def: AnyRecordDef, names: string[], chunks: readonly DuckDBDataChunk[]): Rec[] {
  const out: Rec[] = [];
  const types = names.map((n) => (n === '_seq' ? 'int' : def.fields[n]!.type));
  for (const chunk of chunks) {
    const n = chunk.rowCount;
    const base = out.length;
    for (let r = 0; r < n; r++) out.push({});
    for (let c = 0; c < names.length; c++) {
      const vec = chunk.getColumnVector(c);
      const name = names[c]!;
      const t = types[c]!;
      for (let r = 0; r < n; r++) out[base + r]![name] = toJson(t, vec.getItem(r));
    }
  }
  return out;
}

function syncFile(path: string): void {
  try {
    const fd = openSync(path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {}
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  let ents: import('node:fs').Dirent[];
  try {
    ents = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of ents) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}
