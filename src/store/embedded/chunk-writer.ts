import './allocator.js';
import { createRequire } from 'node:module';
import duckdb from '@duckdb/node-bindings';
import { parseIpv6Words } from '../../common/addr.js';
import type { AnyRecordDef } from '../../schema/registry.js';
import type { Columnar } from '../columnar.js';
import { JsonTextColumn } from '../columnar-wire.js';
import type { Rec } from '../types.js';
import { isoToMicros } from '../values.js';
import { DuckDBAppender, DuckDBDataChunk, UBIGINT } from './duckdb.js';
import { type Column, columnsOf } from './schema.js';

/**
 * Where an ArrayBuffer's bytes are (the vantage-pcap addon), or null without it: then every
 * string longer than 12 bytes costs one N-API call per row (`vector_assign_string_element`).
 */
const bufferAddress = ((): ((ab: ArrayBuffer) => number) | null => {
  if (process.env.VANTAGE_NO_PCAP === '1') return null;
  try {
    const b = createRequire(import.meta.url)('vantage-pcap') as {
      bufferAddress?: (ab: ArrayBuffer) => number;
    };
    return typeof b.bufferAddress === 'function' ? b.bufferAddress : null;
  } catch {
    return null;
  }
})();

/** Rows converted column by column before the next rows (see `appendColumns`). */
const TILE_ROWS = 256;
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

  /**
   * `pointers`: the column path writes strings longer than 12 bytes as DuckDB string_t values
   * pointing into this writer's own byte heap (needs the vantage-pcap addon; the default when
   * it is there) instead of one native call per row.
   */
  constructor(def: AnyRecordDef, opts: { pointers?: boolean } = {}) {
    this.pointers = (opts.pointers ?? true) && bufferAddress !== null;
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
    this.widths = Int32Array.from(this.columns.map((c) => WIDTH[c.sqlType] ?? 0).concat(8));
    this.views = this.bufs.map((b, i) => ({
      u32: new Uint32Array(b),
      i32: new Int32Array(b),
      f64: new Float64Array(b),
      b8: new Uint8Array(b),
      str: this.widths[i] === 0,
    }));
    this.hasNull = new Int32Array(ncol);
    this.long = new Int32Array(ncol);
  }

  private readonly widths: Int32Array;
  /** Long strings go as pointers into `heap` (see the constructor). */
  readonly pointers: boolean;
  /**
   * Place `s` in the heap and write its string_t (length, first 4 bytes, address) at word `o`
   * of `u32`; false (nothing written) when it fits inline (12 bytes or fewer).
   */
  private place(u32: Uint32Array, o: number, s: string): boolean {
    const max = s.length * 3;
    if (max <= 12 || !room(max)) return false;
    const h = HEAP.buf!;
    const at = HEAP.at;
    // ASCII (names, hashes, Community IDs) byte by byte: encodeInto would need a subarray
    // (an object) per string.
    let len = s.length;
    for (let i = 0; i < len; i++) {
      const ch = s.charCodeAt(i);
      if (ch > 127) {
        len = TEXT.encodeInto(s, h.subarray(at, at + max)).written;
        break;
      }
      h[at + i] = ch;
    }
    if (len <= 12) return false;
    HEAP.at = at + len;
    const a = HEAP.addr + at;
    u32[o] = len;
    u32[o + 1] = h[at]! | (h[at + 1]! << 8) | (h[at + 2]! << 16) | (h[at + 3]! << 24);
    u32[o + 2] = a % TWO32;
    u32[o + 3] = Math.floor(a / TWO32);
    return true;
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
   * rows share it. No object is made per row; the loops run column by column, each specialised
   * to one conversion, and the memos are typed arrays kept across batches (grow-only, stamped
   * with the batch so nothing is cleared).
   */
  appendColumns(appender: DuckDBAppender, c: Columnar, seq: number): void {
    const plan = this.planFor(c);
    const memo = this.memoFor(c.dict.length);
    const total = c.rows.length;
    const rows = c.rows;
    const src = this.src;
    // The object path leaves its validity masks as its last chunk had them.
    for (const v of this.valid) v.fill(0xffffffff);
    for (let start = 0; start < total; start += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, total - start);
      for (let r = 0; r < n; r++) src[r] = rows[start + r]!;
      // A chunk in a method of its own: called for every chunk, it is optimized as a whole
      // function, not on-stack at each of its loops in the middle of a long batch.
      this.fillChunk(appender, c, plan, memo, n, seq + start);
    }
    // Every chunk of the batch is appended (DuckDB copied the bytes): the heap starts over.
    heapRestart();
  }

  /**
   * Begin a feed: the rows of `parts` (numbered from `seq`) handed to DuckDB a chunk at a time
   * by `feedChunk`, from a table function an `INSERT … SELECT` scans on DuckDB's own threads.
   * Until `endFeed` the heap is not started over: DuckDB copies a chunk's texts only when it
   * inserts the chunk, after the call that filled it returned.
   */
  beginFeed(parts: readonly Columnar[], seq: number): void {
    for (const v of this.valid) v.fill(0xffffffff);
    if (this.feed === null) HEAP.feeds++;
    this.feed = { parts, part: 0, row: 0, seq, plan: null, memo: null };
  }

  /** Fill a table function's output chunk with the feed's next rows; 0 once they are all given. */
  feedChunk(out: duckdb.DataChunk): number {
    const f = this.feed;
    if (f === null) return 0;
    let c = f.parts[f.part];
    while (c !== undefined && f.row >= c.rows.length) {
      c = f.parts[++f.part];
      f.row = 0;
      f.plan = null;
    }
    if (c === undefined) return 0;
    if (f.plan === null || f.memo === null) {
      f.plan = this.planFor(c);
      f.memo = this.memoFor(c.dict.length);
    }
    const n = Math.min(CHUNK_ROWS, c.rows.length - f.row);
    const rows = c.rows;
    const src = this.src;
    for (let r = 0; r < n; r++) src[r] = rows[f.row + r]!;
    this.fillChunk(out, c, f.plan, f.memo, n, f.seq);
    f.row += n;
    f.seq += n;
    return n;
  }

  /** The feed is over (inserted or failed): the heap its texts pointed into starts over. */
  endFeed(): void {
    if (this.feed === null) return;
    this.feed = null;
    HEAP.feeds--;
    heapRestart();
  }

  private feed: {
    parts: readonly Columnar[];
    part: number;
    row: number;
    seq: number;
    plan: Plan[] | null;
    memo: Memo | null;
  } | null = null;

  /** Convert the `n` rows of `src` (a chunk of batch `c`) and append them, numbered from `seq0`. */
  private fillChunk(
    to: DuckDBAppender | duckdb.DataChunk,
    c: Columnar,
    plan: Plan[],
    memo: Memo,
    n: number,
    seq0: number,
  ): void {
    const nn = c.num.length;
    const ns = c.str.length;
    const src = this.src;
    const f = c.f;
    const s = c.s;
    const dict = c.dict;
    const nullable = this.hasNull;
    nullable.fill(0);
    this.long.fill(0);
    // Rows in tiles, every column of a tile before the next: the batch's numbers are by row
    // (a row is ~40 doubles), so a column's pass over a whole chunk touched a new cache line
    // per value, 650 KB of them per column, and the next column came back to them cold.
    for (let r0 = 0; r0 < n; r0 += TILE_ROWS) {
      const r1 = Math.min(n, r0 + TILE_ROWS);
      for (let ci = 0; ci < plan.length; ci++) {
        const p = plan[ci]!;
        const v = this.views[ci]!;
        const valid = this.valid[ci]!;
        const { u32, i32, f64, b8 } = v;
        const j = p.idx;
        let nulls = 0;
        // Each conversion is a small function of its own: in one large function, a case first
        // met in a later batch (a JSON column, a time as text) deoptimized the whole loop, and
        // each of its many re-optimizations (on-stack, at every loop) took 100-450 ms of a
        // compiler thread (10 compiles per ingest with a pipeline worker, 6 without).
        switch (p.conv) {
          case CONV.none:
            if (r0 > 0) break;
            valid.fill(0);
            if (v.str) u32.fill(0, 0, n * 4);
            nulls = n;
            break;
          case CONV.json: {
            const m = c.json?.[this.columns[ci]!.name];
            const ss = this.strings[ci]!;
            // A batch from a pipeline worker holds the text already (made there, once per
            // shared value): no stringify here.
            const long =
              m instanceof JsonTextColumn
                ? this.jsonText(m, u32, valid, ss, src, r0, r1)
                : this.jsonValues(m, u32, valid, ss, src, r0, r1);
            nulls = long >>> 16;
            this.long[ci]! += long & 0xffff;
            break;
          }
          case CONV.numInt:
            nulls = numInt(f, nn, j, src, r0, r1, u32, i32, valid);
            break;
          case CONV.numFloat:
            nulls = numFloat(f, nn, j, src, r0, r1, f64, valid);
            break;
          case CONV.numTs:
            nulls = numTs(f, nn, j, src, r0, r1, u32, i32, valid);
            break;
          case CONV.numBool:
            nulls = numBool(f, nn, j, src, r0, r1, b8, valid);
            break;
          case CONV.numNull:
            for (let r = r0; r < r1; r++) nulls = setNull(valid, r, nulls);
            break;
          case CONV.strTs:
            nulls = strTs(s, ns, j, src, r0, r1, u32, i32, valid, dict, memo);
            break;
          case CONV.strIp:
            nulls = strIp(s, ns, j, src, r0, r1, u32, valid, dict, memo);
            break;
          case CONV.strMac:
            nulls = strMac(s, ns, j, src, r0, r1, u32, valid, dict);
            break;
          case CONV.strNum:
            nulls = strNum(
              s,
              ns,
              j,
              src,
              r0,
              r1,
              u32,
              i32,
              f64,
              valid,
              dict,
              this.columns[ci]!.type === 'float',
            );
            break;
          case CONV.strText: {
            const long = this.strText(s, ns, j, src, r0, r1, u32, valid, dict, memo, this.strings[ci]!);
            nulls = long >>> 16;
            this.long[ci]! += long & 0xffff;
            break;
          }
        }
        nullable[ci]! += nulls;
      }
    }
    const uS = this.views[this.columns.length]!.u32;
    for (let r = 0; r < n; r++) {
      const q = seq0 + r;
      const hi = Math.floor(q / TWO32);
      uS[r * 2] = q - hi * TWO32;
      uS[r * 2 + 1] = hi;
    }
    this.sendColumns(to, n);
  }

  /** A JSON column's rows r0..r1 of a tile from its values. Returns nulls << 16 | long strings. */
  private jsonValues(
    m: ReadonlyMap<number, unknown> | undefined,
    u32: Uint32Array,
    valid: Uint32Array,
    ss: (string | null)[],
    src: Uint32Array,
    r0: number,
    r1: number,
  ): number {
    let nulls = 0;
    if (!this.pointers) {
      for (let r = r0; r < r1; r++) {
        const x = m?.get(src[r]!);
        if (x == null) {
          ss[r] = null;
          u32[r * 4] = u32[r * 4 + 1] = u32[r * 4 + 2] = u32[r * 4 + 3] = 0;
          nulls = setNull(valid, r, nulls);
        } else ss[r] = JSON.stringify(x);
      }
      return (nulls << 16) | (r1 - r0 - nulls);
    }
    // Lists a record shares with others (a TLS shape's cipher suites) are one object: a row
    // with the value of the row before gets that row's string_t.
    let prev: unknown = null;
    let prevO = 0;
    let long = 0;
    for (let r = r0; r < r1; r++) {
      const x = m?.get(src[r]!);
      const o = r * 4;
      ss[r] = null;
      if (x == null) {
        u32[o] = u32[o + 1] = u32[o + 2] = u32[o + 3] = 0;
        nulls = setNull(valid, r, nulls);
        continue;
      }
      if (x === prev) {
        u32[o] = u32[prevO]!;
        u32[o + 1] = u32[prevO + 1]!;
        u32[o + 2] = u32[prevO + 2]!;
        u32[o + 3] = u32[prevO + 3]!;
      } else {
        const t = JSON.stringify(x);
        if (H.inlineAt(u32, o, t) || this.place(u32, o, t)) prev = x;
        else {
          ss[r] = t;
          long++;
          prev = null;
        }
      }
      prevO = o;
    }
    return (nulls << 16) | long;
  }

  /**
   * A text column's rows r0..r1 of a tile, each distinct entry converted once per batch (inline
   * words, a pointer into the heap, or the string for a native call). Returns nulls << 16 | long.
   */
  private strText(
    s: Int32Array,
    ns: number,
    j: number,
    src: Uint32Array,
    r0: number,
    r1: number,
    u32: Uint32Array,
    valid: Uint32Array,
    dict: readonly string[],
    memo: Memo,
    ss: (string | null)[],
  ): number {
    // 0: not seen in this batch; 1: inline words in `memo.words`; 2: longer than 12 bytes;
    // 3: a string_t pointing into the heap, in `words` like an inline one.
    const gen = memo.gen;
    const st = memo.textAt;
    const kind = memo.textKind;
    const words = memo.words;
    let nulls = 0;
    let long = 0;
    for (let r = r0; r < r1; r++) {
      const d = s[src[r]! * ns + j]!;
      const o = r * 4;
      if (d < 0) {
        u32[o] = u32[o + 1] = u32[o + 2] = u32[o + 3] = 0;
        ss[r] = null;
        nulls = setNull(valid, r, nulls);
        continue;
      }
      if (st[d] !== gen) {
        kind[d] = H.inlineAt(words, d * 4, dict[d]!)
          ? 1
          : this.pointers && this.place(words, d * 4, dict[d]!)
            ? 3
            : 2;
        st[d] = gen;
      }
      if (kind[d] !== 2) {
        const k = d * 4;
        u32[o] = words[k]!;
        u32[o + 1] = words[k + 1]!;
        u32[o + 2] = words[k + 2]!;
        u32[o + 3] = words[k + 3]!;
        ss[r] = null;
      } else {
        ss[r] = dict[d]!;
        long++;
      }
    }
    return (nulls << 16) | long;
  }

  /**
   * A JSON column's rows r0..r1 of a tile from their texts, as the object path writes them
   * (rows that share a text entry share a string_t). Returns nulls << 16 | long strings.
   */
  private jsonText(
    m: JsonTextColumn,
    u32: Uint32Array,
    valid: Uint32Array,
    ss: (string | null)[],
    src: Uint32Array,
    r0: number,
    r1: number,
  ): number {
    let nulls = 0;
    let long = 0;
    let prev = -1;
    let prevO = 0;
    for (let r = r0; r < r1; r++) {
      const e = m.entry(src[r]!);
      const o = r * 4;
      ss[r] = null;
      if (e < 0) {
        u32[o] = u32[o + 1] = u32[o + 2] = u32[o + 3] = 0;
        nulls = setNull(valid, r, nulls);
        continue;
      }
      if (e === prev) {
        u32[o] = u32[prevO]!;
        u32[o + 1] = u32[prevO + 1]!;
        u32[o + 2] = u32[prevO + 2]!;
        u32[o + 3] = u32[prevO + 3]!;
      } else {
        const t = m.text(src[r]!)!;
        if (H.inlineAt(u32, o, t) || (this.pointers && this.place(u32, o, t))) prev = e;
        else {
          ss[r] = t;
          long++;
          prev = -1;
        }
      }
      prevO = o;
    }
    return (nulls << 16) | long;
  }

  /** The typed-array memos, grown to hold a dictionary of `len` entries; a new stamp per batch. */
  private memoFor(len: number): Memo {
    let m = this.memo;
    if (m === null || m.cap < len) {
      const cap = Math.max(len, m === null ? 4096 : m.cap * 2);
      m = {
        cap,
        gen: 0,
        tsAt: new Int32Array(cap),
        ts: new Float64Array(cap),
        ipAt: new Int32Array(cap),
        ipOk: new Uint8Array(cap),
        ip: new Uint32Array(cap * 4),
        textAt: new Int32Array(cap),
        textKind: new Uint8Array(cap),
        words: new Uint32Array(cap * 4),
      };
      this.memo = m;
    }
    m.gen = (m.gen + 1) | 0 || 1;
    return m;
  }

  private memo: Memo | null = null;
  private readonly src = new Uint32Array(CHUNK_ROWS);
  private readonly views: Views[];
  /** Null rows per column in the chunk being filled (validity is copied only when > 0). */
  private readonly hasNull: Int32Array;
  /** Strings longer than 12 bytes per column in the chunk being filled. */
  private readonly long: Int32Array;

  /**
   * Copy `n` rows of the column path's buffers into the vectors of this writer's chunk and
   * append it, or into a table function's output chunk (a feed), which DuckDB then inserts.
   */
  private sendColumns(to: DuckDBAppender | duckdb.DataChunk, n: number): void {
    const feed = !(to instanceof DuckDBAppender);
    for (let i = 0; i < this.vectors.length; i++) {
      const vec = feed ? duckdb.data_chunk_get_vector(to, i) : this.vectors[i]!;
      const width = this.widths[i]!;
      if (width > 0) duckdb.copy_data_to_vector(vec, 0, this.bufs[i]!, 0, n * width);
      else {
        duckdb.copy_data_to_vector(vec, 0, this.bufs[i]!, 0, n * 16);
        if (this.long[i]! > 0) {
          const ss = this.strings[i]!;
          for (let r = 0; r < n; r++) {
            const s = ss[r];
            if (s != null) duckdb.vector_assign_string_element(vec, r, s);
          }
        }
      }
      if (this.hasNull[i]! > 0) {
        // The chunk was reset after the last append, so its validity is all valid; only
        // columns with a null in this chunk need theirs.
        duckdb.vector_ensure_validity_writable(vec);
        duckdb.copy_data_to_vector_validity(
          vec,
          0,
          this.valid[i]!.buffer as ArrayBuffer,
          0,
          Math.ceil(n / 64) * 8,
        );
        this.valid[i]!.fill(0xffffffff);
      }
    }
    if (feed) {
      duckdb.data_chunk_set_size(to, n);
      return;
    }
    duckdb.data_chunk_set_size(this.chunk.chunk, n);
    to.appendDataChunk(this.chunk);
    duckdb.data_chunk_reset(this.chunk.chunk);
  }

  /** Where each column's values are in a columnar batch (computed once per field layout). */
  private planFor(c: Columnar): Plan[] {
    if (this.planNum === c.num && this.planStr === c.str && this.plan) return this.plan;
    const num = new Map(c.num.map((k, i) => [k, i]));
    const str = new Map(c.str.map((k, i) => [k, i]));
    this.plan = this.columns.map((col): Plan => {
      const ni = num.get(col.name);
      if (ni !== undefined) {
        const conv =
          col.type === 'int'
            ? CONV.numInt
            : col.type === 'float'
              ? CONV.numFloat
              : col.type === 'ts'
                ? CONV.numTs
                : col.type === 'bool'
                  ? CONV.numBool
                  : CONV.numNull;
        return { conv, idx: ni };
      }
      const si = str.get(col.name);
      if (si !== undefined) {
        const conv =
          col.type === 'ts'
            ? CONV.strTs
            : col.type === 'ip'
              ? CONV.strIp
              : col.type === 'mac'
                ? CONV.strMac
                : col.type === 'int' || col.type === 'float'
                  ? CONV.strNum
                  : CONV.strText;
        return { conv, idx: si };
      }
      if (c.json?.[col.name] !== undefined || col.type === 'json') return { conv: CONV.json, idx: -1 };
      return { conv: CONV.none, idx: -1 };
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

/** How a column's values come out of a columnar batch. */
const CONV = {
  none: 0,
  json: 1,
  numInt: 2,
  numFloat: 3,
  numTs: 4,
  numBool: 5,
  numNull: 6,
  strTs: 7,
  strIp: 8,
  strMac: 9,
  strNum: 10,
  strText: 11,
} as const;

interface Plan {
  conv: (typeof CONV)[keyof typeof CONV];
  /** Index into the batch's `num` or `str` fields. */
  idx: number;
}

interface Views {
  u32: Uint32Array;
  i32: Int32Array;
  f64: Float64Array;
  b8: Uint8Array;
  /** A VARCHAR column (16-byte string_t slots). */
  str: boolean;
}

/** Per-dictionary-entry conversions, valid where the entry's stamp equals `gen`. */
interface Memo {
  cap: number;
  gen: number;
  tsAt: Int32Array;
  ts: Float64Array;
  ipAt: Int32Array;
  ipOk: Uint8Array;
  ip: Uint32Array;
  textAt: Int32Array;
  textKind: Uint8Array;
  words: Uint32Array;
}

function setNull(valid: Uint32Array, r: number, nulls: number): number {
  valid[r >>> 5]! &= ~(1 << (r & 31));
  return nulls + 1;
}

// The conversions of `appendColumns`, rows r0..r1 of a tile of one column; each returns the
// column's nulls in the tile. `f`/`s` are the batch's row-major numbers and dictionary indexes,
// `j` the field's place in a row of `nn`/`ns` values, `src` the chunk's source rows.

function numInt(
  f: Float64Array,
  nn: number,
  j: number,
  src: Uint32Array,
  r0: number,
  r1: number,
  u32: Uint32Array,
  i32: Int32Array,
  valid: Uint32Array,
): number {
  let nulls = 0;
  for (let r = r0; r < r1; r++) {
    const x = f[src[r]! * nn + j]!;
    if (x >= 0 && x < TWO32) {
      // A Uint32Array store truncates a value in [0, 2^32) as Math.trunc would.
      u32[r * 2] = x;
      u32[r * 2 + 1] = 0;
    } else if (!Number.isNaN(x)) H.i64(u32, i32, r, Math.trunc(x));
    else nulls = setNull(valid, r, nulls);
  }
  return nulls;
}

function numFloat(
  f: Float64Array,
  nn: number,
  j: number,
  src: Uint32Array,
  r0: number,
  r1: number,
  f64: Float64Array,
  valid: Uint32Array,
): number {
  let nulls = 0;
  for (let r = r0; r < r1; r++) {
    const x = f[src[r]! * nn + j]!;
    if (!Number.isNaN(x)) f64[r] = x;
    else nulls = setNull(valid, r, nulls);
  }
  return nulls;
}

function numTs(
  f: Float64Array,
  nn: number,
  j: number,
  src: Uint32Array,
  r0: number,
  r1: number,
  u32: Uint32Array,
  i32: Int32Array,
  valid: Uint32Array,
): number {
  let nulls = 0;
  for (let r = r0; r < r1; r++) {
    const x = f[src[r]! * nn + j]!;
    if (!Number.isNaN(x)) H.i64(u32, i32, r, Math.round(x * 1000));
    else nulls = setNull(valid, r, nulls);
  }
  return nulls;
}

function numBool(
  f: Float64Array,
  nn: number,
  j: number,
  src: Uint32Array,
  r0: number,
  r1: number,
  b8: Uint8Array,
  valid: Uint32Array,
): number {
  let nulls = 0;
  for (let r = r0; r < r1; r++) {
    const x = f[src[r]! * nn + j]!;
    if (!Number.isNaN(x)) b8[r] = x ? 1 : 0;
    else nulls = setNull(valid, r, nulls);
  }
  return nulls;
}

function strTs(
  s: Int32Array,
  ns: number,
  j: number,
  src: Uint32Array,
  r0: number,
  r1: number,
  u32: Uint32Array,
  i32: Int32Array,
  valid: Uint32Array,
  dict: readonly string[],
  memo: Memo,
): number {
  const gen = memo.gen;
  const st = memo.tsAt;
  const val = memo.ts;
  let nulls = 0;
  for (let r = r0; r < r1; r++) {
    const d = s[src[r]! * ns + j]!;
    if (d < 0) {
      nulls = setNull(valid, r, nulls);
      continue;
    }
    if (st[d] !== gen) {
      val[d] = Math.round(isoToMicros(dict[d]!));
      st[d] = gen;
    }
    const us = val[d]!;
    if (!Number.isNaN(us)) H.i64(u32, i32, r, us);
    else nulls = setNull(valid, r, nulls);
  }
  return nulls;
}

function strIp(
  s: Int32Array,
  ns: number,
  j: number,
  src: Uint32Array,
  r0: number,
  r1: number,
  u32: Uint32Array,
  valid: Uint32Array,
  dict: readonly string[],
  memo: Memo,
): number {
  const gen = memo.gen;
  const st = memo.ipAt;
  const ok = memo.ipOk;
  const w = memo.ip;
  let nulls = 0;
  for (let r = r0; r < r1; r++) {
    const d = s[src[r]! * ns + j]!;
    if (d < 0) {
      nulls = setNull(valid, r, nulls);
      continue;
    }
    if (st[d] !== gen) {
      ok[d] = H.ip(w, d, dict[d]!) ? 1 : 0;
      st[d] = gen;
    }
    if (ok[d] === 0) {
      nulls = setNull(valid, r, nulls);
      continue;
    }
    const o = r * 4;
    const k = d * 4;
    u32[o] = w[k]!;
    u32[o + 1] = w[k + 1]!;
    u32[o + 2] = w[k + 2]!;
    u32[o + 3] = w[k + 3]!;
  }
  return nulls;
}

function strMac(
  s: Int32Array,
  ns: number,
  j: number,
  src: Uint32Array,
  r0: number,
  r1: number,
  u32: Uint32Array,
  valid: Uint32Array,
  dict: readonly string[],
): number {
  let nulls = 0;
  for (let r = r0; r < r1; r++) {
    const d = s[src[r]! * ns + j]!;
    if (d < 0 || !H.mac(u32, r, dict[d]!)) nulls = setNull(valid, r, nulls);
  }
  return nulls;
}

function strNum(
  s: Int32Array,
  ns: number,
  j: number,
  src: Uint32Array,
  r0: number,
  r1: number,
  u32: Uint32Array,
  i32: Int32Array,
  f64: Float64Array,
  valid: Uint32Array,
  dict: readonly string[],
  isFloat: boolean,
): number {
  let nulls = 0;
  for (let r = r0; r < r1; r++) {
    const d = s[src[r]! * ns + j]!;
    const x = d < 0 ? Number.NaN : Number(dict[d]!);
    if (Number.isNaN(x)) nulls = setNull(valid, r, nulls);
    else if (isFloat) f64[r] = x;
    else H.i64(u32, i32, r, Math.trunc(x));
  }
  return nulls;
}

/**
 * UTF-8 bytes of the long strings of the batch being appended, shared by every writer of the
 * thread: `appendColumns` runs start to end without yielding, and DuckDB's appender copies the
 * bytes when it takes a chunk, so the heap starts over at the next batch. It grows by doubling
 * (a 131,072-row flow batch needs ~4 MiB) and is kept: a new ArrayBuffer per batch made V8
 * collect more often for its external memory. A heap that fills mid-batch is replaced, the old
 * one kept (`spent`) until the batch ends.
 */
const HEAP = { buf: null as Uint8Array | null, addr: 0, at: 0, spent: [] as Uint8Array[], feeds: 0 };
/** The largest heap kept between batches. */
const HEAP_KEEP = 16 << 20;

/**
 * Start the heap over once DuckDB holds copies of every text in it. One grown past what
 * ordinary batches need (huge texts) is let go rather than held for good.
 */
function heapRestart(): void {
  // Another feed still being inserted points into it (two stores in one process).
  if (HEAP.feeds > 0) return;
  HEAP.at = 0;
  HEAP.spent.length = 0;
  if (HEAP.buf !== null && HEAP.buf.length > HEAP_KEEP) HEAP.buf = null;
}

/** Make room for `n` more bytes in the heap. */
function room(n: number): boolean {
  const h = HEAP.buf;
  if (h !== null && HEAP.at + n <= h.length) return true;
  if (h !== null && HEAP.at > 0) HEAP.spent.push(h);
  const ab = new ArrayBuffer(Math.max(1 << 20, n, h === null ? 0 : h.length * 2));
  HEAP.buf = new Uint8Array(ab);
  HEAP.addr = bufferAddress!(ab);
  HEAP.at = 0;
  return true;
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

const V6 = new Uint32Array(4);

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
  ip(u32: Uint32Array, r: number, s: string): boolean {
    const v4 = H.v4(s);
    const o = r * 4;
    if (v4 >= 0) {
      u32[o] = v4;
      u32[o + 1] = 0xffff;
      u32[o + 2] = 0;
      u32[o + 3] = 0;
      return true;
    }
    // The coded address is the 16 bytes as one big-endian number, stored little-endian: the
    // text's words in reverse order, without the BigInt `ipToBigint` builds.
    const w = V6;
    if (!parseIpv6Words(s, w, 0)) return false;
    u32[o] = w[3]!;
    u32[o + 1] = w[2]!;
    u32[o + 2] = w[1]!;
    u32[o + 3] = w[0]!;
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
  /**
   * Write `s` as an inline string_t (length, then up to 12 UTF-8 bytes, zero padded) at word `o`
   * of `u32`; false (nothing written) when it is longer than 12 bytes.
   */
  inlineAt(u32: Uint32Array, o: number, s: string): boolean {
    if (s.length > 12) return false;
    let ascii = true;
    for (let i = 0; i < s.length; i++)
      if (s.charCodeAt(i) > 127) {
        ascii = false;
        break;
      }
    const b = ascii ? null : TEXT.encode(s);
    const len = b === null ? s.length : b.length;
    if (len > 12) return false;
    u32[o] = len;
    u32[o + 1] = u32[o + 2] = u32[o + 3] = 0;
    for (let i = 0; i < len; i++) {
      const at = 4 + i;
      u32[o + (at >>> 2)]! |= (b === null ? s.charCodeAt(i) : b[i]!) << ((at & 3) * 8);
    }
    return true;
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
        lines.push(`${get} if (x${i} == null || !H.ip(u${i}, r, String(x${i}))) { ${nul} }`);
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
