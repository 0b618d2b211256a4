/**
 * A bulk type's column batches encoded straight into a Parquet file of the compaction's format
 * (schema.ts `parquetSelect`, format 2), without DuckDB: Arrow vectors made from the batches'
 * typed arrays (strings stay the batch's dictionary), written by arrow-rs (parquet-wasm) with
 * zstd. Runs on a worker thread; nothing here touches the store's database.
 */

import { createRequire } from 'node:module';
import {
  Bool,
  type Data,
  type DataType,
  Dictionary,
  Field,
  Float64,
  Int32,
  Int64,
  makeData,
  makeVector,
  RecordBatch,
  Schema,
  Struct,
  Table,
  Timestamp,
  TimeUnit,
  tableToIPC,
  Uint64,
  Utf8,
} from 'apache-arrow';
import { parseIpv4, parseIpv6 } from '../src/common/addr.js';
import type { AnyRecordDef } from '../src/schema/registry.js';
import type { Columnar } from '../src/store/columnar.js';
import { columnsOf } from '../src/store/embedded/schema.js';
import { isoToMicros, macToNumber } from '../src/store/values.js';

type ParquetWasm = typeof import('parquet-wasm');
const pw = createRequire(import.meta.url)('parquet-wasm') as ParquetWasm;

const TWO32 = 4294967296;

export interface PartMeta {
  rows: number;
  /** µs of the time field, min and max (0 when the batch has none). */
  minTs: number;
  maxTs: number;
  maxSeq: number;
}

export interface EncodeOptions {
  rowGroupRows?: number;
  /** Dictionary encoding: for text columns only (default), every column, or none. */
  dictionary?: 'text' | 'all' | 'none';
  /** Statistics: none, per column chunk (default: what DuckDB prunes row groups by), per page. */
  statistics?: 'none' | 'chunk' | 'page';
  /** Integer columns' encoding when not dictionary coded (default delta, as DuckDB's V2). */
  intDelta?: boolean;
  compression?: 'zstd' | 'snappy' | 'lz4' | 'none';
  /** When given, CPU-s of each stage are added to it: fill, Arrow IPC, into wasm, Parquet write. */
  stages?: number[];
}

const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

interface Col {
  field: Field;
  data: Data;
}

/** Null bitmap (Arrow: bit set = valid) of n rows, and its null count. */
class Valid {
  bits: Uint8Array;
  nulls = 0;
  constructor(n: number) {
    this.bits = new Uint8Array((n + 7) >> 3).fill(0xff);
  }
  copy(): Valid {
    const c = new Valid(0);
    c.bits = this.bits.slice();
    c.nulls = this.nulls;
    return c;
  }
  clear(r: number): void {
    this.bits[r >> 3]! &= ~(1 << (r & 7));
    this.nulls++;
  }
}

const JOB_INT = 0;
const JOB_TS = 1;
const JOB_FLOAT = 2;
const JOB_BOOL = 3;
const BLOCK = 2048;

/** A number-held field's fill: where its values go. */
interface NumJob {
  kind: number;
  /** The field's index in each row's numbers. */
  j: number;
  /** int64 words (ints, times; a float's whole thousandths). */
  w: Int32Array | null;
  /** A float's other values. */
  x: Float64Array | null;
  v: Valid;
  /** A float's `__x` validity. */
  v2: Valid | null;
  bits?: Uint8Array;
}

/** Fill every number-held field of the part, a block of rows at a time. */
function fillNumbers(jobs: readonly NumJob[], parts: readonly Columnar[], nn: number): void {
  let r0 = 0;
  for (const { f, rows } of parts) {
    const m = rows.length;
    for (let b = 0; b < m; b += BLOCK) {
      const e = Math.min(m, b + BLOCK);
      for (const job of jobs) {
        const j = job.j;
        const v = job.v;
        switch (job.kind) {
          case JOB_INT:
          case JOB_TS: {
            const w = job.w!;
            const ts = job.kind === JOB_TS;
            for (let q = b, r = r0 + b; q < e; q++, r++) {
              const y = f[rows[q]! * nn + j]!;
              if (Number.isNaN(y)) {
                v.clear(r);
                continue;
              }
              const x = ts ? Math.round(y * 1000) : Math.trunc(y);
              if (x >= 0 && x < TWO32) {
                // An Int32Array store keeps the low 32 bits, as the word needs.
                w[r * 2] = x;
                w[r * 2 + 1] = 0;
              } else put64(w, r, x);
            }
            break;
          }
          case JOB_FLOAT:
            for (let q = b, r = r0 + b; q < e; q++, r++)
              putFloat(job.w!, job.x!, v, job.v2!, r, f[rows[q]! * nn + j]!);
            break;
          default: {
            const bits = job.bits!;
            for (let q = b, r = r0 + b; q < e; q++, r++) {
              const x = f[rows[q]! * nn + j]!;
              if (Number.isNaN(x)) v.clear(r);
              else if (x !== 0) bits[r >> 3]! |= 1 << (r & 7);
            }
          }
        }
      }
    }
    r0 += m;
  }
}

/** Format 2's float: whole thousandths as integers (`__k`), other values as doubles (`__x`). */
function putFloat(kw: Int32Array, xb: Float64Array, kv: Valid, xv: Valid, r: number, x: number): void {
  const t = Math.round(x * 1000);
  if (t / 1000 === x && Math.abs(t) < 2 ** 53) {
    put64(kw, r, t);
    xv.clear(r);
  } else {
    kv.clear(r);
    if (Number.isNaN(x)) xv.clear(r);
    else xb[r] = x;
  }
}

/** A column of fixed-width values (`data` as Arrow lays them out for `type`). */
function fixed(name: string, type: DataType, n: number, v: Valid, data: ArrayBufferView): Col {
  return {
    field: new Field(name, type, true),
    data: makeData({
      type,
      length: n,
      nullCount: v.nulls,
      nullBitmap: v.nulls > 0 ? v.bits : null,
      data,
    } as never) as Data,
  };
}

const V4_MAPPED_HI = 0xffff;

/**
 * The 128-bit code of an address (values.ts `ipToBigint`: IPv4 mapped into ::ffff:0:0/96) as four
 * 32-bit words, most significant first, at `w[o..o+3]`; false when `s` is not an address.
 */
function ipWords(w: Int32Array, o: number, s: string): boolean {
  const v4 = parseIpv4(s);
  if (v4 !== null) {
    w[o] = 0;
    w[o + 1] = 0;
    w[o + 2] = V4_MAPPED_HI;
    w[o + 3] = v4 | 0;
    return true;
  }
  const b = parseIpv6(s);
  if (!b) return false;
  for (let i = 0; i < 4; i++)
    w[o + i] = (b[i * 4]! << 24) | (b[i * 4 + 1]! << 16) | (b[i * 4 + 2]! << 8) | b[i * 4 + 3]!;
  return true;
}

/** Store a whole number (|x| < 2^63) as the two 32-bit words of an int64 at row r. */
function put64(w: Int32Array, r: number, x: number): void {
  if (x >= 0) {
    const hi = Math.floor(x / TWO32);
    w[r * 2] = (x - hi * TWO32) | 0;
    w[r * 2 + 1] = hi | 0;
  } else {
    const a = -x;
    let hi = Math.floor(a / TWO32);
    let lo = a - hi * TWO32;
    // Two's complement of (hi, lo).
    lo = TWO32 - lo;
    hi = lo === TWO32 ? -hi : ~hi;
    w[r * 2] = lo === TWO32 ? 0 : lo | 0;
    w[r * 2 + 1] = hi | 0;
  }
}

/**
 * Encode `parts` (one commit's batches of type `def`, the same field layout) with `_seq` from
 * `seq0 + 1` into Parquet bytes with the columns `parquetSelect(def)` gives.
 */
export function encodePart(
  def: AnyRecordDef,
  parts: readonly Columnar[],
  seq0: number,
  opts: EncodeOptions = {},
): { bytes: Uint8Array; meta: PartMeta } {
  const st = opts.stages;
  let t0 = st ? cpuNow() : 0;
  const lap = (k: number): void => {
    if (!st) return;
    const t = cpuNow();
    st[k] = (st[k] ?? 0) + t - t0;
    t0 = t;
  };
  const first = parts[0];
  if (!first) throw new Error('a part needs at least one batch');
  // The parts are read in place (no concatenated copy): a row's dictionary index is offset by
  // its batch's place in the one dictionary the file's text columns share.
  let n = 0;
  let dictLen = 0;
  const dbase = new Int32Array(parts.length);
  for (let k = 0; k < parts.length; k++) {
    const p = parts[k]!;
    if (p.num !== first.num && p.num.join() !== first.num.join())
      throw new Error('batches of one part differ in layout');
    if (p.str !== first.str && p.str.join() !== first.str.join())
      throw new Error('batches of one part differ in layout');
    dbase[k] = dictLen;
    n += p.rows.length;
    dictLen += p.dict.length;
  }
  const nn = first.num.length;
  const ns = first.str.length;
  const numAt = new Map(first.num.map((k, i) => [k, i]));
  const strAt = new Map(first.str.map((k, i) => [k, i]));
  const dictText = (d: number): string => {
    let k = parts.length - 1;
    while (dbase[k]! > d) k--;
    return parts[k]!.dict[d - dbase[k]!]!;
  };
  // Columns are made after every value is filled (their null counts are known only then).
  const cols: (() => Col)[] = [];
  // Number-held fields are filled together, 2,048 rows at a time: the batch is row-major, and a
  // pass per column over a whole part read every row's cache lines once per column.
  const jobs: NumJob[] = [];
  const texts: string[] = [];
  const textAt = new Int32Array(dictLen).fill(-1);
  // Made once every text column has added its entries (columns are made after the fills).
  let textVecMade: ReturnType<typeof makeVector> | null = null;
  const textVecOf = (): ReturnType<typeof makeVector> => {
    textVecMade ??= utf8Vector(texts);
    return textVecMade;
  };
  // Per-dictionary-entry conversions, made once per entry (times, addresses repeat a lot).
  const tsMemo = new Float64Array(dictLen);
  const tsDone = new Uint8Array(dictLen);
  let minTs = Number.POSITIVE_INFINITY;
  let maxTs = Number.NEGATIVE_INFINITY;
  const tsOf = (d: number): number => {
    if (tsDone[d] === 0) {
      tsMemo[d] = Math.round(isoToMicros(dictText(d)));
      tsDone[d] = 1;
    }
    return tsMemo[d]!;
  };

  for (const col of columnsOf(def)) {
    const ni = numAt.get(col.name);
    const si = strAt.get(col.name);
    const isTime = col.name === def.timeField;
    switch (col.type) {
      case 'int':
      case 'ts': {
        const ts = col.type === 'ts';
        const type = ts ? new Timestamp(TimeUnit.MICROSECOND) : new Int64();
        const buf = new BigInt64Array(n);
        const w = new Int32Array(buf.buffer);
        const v = new Valid(n);
        let r = 0;
        for (let k = 0; k < parts.length; k++) {
          const { s, rows } = parts[k]!;
          const base = dbase[k]!;
          const m = rows.length;
          if (ni !== undefined) {
            if (k === 0) jobs.push({ kind: ts ? JOB_TS : JOB_INT, j: ni, w, x: null, v, v2: null });
            r += m;
          } else if (si !== undefined) {
            for (let q = 0; q < m; q++, r++) {
              const d = s[rows[q]! * ns + si]!;
              const x = d < 0 ? Number.NaN : ts ? tsOf(base + d) : Math.trunc(Number(parts[k]!.dict[d]!));
              if (Number.isNaN(x)) v.clear(r);
              else put64(w, r, x);
            }
          } else for (let q = 0; q < m; q++, r++) v.clear(r);
        }
        cols.push(() => {
          if (isTime)
            for (let q = 0; q < n; q++) {
              // The time field's range, for the catalog's row (µs).
              if (v.nulls > 0 && (v.bits[q >> 3]! & (1 << (q & 7))) === 0) continue;
              const x = w[q * 2 + 1]! * TWO32 + (w[q * 2]! >>> 0);
              if (x < minTs) minTs = x;
              if (x > maxTs) maxTs = x;
            }
          return fixed(col.name, type, n, v, buf);
        });
        break;
      }
      case 'float': {
        // Format 2: whole thousandths as integers (`__k`), the rest as doubles (`__x`).
        const kb = new BigInt64Array(n);
        const kw = new Int32Array(kb.buffer);
        const xb = new Float64Array(n);
        const kv = new Valid(n);
        const xv = new Valid(n);
        if (ni !== undefined) jobs.push({ kind: JOB_FLOAT, j: ni, w: kw, x: xb, v: kv, v2: xv });
        else {
          let r = 0;
          for (const { s, rows, dict } of parts)
            for (let q = 0; q < rows.length; q++, r++) {
              const d = si === undefined ? -1 : s[rows[q]! * ns + si]!;
              putFloat(kw, xb, kv, xv, r, d < 0 ? Number.NaN : Number(dict[d]!));
            }
        }
        cols.push(() => fixed(`${col.name}__k`, new Int64(), n, kv, kb));
        cols.push(() => fixed(`${col.name}__x`, new Float64(), n, xv, xb));
        break;
      }
      case 'bool': {
        const bits = new Uint8Array((n + 7) >> 3);
        const v = new Valid(n);
        if (ni !== undefined) jobs.push({ kind: JOB_BOOL, j: ni, w: null, x: null, v, v2: null, bits });
        else for (let r = 0; r < n; r++) v.clear(r);
        cols.push(() => fixed(col.name, new Bool(), n, v, bits));
        break;
      }
      case 'ip': {
        // Two UINT64 halves of the 128-bit code (Parquet has no 128-bit integer), each half as
        // two 32-bit words made once per dictionary entry.
        const memo = new Int32Array(si === undefined ? 0 : dictLen * 4);
        const ok = new Uint8Array(si === undefined ? 0 : dictLen);
        const hi = new BigUint64Array(n);
        const lo = new BigUint64Array(n);
        const hw = new Int32Array(hi.buffer);
        const lw = new Int32Array(lo.buffer);
        const v = new Valid(n);
        let r = 0;
        for (let k = 0; k < parts.length; k++) {
          const { s, rows, dict } = parts[k]!;
          const base = dbase[k]!;
          for (let q = 0; q < rows.length; q++, r++) {
            const d0 = si === undefined ? -1 : s[rows[q]! * ns + si]!;
            if (d0 < 0) {
              v.clear(r);
              continue;
            }
            const d = base + d0;
            if (ok[d] === 0) ok[d] = ipWords(memo, d * 4, dict[d0]!) ? 1 : 2;
            if (ok[d] !== 1) {
              v.clear(r);
              continue;
            }
            const o = d * 4;
            hw[r * 2 + 1] = memo[o]!;
            hw[r * 2] = memo[o + 1]!;
            lw[r * 2 + 1] = memo[o + 2]!;
            lw[r * 2] = memo[o + 3]!;
          }
        }
        cols.push(() => fixed(`${col.name}__hi`, new Uint64(), n, v, hi));
        cols.push(() => fixed(`${col.name}__lo`, new Uint64(), n, v.copy(), lo));
        break;
      }
      case 'mac': {
        const buf = new BigUint64Array(n);
        const w = new Int32Array(buf.buffer);
        const v = new Valid(n);
        let r = 0;
        for (const { s, rows, dict } of parts)
          for (let q = 0; q < rows.length; q++, r++) {
            const d = si === undefined ? -1 : s[rows[q]! * ns + si]!;
            const m = d < 0 ? null : macToNumber(dict[d]!);
            if (m === null) v.clear(r);
            else put64(w, r, m);
          }
        cols.push(() => fixed(col.name, new Uint64(), n, v, buf));
        break;
      }
      default: {
        // Text, lists and JSON (as JSON text): indexes into the part's one dictionary where the
        // batches hold the field as a string; JSON values as their own small dictionary.
        const keys = new Int32Array(n);
        const v = new Valid(n);
        let vec: (() => ReturnType<typeof makeVector>) | ReturnType<typeof makeVector>;
        let r = 0;
        const textVec = textVecOf;
        if (si !== undefined) {
          // The text columns share one dictionary of the entries they use (the batches' also
          // hold every time, address and MAC text, which the file does not need).
          for (let k = 0; k < parts.length; k++) {
            const { s, rows, dict } = parts[k]!;
            const base = dbase[k]!;
            for (let q = 0; q < rows.length; q++, r++) {
              const d = s[rows[q]! * ns + si]!;
              if (d < 0) {
                v.clear(r);
                continue;
              }
              let t = textAt[base + d]!;
              if (t < 0) {
                t = texts.length;
                texts.push(dict[d]!);
                textAt[base + d] = t;
              }
              keys[r] = t;
            }
          }
          vec = textVec;
        } else {
          // A list shared by consecutive rows (a TLS shape's cipher suites) is one text.
          const jtexts: string[] = [];
          let prev: unknown;
          for (const { rows, json } of parts) {
            const m = json?.[col.name];
            for (let q = 0; q < rows.length; q++, r++) {
              const x = m?.get(rows[q]!);
              if (x == null) {
                v.clear(r);
                continue;
              }
              if (x !== prev || jtexts.length === 0) {
                jtexts.push(JSON.stringify(x));
                prev = x;
              }
              keys[r] = jtexts.length - 1;
            }
          }
          vec = utf8Vector(jtexts);
        }
        const vecOf = (): ReturnType<typeof makeVector> => (typeof vec === 'function' ? vec() : vec);
        const type = new Dictionary(new Utf8(), new Int32());
        cols.push(() => ({
          field: new Field(col.name, type, true),
          data: makeData({
            type,
            length: n,
            nullCount: v.nulls,
            nullBitmap: v.nulls > 0 ? v.bits : null,
            data: keys,
            dictionary: vecOf(),
          } as never) as Data,
        }));
      }
    }
  }
  fillNumbers(jobs, parts, nn);
  const built = cols.map((make) => make());
  const seq = new BigUint64Array(n);
  const sw = new Int32Array(seq.buffer);
  for (let r = 0; r < n; r++) put64(sw, r, seq0 + 1 + r);
  built.push({
    field: new Field('_seq', new Uint64(), true),
    data: makeData({ type: new Uint64(), length: n, nullCount: 0, data: seq } as never) as Data,
  });
  const schema = new Schema(built.map((x) => x.field));
  const struct = makeData({
    type: new Struct(schema.fields),
    length: n,
    nullCount: 0,
    children: built.map((x) => x.data),
  });
  const table = new Table(schema, [new RecordBatch(schema, struct)]);
  lap(0);
  const ipc = tableToIPC(table, 'stream');
  lap(1);
  const wt = pw.Table.fromIPCStream(ipc);
  lap(2);
  let b = new pw.WriterPropertiesBuilder()
    .setCompression(
      {
        zstd: pw.Compression.ZSTD,
        snappy: pw.Compression.SNAPPY,
        lz4: pw.Compression.LZ4_RAW,
        none: pw.Compression.UNCOMPRESSED,
      }[opts.compression ?? 'zstd'],
    )
    .setMaxRowGroupSize(opts.rowGroupRows ?? 30_720)
    .setWriterVersion(pw.WriterVersion.V2)
    .setStatisticsEnabled(
      { none: pw.EnabledStatistics.None, chunk: pw.EnabledStatistics.Chunk, page: pw.EnabledStatistics.Page }[
        opts.statistics ?? 'chunk'
      ],
    );
  const dictMode = opts.dictionary ?? 'text';
  b = b.setDictionaryEnabled(dictMode !== 'none');
  if (dictMode === 'text')
    for (const x of built) {
      const t = x.field.type;
      if (!(t instanceof Dictionary)) {
        b = b.setColumnDictionaryEnabled(x.field.name, false);
        if ((opts.intDelta ?? true) && !(t instanceof Float64) && !(t instanceof Bool))
          b = b.setColumnEncoding(x.field.name, pw.Encoding.DELTA_BINARY_PACKED);
      }
    }
  const props = b.build();
  const bytes = pw.writeParquet(wt, props);
  lap(3);
  return {
    bytes,
    meta: {
      rows: n,
      minTs: n > 0 && Number.isFinite(minTs) ? minTs : 0,
      maxTs: n > 0 && Number.isFinite(maxTs) ? maxTs : 0,
      maxSeq: seq0 + n,
    },
  };
}

const TEXT = new TextEncoder();

/** A Utf8 vector of `texts`: all-ASCII dictionaries (the usual case) in one encode. */
function utf8Vector(texts: readonly string[]): ReturnType<typeof makeVector> {
  const offsets = new Int32Array(texts.length + 1);
  const joined = texts.join('');
  const bytes = TEXT.encode(joined);
  if (bytes.length === joined.length) {
    let o = 0;
    for (let i = 0; i < texts.length; i++) {
      o += texts[i]!.length;
      offsets[i + 1] = o;
    }
  } else {
    let o = 0;
    for (let i = 0; i < texts.length; i++) {
      o += TEXT.encode(texts[i]!).length;
      offsets[i + 1] = o;
    }
  }
  return makeVector(
    makeData({ type: new Utf8(), length: texts.length, nullCount: 0, valueOffsets: offsets, data: bytes }),
  );
}
