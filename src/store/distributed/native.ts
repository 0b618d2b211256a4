import { endianness } from 'node:os';
import type { AnyRecordDef, FieldType } from '../../schema/registry.js';
import type { Columnar } from '../columnar.js';
import type { Rec } from '../types.js';
import { emptyWriter, valueWriter } from './codec.js';
import { ColumnsEncoder, JSON_, NUM, type Plan, STR, T_BOOL, T_FLOAT, T_INT, T_TS } from './columns.js';
import { RowBinary } from './rowbinary.js';
import { type ChColumn, chColumns } from './schema.js';

/**
 * ClickHouse's Native format, the one the server keeps in memory: per block the column count
 * and row count (VarUInt), then per column its name, its type name and its values laid out
 * as the server holds them — fixed-width little-endian arrays for numbers, 16 bytes per
 * FixedString(16), VarUInt length + bytes per String, and for Nullable a null map (one byte
 * per row) followed by the nested values with defaults where null. Over HTTP the server reads
 * no block info in front of a block (client_protocol_version 0, on 18.16 and current servers).
 * The server parses a column with one copy instead of one call per value, which is why it
 * costs it a fraction of RowBinary.
 *
 * Values are coded exactly as the RowBinary paths code them (codec.ts, columns.ts): what one
 * stores as NULL the other does too, byte for byte, since a value's bytes are the same in both.
 */

if (endianness() !== 'LE') throw new Error('the Native encoder writes typed arrays as little-endian');

/** Bytes per value of a fixed-width column; 0 for String. */
export function widthOf(t: FieldType): number {
  switch (t) {
    case 'ip':
      return 16;
    case 'mac':
    case 'int':
    case 'ts':
    case 'float':
      return 8;
    case 'bool':
      return 1;
    default:
      return 0;
  }
}

function varUIntSize(n: number): number {
  let k = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    k++;
  }
  return k;
}

function putVarUInt(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

function putString(buf: Buffer, pos: number, s: string): number {
  const n = Buffer.byteLength(s);
  pos = putVarUInt(buf, pos, n);
  return pos + buf.write(s, pos, 'utf8');
}

const stringSize = (s: string): number => {
  const n = Buffer.byteLength(s);
  return varUIntSize(n) + n;
};

/** A buffer of at least `size` bytes: `reuse` when it is large enough (pooled by the caller). */
function room(size: number, reuse: Buffer | undefined): Buffer {
  return reuse && reuse.length >= size ? reuse : Buffer.allocUnsafe(Math.max(size, 1 << 16));
}

/** Aligned scratch arrays for the fixed-width columns, grown to the largest block seen. */
class Scratch {
  f64 = new Float64Array(0);
  i32 = new Int32Array(0);
  grow(n: number): void {
    if (this.f64.length < n) {
      this.f64 = new Float64Array(n);
      this.i32 = new Int32Array(this.f64.buffer);
    }
  }
  /** The first `bytes` bytes, for one copy into the block. */
  bytes(bytes: number): Uint8Array {
    return new Uint8Array(this.f64.buffer, 0, bytes);
  }
}

/**
 * Native blocks straight from a columnar batch (the collector's and the sensor's path): each
 * column gathered from the batch into an aligned typed array and copied into the block once;
 * each distinct dictionary string a column uses is converted once per batch (columns.ts), and
 * its bytes copied into every row that refers to it. No object or string is made per row.
 */
export class NativeColumnsEncoder {
  readonly cols: ChColumn[];
  private readonly rb: ColumnsEncoder;
  private readonly scratch = new Scratch();
  private readonly heads: Buffer[];

  constructor(readonly def: AnyRecordDef) {
    this.rb = new ColumnsEncoder(def);
    this.cols = this.rb.cols;
    this.heads = [...this.cols.map((c) => [c.name, c.chType]), ['_seq', 'UInt64']].map(([n, t]) => {
      const b = Buffer.alloc(stringSize(n!) + stringSize(t!));
      putString(b, putString(b, 0, n!), t!);
      return b;
    });
  }

  /**
   * One block of the selected rows [from, to) of `c`, row k numbered `seq + k - from`; written
   * into `reuse` when it is large enough. Keyed records are not replaced here (as in columns.ts).
   */
  encode(c: Columnar, from: number, to: number, seq: number, reuse?: Buffer): Buffer {
    const plan = this.rb.planFor(c);
    this.rb.resolve(c, plan, from, to);
    const n = to - from;
    const rows = c.rows;
    const ns = c.str.length;
    const J = c.json ?? {};
    // JSON values are the only ones made into strings per row (no column of a flow is JSON).
    const texts: ((string | null)[] | null)[] = plan.map((p) =>
      p.kind === JSON_ ? jsonTexts(p, J[p.col.name], rows, from, to) : null,
    );
    let size = varUIntSize(plan.length + 1) + varUIntSize(n) + 8 * n;
    for (let ci = 0; ci < plan.length; ci++) {
      const p = plan[ci]!;
      size += this.heads[ci]!.length + (p.col.nullable ? n : 0);
      const w = widthOf(p.col.type);
      if (w > 0) size += w * n;
      else if (p.kind === STR) {
        const off = this.rb.off[ci]!;
        const len = this.rb.len[ci]!;
        for (let k = from; k < to; k++) {
          const d = c.s[rows[k]! * ns + p.idx]!;
          size += d < 0 || off[d]! < 0 ? 1 : len[d]!;
        }
      } else {
        const ts = texts[ci];
        if (ts) for (const t of ts) size += t === null ? 1 : stringSize(t);
        else size += n;
      }
    }
    size += this.heads[plan.length]!.length;
    const buf = room(size, reuse);
    let pos = putVarUInt(buf, putVarUInt(buf, 0, plan.length + 1), n);
    this.scratch.grow(2 * n);
    for (let ci = 0; ci < plan.length; ci++) {
      const p = plan[ci]!;
      pos += this.heads[ci]!.copy(buf, pos);
      if (p.kind === NUM) pos = this.numColumn(buf, pos, c, p, from, to);
      else if (p.kind === STR) pos = this.strColumn(buf, pos, c, p, ci, from, to);
      else pos = textColumn(buf, pos, p, texts[ci] ?? null, n);
    }
    pos += this.heads[plan.length]!.copy(buf, pos);
    const i32 = this.scratch.i32;
    for (let k = 0; k < n; k++) {
      const x = seq + k;
      const hi = Math.floor(x / 4294967296);
      i32[2 * k] = x - hi * 4294967296;
      i32[2 * k + 1] = hi;
    }
    buf.set(this.scratch.bytes(8 * n), pos);
    pos += 8 * n;
    if (pos !== size) throw new Error(`native block: wrote ${pos} of ${size} bytes`);
    return buf.subarray(0, size);
  }

  /** A column held as numbers in the batch: NaN is null (or the type's zero when not Nullable). */
  private numColumn(buf: Buffer, pos: number, c: Columnar, p: Plan, from: number, to: number): number {
    const n = to - from;
    const nn = c.num.length;
    const f = c.f;
    const rows = c.rows;
    const idx = p.idx;
    const nullable = p.col.nullable;
    const w = widthOf(p.col.type);
    const vals = nullable ? pos + n : pos;
    if (nullable)
      for (let k = 0; k < n; k++) {
        const v = f[rows[from + k]! * nn + idx]!;
        buf[pos + k] = Number.isNaN(v) ? 1 : 0;
      }
    if (p.t === T_FLOAT && w === 8) {
      const out = this.scratch.f64;
      for (let k = 0; k < n; k++) {
        const v = f[rows[from + k]! * nn + idx]!;
        out[k] = Number.isNaN(v) ? 0 : v;
      }
    } else if ((p.t === T_INT || p.t === T_TS) && w === 8) {
      const out = this.scratch.i32;
      const ts = p.t === T_TS;
      for (let k = 0; k < n; k++) {
        const v = f[rows[from + k]! * nn + idx]!;
        const x = Number.isNaN(v) ? 0 : ts ? Math.round(v * 1000) : Math.trunc(v);
        const hi = Math.floor(x / 4294967296);
        out[2 * k] = x - hi * 4294967296;
        out[2 * k + 1] = hi;
      }
    } else if (p.t === T_BOOL && w === 1) {
      for (let k = 0; k < n; k++) {
        const v = f[rows[from + k]! * nn + idx]!;
        buf[vals + k] = v ? 1 : 0;
      }
      return vals + n;
    } else {
      // A number where the column wants another kind (as columns.ts: stored as missing).
      if (nullable) buf.fill(1, pos, pos + n);
      return fillDefault(buf, vals, w, n);
    }
    buf.set(this.scratch.bytes(w * n), vals);
    return vals + w * n;
  }

  /** A column held by dictionary index: each entry's bytes were made once by `resolve`. */
  private strColumn(
    buf: Buffer,
    pos: number,
    c: Columnar,
    p: Plan,
    ci: number,
    from: number,
    to: number,
  ): number {
    const n = to - from;
    const ns = c.str.length;
    const s = c.s;
    const rows = c.rows;
    const idx = p.idx;
    const off = this.rb.off[ci]!;
    const len = this.rb.len[ci]!;
    const src = this.rb.scratch.buf;
    const nullable = p.col.nullable;
    const w = widthOf(p.col.type);
    let v = nullable ? pos + n : pos;
    for (let k = 0; k < n; k++) {
      const d = s[rows[from + k]! * ns + idx]!;
      const at = d < 0 ? -1 : off[d]!;
      if (nullable) buf[pos + k] = at < 0 ? 1 : 0;
      if (at < 0) {
        if (w === 0) buf[v++] = 0;
        else {
          buf.fill(0, v, v + w);
          v += w;
        }
        continue;
      }
      const m = w === 0 ? len[d]! : w;
      if (m > 24) src.copy(buf, v, at, at + m);
      else for (let b = 0; b < m; b++) buf[v + b] = src[at + b]!;
      v += m;
    }
    return v;
  }
}

function jsonTexts(
  p: Plan,
  m: ReadonlyMap<number, unknown> | undefined,
  rows: ArrayLike<number>,
  from: number,
  to: number,
): (string | null)[] | null {
  if (!m) return null;
  const out: (string | null)[] = new Array(to - from);
  for (let k = from; k < to; k++) {
    const v = m.get(rows[k]!);
    out[k - from] =
      v == null ? null : p.col.type === 'string' && typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

/** A String column of JSON texts (null: an empty string, under a null-map 1), or of nothing. */
function textColumn(buf: Buffer, pos: number, p: Plan, texts: (string | null)[] | null, n: number): number {
  const w = widthOf(p.col.type);
  if (!texts) {
    if (p.col.nullable) {
      buf.fill(1, pos, pos + n);
      pos += n;
    }
    return fillDefault(buf, pos, w, n);
  }
  if (p.col.nullable) for (let k = 0; k < n; k++) buf[pos++] = texts[k] === null ? 1 : 0;
  for (let k = 0; k < n; k++) pos = putString(buf, pos, texts[k] ?? '');
  return pos;
}

function fillDefault(buf: Buffer, pos: number, w: number, n: number): number {
  const bytes = w === 0 ? n : w * n;
  buf.fill(0, pos, pos + bytes);
  return pos + bytes;
}

/**
 * Native blocks from record objects (the bus ingester's path, and `append`): values coded by
 * the record path's own writers (codec.ts), one column at a time. The per-column loop is
 * generated from the registry so each field is a named property read, as codec.ts does.
 */
export class NativeRecordsEncoder {
  readonly cols: ChColumn[];
  private readonly fn: (
    P: ((w: RowBinary, v: unknown) => boolean)[],
    E: ((w: RowBinary) => void)[],
    vals: RowBinary[],
    nulls: Uint8Array[],
    recs: readonly Rec[],
    idx: ArrayLike<number>,
  ) => void;
  private readonly put: ((w: RowBinary, v: unknown) => boolean)[];
  private readonly empty: ((w: RowBinary) => void)[];
  private readonly vals: RowBinary[];
  private nulls: Uint8Array[];
  private readonly heads: Buffer[];
  private readonly scratch = new Scratch();

  constructor(readonly def: AnyRecordDef) {
    this.cols = chColumns(def);
    this.put = this.cols.map((c) => valueWriter(c.type));
    this.empty = this.cols.map((c) => emptyWriter(c.type));
    this.vals = this.cols.map(() => new RowBinary(1 << 12));
    this.nulls = this.cols.map(() => new Uint8Array(0));
    this.heads = [...this.cols.map((c) => [c.name, c.chType]), ['_seq', 'UInt64']].map(([n, t]) => {
      const b = Buffer.alloc(stringSize(n!) + stringSize(t!));
      putString(b, putString(b, 0, n!), t!);
      return b;
    });
    const loops = this.cols.map((c, i) => {
      const mark = c.nullable ? `N${i}[k] = 1; E[${i}](w${i});` : `E[${i}](w${i});`;
      return `{ const w${i} = vals[${i}], N${i} = nulls[${i}], p = P[${i}];
        for (let k = 0; k < idx.length; k++) {
          const v = recs[idx[k]].${c.name};
          if (v == null) { ${mark} continue; }
          const at = w${i}.pos;
          if (p(w${i}, v)) { ${c.nullable ? `N${i}[k] = 0;` : ''} continue; }
          w${i}.pos = at; ${mark}
        } }`;
    });
    this.fn = new Function('P', 'E', 'vals', 'nulls', 'recs', 'idx', loops.join('\n')) as typeof this.fn;
  }

  /** One block of records `idx` (indexes into `recs`), numbered by `seqOf(i)` for record i. */
  encode(recs: readonly Rec[], idx: ArrayLike<number>, seqOf: (i: number) => number): Buffer {
    const n = idx.length;
    if (this.nulls[0] && this.nulls[0].length < n) this.nulls = this.cols.map(() => new Uint8Array(n * 2));
    for (const w of this.vals) w.reset();
    this.fn(this.put, this.empty, this.vals, this.nulls, recs, idx);
    let size = varUIntSize(this.cols.length + 1) + varUIntSize(n) + 8 * n;
    for (let ci = 0; ci < this.cols.length; ci++)
      size += this.heads[ci]!.length + (this.cols[ci]!.nullable ? n : 0) + this.vals[ci]!.pos;
    size += this.heads[this.cols.length]!.length;
    const buf = Buffer.allocUnsafe(size);
    let pos = putVarUInt(buf, putVarUInt(buf, 0, this.cols.length + 1), n);
    for (let ci = 0; ci < this.cols.length; ci++) {
      pos += this.heads[ci]!.copy(buf, pos);
      if (this.cols[ci]!.nullable) {
        buf.set(this.nulls[ci]!.subarray(0, n), pos);
        pos += n;
      }
      pos += this.vals[ci]!.buf.copy(buf, pos, 0, this.vals[ci]!.pos);
    }
    pos += this.heads[this.cols.length]!.copy(buf, pos);
    this.scratch.grow(2 * n);
    const i32 = this.scratch.i32;
    for (let k = 0; k < n; k++) {
      const x = seqOf(idx[k]!);
      const hi = Math.floor(x / 4294967296);
      i32[2 * k] = x - hi * 4294967296;
      i32[2 * k + 1] = hi;
    }
    buf.set(this.scratch.bytes(8 * n), pos);
    return buf;
  }
}
