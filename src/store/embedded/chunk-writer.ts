import { type DuckDBAppender, DuckDBDataChunk, UBIGINT } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import type { AnyRecordDef } from '../../schema/registry.js';
import type { Columnar } from '../columnar.js';
import type { Rec } from '../types.js';
import { ipToBigint, isoToMicros } from '../values.js';
import { type Column, columnsOf } from './schema.js';

/** Rows per DataChunk: DuckDB's vector size. */
export const CHUNK_ROWS = 2048;
const TWO32 = 4294967296;
const TEXT = new TextEncoder();

/**
 * Fills DuckDB DataChunks straight from record objects, column by column into our own typed
 * arrays, then copies each column into its vector with one native call. The per-row code is
 * generated from the registry (monomorphic property reads); it is the store's hot path.
 */
export class ChunkWriter {
  readonly columns: Column[];
  private readonly chunk: DuckDBDataChunk;
  private readonly vectors: duckdb.Vector[];
  private readonly bufs: ArrayBuffer[];
  private readonly valid: Uint32Array[];
  private readonly strings: (string | null)[][];
  private readonly fill: (recs: readonly Rec[], start: number, n: number, seq: number) => void;

  constructor(def: AnyRecordDef) {
    this.columns = columnsOf(def);
    const types = [...this.columns.map((c) => c.duck)];
    this.chunk = DuckDBDataChunk.create([...types, UBIGINT]);
    this.vectors = [];
    this.bufs = [];
    this.valid = [];
    this.strings = [];
    const ncol = this.columns.length + 1;
    for (let i = 0; i < ncol; i++) {
      this.vectors.push(duckdb.data_chunk_get_vector(this.chunk.chunk, i));
      const c = this.columns[i];
      const width = c === undefined ? 8 : (WIDTH[c.sqlType] ?? 0);
      this.bufs.push(new ArrayBuffer((width || 16) * CHUNK_ROWS));
      this.valid.push(new Uint32Array(CHUNK_ROWS / 32));
      this.strings.push(width === 0 ? new Array<string | null>(CHUNK_ROWS).fill(null) : []);
    }
    this.fill = compileFill(this.columns, this.bufs, this.valid, this.strings);
  }

  /** Append records to the appender, in chunks. */
  append(appender: DuckDBAppender, recs: readonly Rec[], seq: number): void {
    for (let start = 0; start < recs.length; start += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, recs.length - start);
      for (const v of this.valid) v.fill(0xffffffff);
      this.fill(recs, start, n, seq + start);
      this.send(appender, n);
    }
  }

  /**
   * Append the selected rows of a columnar batch: numbers are copied, and each distinct string
   * of the batch's dictionary is converted once (addresses, times, inline strings) however many
   * rows share it. No object is made per row.
   */
  appendColumns(appender: DuckDBAppender, c: Columnar, seq: number): void {
    const plan = this.planFor(c);
    const memo = plan.map((p) => (p.kind === 'str' ? new Map<number, unknown>() : null));
    const nn = c.num.length;
    const ns = c.str.length;
    const total = c.rows.length;
    for (let start = 0; start < total; start += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, total - start);
      for (const v of this.valid) v.fill(0xffffffff);
      for (let ci = 0; ci < plan.length; ci++) {
        const p = plan[ci]!;
        const col = this.columns[ci]!;
        const buf = this.bufs[ci]!;
        const u32 = new Uint32Array(buf);
        const valid = this.valid[ci]!;
        const ss = this.strings[ci]!;
        const nul = (r: number): void => {
          valid[r >>> 5]! &= ~(1 << (r & 31));
          if (col.sqlType === 'VARCHAR') {
            ss[r] = null;
            u32.fill(0, r * 4, r * 4 + 4);
          }
        };
        if (p.kind === 'none') {
          for (let r = 0; r < n; r++) nul(r);
          continue;
        }
        if (p.kind === 'json') {
          const m = c.json?.[col.name];
          for (let r = 0; r < n; r++) {
            const v = m?.get(c.rows[start + r]!);
            if (v == null) nul(r);
            else ss[r] = JSON.stringify(v);
          }
          continue;
        }
        if (p.kind === 'num') {
          const f = c.f;
          const j = p.idx;
          const i32 = new Int32Array(buf);
          const f64 = new Float64Array(buf);
          const b8 = new Uint8Array(buf);
          for (let r = 0; r < n; r++) {
            const v = f[c.rows[start + r]! * nn + j]!;
            if (Number.isNaN(v)) nul(r);
            else if (col.type === 'float') f64[r] = v;
            else if (col.type === 'int') H.i64(u32, i32, r, Math.trunc(v));
            else if (col.type === 'ts') H.i64(u32, i32, r, Math.round(v * 1000));
            else if (col.type === 'bool') b8[r] = v ? 1 : 0;
            else nul(r);
          }
          continue;
        }
        // A string-dictionary column: convert each distinct entry once, then copy per row.
        const m = memo[ci]!;
        const j = p.idx;
        const i32 = new Int32Array(buf);
        const dv = new DataView(buf);
        const cache = new Map<string, Uint32Array>();
        for (let r = 0; r < n; r++) {
          const d = c.s[c.rows[start + r]! * ns + j]!;
          if (d < 0) {
            nul(r);
            continue;
          }
          const text = c.dict[d]!;
          switch (col.type) {
            case 'ts': {
              let us = m.get(d) as number | undefined;
              if (us === undefined) {
                us = Math.round(isoToMicros(text));
                m.set(d, us);
              }
              if (Number.isNaN(us)) nul(r);
              else H.i64(u32, i32, r, us);
              break;
            }
            case 'ip': {
              let w = m.get(d) as Uint32Array | null | undefined;
              if (w === undefined) {
                const t = new Uint32Array(4);
                w = H.ip(t, new DataView(t.buffer), 0, text) ? t : null;
                m.set(d, w);
              }
              if (w === null) nul(r);
              else u32.set(w, r * 4);
              break;
            }
            case 'mac': {
              let w = m.get(d) as Uint32Array | null | undefined;
              if (w === undefined) {
                const t = new Uint32Array(2);
                w = H.mac(t, 0, text) ? t : null;
                m.set(d, w);
              }
              if (w === null) nul(r);
              else u32.set(w, r * 2);
              break;
            }
            case 'int':
            case 'float': {
              const v = Number(text);
              if (Number.isNaN(v)) nul(r);
              else if (col.type === 'float') dv.setFloat64(r * 8, v, true);
              else H.i64(u32, i32, r, Math.trunc(v));
              break;
            }
            default:
              ss[r] = H.str(u32, cache, r, text);
          }
        }
      }
      const uS = new Uint32Array(this.bufs[this.columns.length]!);
      const iS = new Int32Array(this.bufs[this.columns.length]!);
      for (let r = 0; r < n; r++) H.i64(uS, iS, r, seq + start + r);
      this.send(appender, n);
    }
  }

  /** Where each column's values are in a columnar batch (computed once per field layout). */
  private planFor(c: Columnar): Plan[] {
    if (this.planNum === c.num && this.planStr === c.str && this.plan) return this.plan;
    const num = new Map(c.num.map((k, i) => [k, i]));
    const str = new Map(c.str.map((k, i) => [k, i]));
    this.plan = this.columns.map((col): Plan => {
      const ni = num.get(col.name);
      if (ni !== undefined) return { kind: 'num', idx: ni };
      const si = str.get(col.name);
      if (si !== undefined) return { kind: 'str', idx: si };
      if (c.json?.[col.name] !== undefined || col.type === 'json') return { kind: 'json', idx: -1 };
      return { kind: 'none', idx: -1 };
    });
    this.planNum = c.num;
    this.planStr = c.str;
    return this.plan;
  }

  private plan: Plan[] | null = null;
  private planNum: readonly string[] | null = null;
  private planStr: readonly string[] | null = null;

  /** Copy the filled buffers of `n` rows into the chunk's vectors and append the chunk. */
  private send(appender: DuckDBAppender, n: number): void {
    for (let i = 0; i < this.vectors.length; i++) {
      const vec = this.vectors[i]!;
      const c = this.columns[i];
      const width = c === undefined ? 8 : (WIDTH[c.sqlType] ?? 0);
      if (width > 0) {
        duckdb.copy_data_to_vector(vec, 0, this.bufs[i]!, 0, n * width);
      } else {
        // Strings of up to 12 UTF-8 bytes are stored inline in DuckDB's 16-byte string_t
        // (length, then the bytes, zero padded): the fill wrote those into our buffer, which
        // goes over in one copy; only longer strings need a native call each.
        duckdb.copy_data_to_vector(vec, 0, this.bufs[i]!, 0, n * 16);
        const ss = this.strings[i]!;
        for (let r = 0; r < n; r++) {
          const s = ss[r];
          if (s != null) duckdb.vector_assign_string_element(vec, r, s);
        }
      }
      if (c?.nullable || width === 0) {
        duckdb.vector_ensure_validity_writable(vec);
        const v = this.valid[i]!;
        duckdb.copy_data_to_vector_validity(vec, 0, v.buffer as ArrayBuffer, 0, Math.ceil(n / 64) * 8);
      }
    }
    duckdb.data_chunk_set_size(this.chunk.chunk, n);
    appender.appendDataChunk(this.chunk);
    duckdb.data_chunk_reset(this.chunk.chunk);
  }
}

interface Plan {
  kind: 'num' | 'str' | 'json' | 'none';
  idx: number;
}

const WIDTH: Record<string, number> = {
  UHUGEINT: 16,
  UBIGINT: 8,
  BIGINT: 8,
  DOUBLE: 8,
  BOOLEAN: 1,
  TIMESTAMP: 8,
  VARCHAR: 0,
};

/** Helpers the generated code calls. */
const H = {
  TWO32,
  isoToMicros,
  /** Dotted IPv4 → number, or -1 (then the slow path handles IPv6). */
  v4(s: string): number {
    let v = 0;
    let part = 0;
    let digits = 0;
    let dots = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 46) {
        if (digits === 0 || part > 255) return -1;
        v = v * 256 + part;
        part = 0;
        digits = 0;
        dots++;
      } else if (c >= 48 && c <= 57 && digits < 3) {
        part = part * 10 + (c - 48);
        digits++;
      } else return -1;
    }
    if (dots !== 3 || digits === 0 || part > 255) return -1;
    return v * 256 + part;
  },
  /** Write a coded address (16 bytes little-endian) from text; false when not an address. */
  ip(u32: Uint32Array, dv: DataView, r: number, s: string): boolean {
    const v4 = H.v4(s);
    const o = r * 4;
    if (v4 >= 0) {
      u32[o] = v4;
      u32[o + 1] = 0xffff;
      u32[o + 2] = 0;
      u32[o + 3] = 0;
      return true;
    }
    const b = ipToBigint(s);
    if (b === null) return false;
    dv.setBigUint64(r * 16, b & 0xffffffffffffffffn, true);
    dv.setBigUint64(r * 16 + 8, b >> 64n, true);
    return true;
  },
  /** aa:bb:cc:dd:ee:ff → two words; false when malformed. */
  mac(u32: Uint32Array, r: number, s: string): boolean {
    if (s.length !== 17) return false;
    const hex = (i: number): number => {
      const c = s.charCodeAt(i) | 32;
      return c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1000;
    };
    let hi = 0;
    let lo = 0;
    for (let k = 0; k < 6; k++) {
      const b = hex(k * 3) * 16 + hex(k * 3 + 1);
      if (b < 0) return false;
      if (k < 2) hi = hi * 256 + b;
      else lo = lo * 256 + b;
    }
    u32[r * 2] = lo >>> 0;
    u32[r * 2 + 1] = hi;
    return true;
  },
  /**
   * Write a string as an inline string_t when it fits in 12 UTF-8 bytes and return null;
   * otherwise return the string (set later with one native call). Low-cardinality values
   * (flags, end reasons, apps) hit a small cache of their four words.
   */
  str(u32: Uint32Array, cache: Map<string, Uint32Array>, r: number, s: string): string | null {
    let w = cache.get(s);
    if (w === undefined) {
      if (s.length > 12) return s;
      const b = TEXT.encode(s);
      if (b.length > 12) return s;
      const k = new Uint8Array(16);
      new DataView(k.buffer).setUint32(0, b.length, true);
      k.set(b, 4);
      w = new Uint32Array(k.buffer);
      if (cache.size >= 4096) cache.clear();
      cache.set(s, w);
    }
    const o = r * 4;
    u32[o] = w[0]!;
    u32[o + 1] = w[1]!;
    u32[o + 2] = w[2]!;
    u32[o + 3] = w[3]!;
    return null;
  },
  i64(u32: Uint32Array, i32: Int32Array, r: number, v: number): void {
    const hi = Math.floor(v / TWO32);
    u32[r * 2] = v - hi * TWO32;
    i32[r * 2 + 1] = hi;
  },
};

function compileFill(
  cols: Column[],
  bufs: ArrayBuffer[],
  valid: Uint32Array[],
  strings: (string | null)[][],
): (recs: readonly Rec[], start: number, n: number, seq: number) => void {
  const lines: string[] = [];
  const pre: string[] = [];
  cols.forEach((c, i) => {
    pre.push(
      `const u${i} = new Uint32Array(bufs[${i}]), i${i} = new Int32Array(bufs[${i}]), f${i} = new Float64Array(bufs[${i}]), b${i} = new Uint8Array(bufs[${i}]), d${i} = new DataView(bufs[${i}]), v${i} = valid[${i}], s${i} = strings[${i}], c${i} = new Map();`,
    );
    const nul = `v${i}[r >>> 5] &= ~(1 << (r & 31));`;
    const get = `const x${i} = rec.${c.name};`;
    const zero = `u${i}[r * 4] = 0; u${i}[r * 4 + 1] = 0; u${i}[r * 4 + 2] = 0; u${i}[r * 4 + 3] = 0;`;
    switch (c.type) {
      case 'string':
        lines.push(
          `${get} if (x${i} == null) { s${i}[r] = null; ${zero} ${nul} } else s${i}[r] = H.str(u${i}, c${i}, r, typeof x${i} === 'string' ? x${i} : String(x${i}));`,
        );
        break;
      case 'string[]':
      case 'int[]':
      case 'json':
        lines.push(
          `${get} if (x${i} == null) { s${i}[r] = null; ${zero} ${nul} } else s${i}[r] = JSON.stringify(x${i});`,
        );
        break;
      case 'ip':
        lines.push(`${get} if (x${i} == null || !H.ip(u${i}, d${i}, r, String(x${i}))) { ${nul} }`);
        break;
      case 'mac':
        lines.push(`${get} if (x${i} == null || !H.mac(u${i}, r, String(x${i}))) { ${nul} }`);
        break;
      case 'int':
        lines.push(
          `${get} if (typeof x${i} !== 'number' || !(x${i} === x${i})) { ${nul} } else H.i64(u${i}, i${i}, r, Math.trunc(x${i}));`,
        );
        break;
      case 'float':
        lines.push(`${get} if (typeof x${i} !== 'number') { ${nul} } else f${i}[r] = x${i};`);
        break;
      case 'bool':
        lines.push(`${get} if (x${i} == null) { ${nul} } else b${i}[r] = x${i} ? 1 : 0;`);
        break;
      case 'ts':
        lines.push(
          `${get} const t${i} = typeof x${i} === 'string' ? H.isoToMicros(x${i}) : typeof x${i} === 'number' ? x${i} * 1000 : NaN; if (!(t${i} === t${i})) { ${nul} } else H.i64(u${i}, i${i}, r, Math.round(t${i}));`,
        );
        break;
    }
  });
  const k = cols.length;
  pre.push(`const uS = new Uint32Array(bufs[${k}]), iS = new Int32Array(bufs[${k}]);`);
  const body = `${pre.join('\n')}
return function fill(recs, start, n, seq) {
  for (let r = 0; r < n; r++) {
    const rec = recs[start + r];
    ${lines.join('\n    ')}
    H.i64(uS, iS, r, seq + r);
  }
};`;
  return new Function('H', 'bufs', 'valid', 'strings', body)(H, bufs, valid, strings);
}
