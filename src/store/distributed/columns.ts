import { parseIpv4 } from '../../common/addr.js';
import type { AnyRecordDef } from '../../schema/registry.js';
import type { Columnar } from '../columnar.js';
import type { Rec } from '../types.js';
import { ipToBigint, isoToMicros, macToNumber } from '../values.js';
import { RowBinary } from './rowbinary.js';
import { type ChColumn, chColumns } from './schema.js';

/** Where a column's values are in a columnar batch. */
export const NUM = 0;
export const STR = 1;
export const JSON_ = 2;
export const NONE = 3;

/** Column value kinds, as small integers for the row loop's switch. */
export const T_FLOAT = 0;
export const T_INT = 1;
export const T_TS = 2;
export const T_BOOL = 3;
export const T_OTHER = 4;

export interface Plan {
  kind: number;
  idx: number;
  t: number;
  col: ChColumn;
}

const TWO32 = 4294967296;

/**
 * RowBinary straight from a columnar batch, the ingest hot path: numbers are written from the
 * batch's Float64 rows, and each distinct dictionary string a column uses is converted and
 * encoded once per batch (an address, a time, a length-prefixed string) into a scratch buffer,
 * then copied as bytes into every row that refers to it. No object or string is made per row.
 * Values the embedded store would store as NULL (an unparseable address or time, a NaN) are
 * NULL here too: the same coding as `encoder` in codec.ts.
 */
export class ColumnsEncoder {
  readonly cols: ChColumn[];
  private plan: Plan[] = [];
  private planNum: readonly string[] | null = null;
  private planStr: readonly string[] | null = null;
  private planJson: string | null = null;
  /**
   * Per string column: offset of each dictionary entry's encoding in `scratch` (-2 not yet,
   * -1 unusable), and its length. The Native encoder reads these too: a value's bytes are the
   * same in both formats.
   */
  off: Int32Array[] = [];
  len: Int32Array[] = [];
  maxLen: number[] = [];
  private memoDict: readonly string[] | null = null;
  readonly scratch = new RowBinary(1 << 16);

  constructor(readonly def: AnyRecordDef) {
    this.cols = chColumns(def);
  }

  planFor(c: Columnar): Plan[] {
    const jsonKeys = c.json ? Object.keys(c.json).join(',') : '';
    if (this.planNum === c.num && this.planStr === c.str && this.planJson === jsonKeys) return this.plan;
    const num = new Map(c.num.map((k, i) => [k, i]));
    const str = new Map(c.str.map((k, i) => [k, i]));
    this.plan = this.cols.map((col): Plan => {
      const t =
        col.type === 'float'
          ? T_FLOAT
          : col.type === 'int'
            ? T_INT
            : col.type === 'ts'
              ? T_TS
              : col.type === 'bool'
                ? T_BOOL
                : T_OTHER;
      const ni = num.get(col.name);
      if (ni !== undefined) return { kind: NUM, idx: ni, t, col };
      const si = str.get(col.name);
      if (si !== undefined) return { kind: STR, idx: si, t, col };
      if (c.json?.[col.name] !== undefined) return { kind: JSON_, idx: -1, t, col };
      return { kind: NONE, idx: -1, t, col };
    });
    this.off = this.plan.map(() => new Int32Array(0));
    this.len = this.plan.map(() => new Int32Array(0));
    this.maxLen = this.plan.map(() => 0);
    this.memoDict = null;
    this.rowFn = null;
    this.planNum = c.num;
    this.planStr = c.str;
    this.planJson = jsonKeys;
    return this.plan;
  }

  /** Encode dictionary entry `d` as column `p`'s value into scratch; its offset, or -1 when unusable. */
  private encodeEntry(p: Plan, text: string): number {
    const s = this.scratch;
    const at = s.pos;
    switch (p.col.type) {
      case 'ts': {
        const us = isoToMicros(text);
        if (Number.isNaN(us)) return -1;
        s.i64(Math.round(us));
        return at;
      }
      case 'ip': {
        const v4 = parseIpv4(text);
        if (v4 !== null) s.ipv4(v4);
        else {
          const b = ipToBigint(text);
          if (b === null) return -1;
          s.u128be(b);
        }
        return at;
      }
      case 'mac': {
        const m = macToNumber(text);
        if (m === null) return -1;
        s.u64(m);
        return at;
      }
      case 'int':
      case 'float': {
        const v = Number(text);
        if (text.trim() === '' || Number.isNaN(v)) return -1;
        if (p.col.type === 'int') s.i64(Math.trunc(v));
        else s.f64(v);
        return at;
      }
      case 'bool':
        s.u8(text === 'true' || text === '1' ? 1 : 0);
        return at;
      default:
        s.str(text);
        return at;
    }
  }

  /**
   * Resolve every dictionary entry the rows [from, to) use, column by column, before the row
   * loop: the row loop then knows each row's largest size and reserves room once per row.
   */
  resolve(c: Columnar, plan: Plan[], from: number, to: number): void {
    if (this.memoDict !== c.dict) {
      this.scratch.reset();
      for (let ci = 0; ci < plan.length; ci++) {
        if (plan[ci]!.kind !== STR) continue;
        if (this.off[ci]!.length < c.dict.length) {
          this.off[ci] = new Int32Array(Math.max(c.dict.length, this.off[ci]!.length * 2));
          this.len[ci] = new Int32Array(this.off[ci]!.length);
        }
        this.off[ci]!.fill(-2, 0, c.dict.length);
        this.maxLen[ci] = 0;
      }
      this.memoDict = c.dict;
    }
    const ns = c.str.length;
    const rows = c.rows;
    // Rows in chunks, every column over a chunk while it is in cache (the batch is row-major).
    for (let k0 = from; k0 < to; k0 += 256) {
      const k1 = Math.min(to, k0 + 256);
      for (let ci = 0; ci < plan.length; ci++) {
        const p = plan[ci]!;
        if (p.kind !== STR) continue;
        const off = this.off[ci]!;
        const len = this.len[ci]!;
        let max = this.maxLen[ci]!;
        for (let k = k0; k < k1; k++) {
          const d = c.s[rows[k]! * ns + p.idx]!;
          if (d < 0 || off[d] !== -2) continue;
          const at = this.encodeEntry(p, c.dict[d]!);
          off[d] = at;
          if (at >= 0) {
            len[d] = this.scratch.pos - at;
            if (len[d]! > max) max = len[d]!;
          }
        }
        this.maxLen[ci] = max;
      }
    }
  }

  /**
   * Append the selected rows [from, to) of `c` to `w`, row k numbered `seq + k - from`.
   * Rows of keyed records are not replaced here: callers send keyed types through `append`.
   */
  encode(w: RowBinary, c: Columnar, from: number, to: number, seq: number): void {
    const plan = this.planFor(c);
    this.resolve(c, plan, from, to);
    let rowMax = 8;
    for (let ci = 0; ci < plan.length; ci++)
      rowMax += 1 + (plan[ci]!.kind === STR ? Math.max(16, this.maxLen[ci]!) : 16);
    if (!this.rowFn) this.rowFn = compileRows(plan);
    this.rowFn(w, c, from, to, seq, rowMax, this.off, this.len, this.scratch.buf, empty);
  }

  private rowFn: RowFn | null = null;
}

type RowFn = (
  w: RowBinary,
  c: Columnar,
  from: number,
  to: number,
  seq: number,
  rowMax: number,
  off: Int32Array[],
  len: Int32Array[],
  src: Buffer,
  empty: (buf: Buffer, view: DataView, pos: number, type: string) => number,
) => void;

/**
 * The row loop generated for one batch layout: every column a straight-line statement with
 * its position in the batch and its type fixed, so the loop does no lookups or dispatch.
 */
function compileRows(plan: readonly Plan[]): RowFn {
  const I64 = (x: string) =>
    `{ const x = ${x}; const hi = Math.floor(x / 4294967296); view.setUint32(pos, x - hi * 4294967296, true); view.setInt32(pos + 4, hi, true); pos += 8; }`;
  const head: string[] = [];
  const body = plan.map((p, ci) => {
    const nul = p.col.nullable
      ? 'buf[pos++] = 1;'
      : `pos = empty(buf, view, pos, ${JSON.stringify(p.col.type)});`;
    const some = p.col.nullable ? 'buf[pos++] = 0;' : '';
    if (p.kind === NUM) {
      const put =
        p.t === T_FLOAT
          ? 'view.setFloat64(pos, v, true); pos += 8;'
          : p.t === T_INT
            ? I64('Math.trunc(v)')
            : p.t === T_TS
              ? I64('Math.round(v * 1000)')
              : p.t === T_BOOL
                ? 'buf[pos++] = v ? 1 : 0;'
                : null;
      if (put === null) return nul;
      return `{ const v = f[fb + ${p.idx}]; if (v !== v) { ${nul} } else { ${some} ${put} } }`;
    }
    if (p.kind === STR) {
      head.push(`const off${ci} = off[${ci}], len${ci} = len[${ci}];`);
      return `{ const d = s[sb + ${p.idx}]; const at = d < 0 ? -1 : off${ci}[d]; if (at < 0) { ${nul} } else { ${some} const n = len${ci}[d]; if (n > 24) src.copy(buf, pos, at, at + n); else for (let b = 0; b < n; b++) buf[pos + b] = src[at + b]; pos += n; } }`;
    }
    if (p.kind === JSON_) {
      const name = JSON.stringify(p.col.name);
      const text =
        p.col.type === 'string' ? `typeof v === 'string' ? v : JSON.stringify(v)` : 'JSON.stringify(v)';
      return `{ const v = J[${name}] === undefined ? undefined : J[${name}].get(i); if (v == null) { ${nul} } else { ${some} w.pos = pos; w.str(${text}); w.need(rowMax); buf = w.buf; view = w.view; pos = w.pos; } }`;
    }
    return nul;
  });
  const src = `
    const f = c.f, s = c.s, rows = c.rows, nn = c.num.length, ns = c.str.length, J = c.json || {};
    ${head.join('\n')}
    for (let k = from; k < to; k++) {
      const i = rows[k];
      const fb = i * nn, sb = i * ns;
      w.need(rowMax);
      let buf = w.buf, view = w.view, pos = w.pos;
      ${body.join('\n')}
      ${I64('seq + k - from')}
      w.pos = pos;
    }`;
  return new Function('w', 'c', 'from', 'to', 'seq', 'rowMax', 'off', 'len', 'src', 'empty', src) as RowFn;
}

/** An Int64 from a number within ±2^53, as two 32-bit halves (no BigInt per value). */
function i64(view: DataView, pos: number, v: number): number {
  const hi = Math.floor(v / TWO32);
  view.setUint32(pos, v - hi * TWO32, true);
  view.setInt32(pos + 4, hi, true);
  return pos + 8;
}

/** The value a non-Nullable column gets for a missing value (the sorting key's columns). */
function empty(buf: Buffer, view: DataView, pos: number, type: string): number {
  switch (type) {
    case 'ip':
      buf.fill(0, pos, pos + 16);
      return pos + 16;
    case 'mac':
    case 'int':
    case 'ts':
      return i64(view, pos, 0);
    case 'float':
      view.setFloat64(pos, 0, true);
      return pos + 8;
    case 'bool':
      buf[pos] = 0;
      return pos + 1;
    default:
      buf[pos] = 0;
      return pos + 1;
  }
}

/**
 * Records → a columnar batch of the registry's layout (numbers for int/float/bool, the rest by
 * a per-batch dictionary, JSON values by row), as the collector's decode thread produces it:
 * for tests and benchmarks of the column path.
 */
export function recordsToColumnar(def: AnyRecordDef, recs: readonly Rec[]): Columnar {
  const num: string[] = [];
  const str: string[] = [];
  const jsonNames: string[] = [];
  for (const [name, fd] of Object.entries(def.fields)) {
    if (fd.type === 'int' || fd.type === 'float' || fd.type === 'bool') num.push(name);
    else if (fd.type === 'json' || fd.type === 'string[]' || fd.type === 'int[]') jsonNames.push(name);
    else str.push(name);
  }
  const f = new Float64Array(recs.length * num.length);
  const s = new Int32Array(recs.length * str.length);
  const dict: string[] = [];
  const index = new Map<string, number>();
  const json: Record<string, Map<number, unknown>> = {};
  for (let i = 0; i < recs.length; i++) {
    const r = recs[i]!;
    for (let j = 0; j < num.length; j++) {
      const v = r[num[j]!];
      f[i * num.length + j] = typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : Number.NaN;
    }
    for (let j = 0; j < str.length; j++) {
      const v = r[str[j]!];
      if (v == null) {
        s[i * str.length + j] = -1;
        continue;
      }
      const t = String(v);
      let d = index.get(t);
      if (d === undefined) {
        d = dict.length;
        dict.push(t);
        index.set(t, d);
      }
      s[i * str.length + j] = d;
    }
    for (const name of jsonNames) {
      const v = r[name];
      if (v == null) continue;
      json[name] ??= new Map();
      json[name].set(i, v);
    }
  }
  const rows = new Uint32Array(recs.length);
  for (let i = 0; i < rows.length; i++) rows[i] = i;
  const out: Columnar = { num, str, f, s, dict, rows };
  if (Object.keys(json).length > 0) out.json = json;
  return out;
}
