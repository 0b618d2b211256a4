import { endianness } from 'node:os';
import type { AnyRecordDef, FieldType } from '../../schema/registry.js';
import type { Columnar } from '../columnar.js';
import type { Rec } from '../types.js';
import { valueWriter } from './codec.js';
import { ColumnsEncoder, JSON_, NONE, NUM, type Plan, STR, T_BOOL, T_FLOAT, T_INT, T_TS } from './columns.js';
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
 * column's values written where the block keeps them; each distinct dictionary string a column uses is converted once per batch (columns.ts), and
 * its bytes copied into every row that refers to it. No object or string is made per row.
 */
export class NativeColumnsEncoder {
  readonly cols: ChColumn[];
  private readonly rb: ColumnsEncoder;
  private readonly heads: Buffer[];
  private numPlan: Plan[] | null = null;
  private numFn: NumFn | null = null;

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
   *
   * The batch is row-major, the block columnar: gathering one column over all rows would touch
   * one cache line per row per column, so the rows are walked in chunks small enough to stay
   * in cache while every column takes its part of the chunk.
   */
  encode(c: Columnar, from: number, to: number, seq: number, reuse?: Buffer): Buffer {
    const plan = this.rb.planFor(c);
    this.rb.resolve(c, plan, from, to);
    const n = to - from;
    const rows = c.rows;
    const ns = c.str.length;
    const J = c.json ?? {};
    const nc = plan.length;
    // JSON values are the only ones made into strings per row (no column of a flow is JSON).
    const texts: ((string | null)[] | null)[] = plan.map((p) =>
      p.kind === JSON_ ? jsonTexts(p, J[p.col.name], rows, from, to) : null,
    );
    // Bytes of each column's values: fixed-width ones from the row count, strings summed.
    const bytes = new Float64Array(nc);
    const varStr: number[] = [];
    for (let ci = 0; ci < nc; ci++) {
      const p = plan[ci]!;
      const w = widthOf(p.col.type);
      if (w > 0) bytes[ci] = w * n;
      else if (p.kind === STR) varStr.push(ci);
      else {
        const ts = texts[ci];
        let z = 0;
        if (ts) for (const t of ts) z += t === null ? 1 : stringSize(t);
        else z = n;
        bytes[ci] = z;
      }
    }
    for (let k0 = from; k0 < to; k0 += CHUNK) {
      const k1 = Math.min(to, k0 + CHUNK);
      for (const ci of varStr) {
        const off = this.rb.off[ci]!;
        const len = this.rb.len[ci]!;
        const idx = plan[ci]!.idx;
        let z = 0;
        for (let k = k0; k < k1; k++) {
          const d = c.s[rows[k]! * ns + idx]!;
          z += d < 0 || off[d]! < 0 ? 1 : len[d]!;
        }
        bytes[ci] = bytes[ci]! + z;
      }
    }
    let size = varUIntSize(nc + 1) + varUIntSize(n);
    const nullAt = new Float64Array(nc);
    const valAt = new Float64Array(nc);
    for (let ci = 0; ci < nc; ci++) {
      size += this.heads[ci]!.length;
      nullAt[ci] = size;
      if (plan[ci]!.col.nullable) size += n;
      valAt[ci] = size;
      size += bytes[ci]!;
    }
    size += this.heads[nc]!.length;
    const seqAt = size;
    size += 8 * n;
    const buf = room(size, reuse);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    putVarUInt(buf, putVarUInt(buf, 0, nc + 1), n);
    for (let ci = 0; ci <= nc; ci++) {
      const h = this.heads[ci]!;
      h.copy(buf, ci < nc ? nullAt[ci]! - h.length : seqAt - h.length);
    }
    for (let ci = 0; ci < nc; ci++) {
      const p = plan[ci]!;
      if (p.kind === JSON_ || p.kind === NONE) textColumn(buf, nullAt[ci]!, p, texts[ci] ?? null, n);
      else if (p.kind === NUM && !numeric(p)) {
        // A number where the column wants another kind (as columns.ts: stored as missing).
        if (p.col.nullable) buf.fill(1, nullAt[ci]!, nullAt[ci]! + n);
        fillDefault(buf, valAt[ci]!, widthOf(p.col.type), n);
      }
    }
    if (this.numPlan !== plan) {
      this.numFn = compileNumbers(plan, c.num.length);
      this.numPlan = plan;
    }
    const numFn = this.numFn!;
    for (let k0 = from; k0 < to; k0 += CHUNK) {
      const k1 = Math.min(to, k0 + CHUNK);
      numFn(buf, view, c.f, rows, k0, k1, nullAt, valAt, from);
      for (let ci = 0; ci < nc; ci++) {
        const p = plan[ci]!;
        if (p.kind !== STR) continue;
        const nulls = p.col.nullable ? nullAt[ci]! + (k0 - from) : -1;
        valAt[ci] = this.strChunk(buf, view, c, p, ci, nulls, valAt[ci]!, k0, k1);
      }
    }
    for (let k = 0; k < n; k++) {
      const x = seq + k;
      const hi = Math.floor(x / 4294967296);
      view.setUint32(seqAt + 8 * k, x - hi * 4294967296, true);
      view.setInt32(seqAt + 8 * k + 4, hi, true);
    }
    return buf.subarray(0, size);
  }

  /** Rows [k0, k1) of a column held by dictionary index: each entry's bytes made once by `resolve`. */
  private strChunk(
    buf: Buffer,
    view: DataView,
    c: Columnar,
    p: Plan,
    ci: number,
    nulls: number,
    at0: number,
    k0: number,
    k1: number,
  ): number {
    const ns = c.str.length;
    const s = c.s;
    const rows = c.rows;
    const idx = p.idx;
    const off = this.rb.off[ci]!;
    const len = this.rb.len[ci]!;
    const src = this.rb.scratch.buf;
    const w = widthOf(p.col.type);
    let v = at0;
    if (w === 8 || w === 16) {
      // Fixed width: whole 32-bit words (exact for any bits, unlike a float copy).
      const sv = new DataView(src.buffer, src.byteOffset, src.byteLength);
      for (let k = k0; k < k1; k++) {
        const d = s[rows[k]! * ns + idx]!;
        const at = d < 0 ? -1 : off[d]!;
        if (nulls >= 0) buf[nulls + k - k0] = at < 0 ? 1 : 0;
        if (at < 0) for (let b = 0; b < w; b += 4) view.setUint32(v + b, 0, true);
        else for (let b = 0; b < w; b += 4) view.setUint32(v + b, sv.getUint32(at + b, true), true);
        v += w;
      }
      return v;
    }
    for (let k = k0; k < k1; k++) {
      const d = s[rows[k]! * ns + idx]!;
      const at = d < 0 ? -1 : off[d]!;
      if (nulls >= 0) buf[nulls + k - k0] = at < 0 ? 1 : 0;
      if (at < 0) {
        buf[v] = 0;
        v += w === 0 ? 1 : w;
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

/** Rows per chunk: a chunk of the batch's rows stays in cache while every column reads it. */
const CHUNK = 256;

/** Whether a number column's kind is one a number can be stored as. */
function numeric(p: Plan): boolean {
  const w = widthOf(p.col.type);
  return (
    (p.t === T_FLOAT && w === 8) ||
    ((p.t === T_INT || p.t === T_TS) && w === 8) ||
    (p.t === T_BOOL && w === 1)
  );
}

type NumFn = (
  buf: Buffer,
  view: DataView,
  f: Float64Array,
  rows: ArrayLike<number>,
  k0: number,
  k1: number,
  nullAt: Float64Array,
  valAt: Float64Array,
  from: number,
) => void;

/**
 * Rows [k0, k1) of every column held as numbers, generated for one batch layout (as the
 * RowBinary row loop is): each column's place in the row and its type fixed in its own loop.
 * NaN is null, or zero when the column is not Nullable.
 */
function compileNumbers(plan: readonly Plan[], nn: number): NumFn {
  const body: string[] = [];
  for (let ci = 0; ci < plan.length; ci++) {
    const p = plan[ci]!;
    if (p.kind !== NUM || !numeric(p)) continue;
    const w = widthOf(p.col.type);
    const isNull = p.col.nullable ? 'buf[nb + k] = 1;' : '';
    const notNull = p.col.nullable ? 'buf[nb + k] = 0;' : '';
    let zero: string;
    let put: string;
    if (p.t === T_FLOAT) {
      zero = 'view.setFloat64(at, 0, true); at += 8;';
      put = 'view.setFloat64(at, v, true); at += 8;';
    } else if (p.t === T_BOOL) {
      zero = 'buf[at++] = 0;';
      put = 'buf[at++] = v ? 1 : 0;';
    } else {
      zero = 'view.setUint32(at, 0, true); view.setInt32(at + 4, 0, true); at += 8;';
      const x = p.t === T_TS ? 'Math.round(v * 1000)' : 'Math.trunc(v)';
      put = `const x = ${x}; const hi = Math.floor(x / 4294967296); view.setUint32(at, x - hi * 4294967296, true); view.setInt32(at + 4, hi, true); at += 8;`;
    }
    body.push(`{
      const nb = nullAt[${ci}] - k0 + (k0 - from);
      let at = valAt[${ci}] + (k0 - from) * ${w};
      for (let k = k0; k < k1; k++) {
        const v = f[rows[k] * ${nn} + ${p.idx}];
        if (v !== v) { ${isNull} ${zero} } else { ${notNull} ${put} }
      }
    }`);
  }
  return new Function(
    'buf',
    'view',
    'f',
    'rows',
    'k0',
    'k1',
    'nullAt',
    'valAt',
    'from',
    body.join('\n'),
  ) as NumFn;
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

/**
 * The value under a null (and a missing value of a column that is not Nullable): zero bytes of
 * the column's width, or the empty string — what codec.ts's emptyWriter writes, without a
 * BigInt per 16-byte address.
 */
function zeroWriter(w: number): (out: RowBinary) => void {
  if (w === 0 || w === 1) return (out) => out.u8(0);
  return (out) => {
    out.need(w);
    for (let b = 0; b < w; b += 4) out.view.setUint32(out.pos + b, 0, true);
    out.pos += w;
  };
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
    this.empty = this.cols.map((c) => zeroWriter(widthOf(c.type)));
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
        for (let k = k0; k < k1; k++) {
          const v = recs[idx[k]].${c.name};
          if (v == null) { ${mark} continue; }
          const at = w${i}.pos;
          if (p(w${i}, v)) { ${c.nullable ? `N${i}[k] = 0;` : ''} continue; }
          w${i}.pos = at; ${mark}
        } }`;
    });
    // Records in chunks, every column over a chunk while its objects are in cache.
    const body = `for (let k0 = 0; k0 < idx.length; k0 += 256) {
      const k1 = Math.min(idx.length, k0 + 256);
      ${loops.join('\n')}
    }`;
    this.fn = new Function('P', 'E', 'vals', 'nulls', 'recs', 'idx', body) as typeof this.fn;
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
