/**
 * Compact columnar form of a batch of collected records, for the way back from the decode
 * worker to the main thread. Structured clone of record objects costs 2.4–3.3 µs per record to
 * deserialize (more than decoding them), so `exported_flow` records travel as one transferred
 * ArrayBuffer of number columns (NaN = null) and string-index columns into one per-batch
 * dictionary of distinct strings; the main thread rebuilds the objects with one generated
 * object literal per record (same keys, same order as `toRecord`). Anything else (sFlow counter
 * records, the `extra` objects) goes by structured clone, marked by its index in the batch.
 * The decode thread writes this form directly (`column-writer.ts`); `encodeColumns` makes it
 * from record objects, for other producers and as the reference the writer is tested against.
 */
import { exportedFlowRecord } from '../schema/exported-flow.js';
import { allRows, type Columnar } from '../store/columnar.js';
import { msIso } from './flow-acc.js';
import type { CollectedRecord, ExportedFlowRecord } from './types.js';

type FlowKey = keyof ExportedFlowRecord & string;

const ALL_KEYS = Object.keys(exportedFlowRecord.fields) as FlowKey[];
/**
 * The number and string columns of an `exported_flow` batch, in the schema's order. Times
 * (export, first, last) are number columns, ms since the epoch as the decoder computed them
 * (`Columnar`'s form): as ISO strings they were two or three distinct dictionary entries per
 * flow on real traffic, cloned to the main thread, then parsed back by the detectors (tsMs:
 * 1.75 of the main thread's 32 busy CPU-s at 400k records/s) and again by the store.
 */
export const NUM_KEYS: FlowKey[] = [];
export const STR_KEYS: FlowKey[] = [];
/** Of NUM_KEYS, the times: records hold them as ISO strings. */
const TS_KEYS = new Set<FlowKey>();
for (const k of ALL_KEYS) {
  const t = exportedFlowRecord.fields[k as keyof typeof exportedFlowRecord.fields].type;
  if (t === 'int' || t === 'float' || t === 'ts') NUM_KEYS.push(k);
  else if (t !== 'json') STR_KEYS.push(k);
  if (t === 'ts') TS_KEYS.add(k);
}

/** ms of a record's ISO time (as `msIso` writes it: the same double comes back), NaN if not one. */
function isoMs(v: unknown): number {
  return typeof v === 'string' ? isoNsToMs(v) : Number.NaN;
}

/**
 * ms since the epoch of an ISO time with up to nine fraction digits. A time `msIso` wrote
 * parses back to the double it was made from: the text holds the double's fraction to the ns,
 * finer than doubles are apart (0.24 µs near 1.7e12 ms, 31 µs in the year 9999), and the
 * whole seconds are exact.
 */
function isoNsToMs(v: string): number {
  if (v.length < 20 || v.charCodeAt(10) !== 84 || v.charCodeAt(v.length - 1) !== 90) return Number.NaN;
  const n = (a: number, b: number): number => Number(v.slice(a, b));
  const sec = Date.UTC(n(0, 4), n(5, 7) - 1, n(8, 10), n(11, 13), n(14, 16), n(17, 19));
  let ns = 0;
  if (v.charCodeAt(19) === 46) {
    let scale = 1e8;
    for (let i = 20; i < v.length - 1 && scale >= 1; i++, scale /= 10) ns += (v.charCodeAt(i) - 48) * scale;
  }
  return sec + ns / 1e6;
}
const NN = NUM_KEYS.length;
const NS = STR_KEYS.length;

export interface ColumnBatch {
  n: number;
  /** Per record (row-major, so one record's values share cache lines): NN Float64 numbers, then
   *  after all of them NS Int32 string indexes per record. */
  buf: ArrayBuffer;
  /**
   * Byte offset of the string indexes in `buf` when it is not right after the n records'
   * numbers: the decode thread hands on the buffer it wrote into, sized for more rows.
   */
  sOff?: number;
  dict: string[];
  /** Records that are not exported_flow, by index. */
  others: [number, CollectedRecord][];
  /** `extra` of exported_flow records that have one, by index. */
  extras: [number, unknown][];
}

type Put = (
  r: ExportedFlowRecord,
  f: Float64Array,
  s: Int32Array,
  i: number,
  dict: string[],
  last: (string | null)[],
  lastIdx: Int32Array,
  isoMs: (v: unknown) => number,
) => void;

// Named property reads (generated) instead of `r[key]` in a loop: keyed loads over 38 keys are
// megamorphic and cost most of the encoding time. A string equal to the previous one of its
// column is shared (exporter, source, timestamps repeat); others are appended: cheaper than a
// dictionary lookup per string.
const put = new Function(
  'r',
  'f',
  's',
  'i',
  'd',
  'last',
  'li',
  'isoMs',
  `let v; const fb = i * ${NN}; const sb = i * ${NS};
${NUM_KEYS.map((k, ni) => (TS_KEYS.has(k) ? `f[fb + ${ni}] = isoMs(r.${k});` : `v = r.${k}; f[fb + ${ni}] = typeof v === 'number' ? v : NaN;`)).join('\n')}
${STR_KEYS.map(
  (k, si) =>
    `v = r.${k}; if (typeof v !== 'string') s[sb + ${si}] = -1; else if (v === last[${si}]) s[sb + ${si}] = li[${si}]; else { last[${si}] = v; li[${si}] = d.length; s[sb + ${si}] = d.length; d.push(v); }`,
).join('\n')}`,
) as Put;

/** Encode `recs` (the worker side). The returned `buf` is meant to be transferred. */
export function encodeColumns(recs: CollectedRecord[]): ColumnBatch {
  const n = recs.length;
  const buf = new ArrayBuffer(n * (NN * 8 + NS * 4));
  const f = new Float64Array(buf, 0, NN * n);
  const s = new Int32Array(buf, NN * n * 8, NS * n);
  const dict: string[] = [];
  const last: (string | null)[] = new Array(NS).fill(null);
  const lastIdx = new Int32Array(NS);
  const others: [number, CollectedRecord][] = [];
  const extras: [number, unknown][] = [];
  for (let i = 0; i < n; i++) {
    const r = recs[i]!;
    if (r.type !== 'exported_flow') {
      others.push([i, r]);
      continue;
    }
    put(r, f, s, i, dict, last, lastIdx, isoMs);
    if (r.extra !== null && r.extra !== undefined) extras.push([i, r.extra]);
  }
  return { n, buf, dict, others, extras };
}

type Build = (
  f: Float64Array,
  s: Int32Array,
  d: string[],
  i: number,
  n: number,
  msIso: (ms: number) => string,
) => ExportedFlowRecord;

// One object literal with the schema's keys in order: every rebuilt record has the same shape
// as those `toRecord` makes. Generated from the schema so the two cannot drift apart.
const build = new Function(
  'f',
  's',
  'd',
  'i',
  'n',
  'msIso',
  `let x; let j; return {type: 'exported_flow', ${ALL_KEYS.map((k) => {
    const ni = NUM_KEYS.indexOf(k);
    if (ni >= 0 && TS_KEYS.has(k)) return `${k}: (x = f[i * ${NN} + ${ni}], x === x ? msIso(x) : null)`;
    if (ni >= 0) return `${k}: (x = f[i * ${NN} + ${ni}], x === x ? x : null)`;
    const si = STR_KEYS.indexOf(k);
    if (si >= 0) return `${k}: (j = s[i * ${NS} + ${si}], j < 0 ? null : d[j])`;
    return `${k}: null`;
  }).join(', ')}};`,
) as Build;

/** Rebuild the records (the main side). */
export function decodeColumns(b: ColumnBatch): CollectedRecord[] {
  const n = b.n;
  const f = new Float64Array(b.buf, 0, NN * n);
  const s = new Int32Array(b.buf, b.sOff ?? NN * n * 8, NS * n);
  const out: CollectedRecord[] = new Array(n);
  let oi = 0;
  let ei = 0;
  const others = b.others;
  const extras = b.extras;
  for (let i = 0; i < n; i++) {
    if (oi < others.length && others[oi]![0] === i) {
      out[i] = others[oi++]![1];
      continue;
    }
    const r = build(f, s, b.dict, i, n, msIso);
    if (ei < extras.length && extras[ei]![0] === i) r.extra = extras[ei++]![1];
    out[i] = r;
  }
  return out;
}

/**
 * The batch as the store's column form (`exported_flow` rows selected, `extra` as a JSON
 * column) plus the other records as objects: the collector's way to the store without an
 * object per flow.
 */
export function columnarOf(b: ColumnBatch): { flows: Columnar; others: CollectedRecord[] } {
  const n = b.n;
  const others: CollectedRecord[] = b.others.map((o) => o[1]);
  let rows: Uint32Array;
  if (others.length === 0) {
    rows = allRows(n);
  } else {
    rows = new Uint32Array(n - others.length);
    let k = 0;
    let oi = 0;
    for (let i = 0; i < n; i++) {
      if (oi < b.others.length && b.others[oi]![0] === i) {
        oi++;
        continue;
      }
      rows[k++] = i;
    }
  }
  const flows: Columnar = {
    num: NUM_KEYS,
    str: STR_KEYS,
    f: new Float64Array(b.buf, 0, NN * n),
    s: new Int32Array(b.buf, b.sOff ?? NN * n * 8, NS * n),
    dict: b.dict,
    rows,
  };
  if (b.extras.length > 0) flows.json = { extra: new Map(b.extras) };
  return { flows, others };
}
