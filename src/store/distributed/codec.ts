import { parseIpv4 } from '../../common/addr.js';
import type { AnyRecordDef } from '../../schema/registry.js';
import type { Rec } from '../types.js';
import { bigintToIp, ipToBigint, isoToMicros, macToNumber, microsToIso, numberToMac } from '../values.js';
import type { RowBinary } from './rowbinary.js';
import { chColumns } from './schema.js';

/**
 * Record values ↔ ClickHouse values, the same coding as the embedded store (values.ts): what
 * the embedded store would store as NULL (an unparseable address, a NaN) is NULL here too.
 */

/**
 * Write one record's columns (registry order) and its `_seq` as RowBinary. The per-record code
 * is generated from the registry so every field is a named property read (monomorphic for
 * records of one shape), as the embedded store's ChunkWriter does: this is the ingest hot path.
 */
export function encoder(def: AnyRecordDef): (w: RowBinary, r: Rec, seq: number) => void {
  const cols = chColumns(def);
  const put = cols.map((c) => valueWriter(c.type));
  const empty = cols.map((c) => emptyWriter(c.type));
  const lines = cols.map((c, i) => {
    const get = `const v${i} = r.${c.name};`;
    if (!c.nullable) return `${get} if (v${i} == null || !P[${i}](w, v${i})) E[${i}](w);`;
    return `${get} if (v${i} == null) w.u8(1); else { const a${i} = w.pos; w.u8(0); if (!P[${i}](w, v${i})) { w.pos = a${i}; w.u8(1); } }`;
  });
  const body = `${lines.join('\n')}\nw.u64(seq);`;
  const fn = new Function('P', 'E', 'w', 'r', 'seq', body) as (
    p: typeof put,
    e: typeof empty,
    w: RowBinary,
    r: Rec,
    seq: number,
  ) => void;
  return (w, r, seq) => fn(put, empty, w, r, seq);
}

/** Writes a value and returns true, or writes nothing and returns false when it is unusable. */
export function valueWriter(t: string): (w: RowBinary, v: unknown) => boolean {
  switch (t) {
    case 'ip':
      return (w, v) => {
        const s = String(v);
        const v4 = parseIpv4(s);
        if (v4 !== null) {
          w.ipv4(v4);
          return true;
        }
        const b = ipToBigint(s);
        if (b === null) return false;
        w.u128be(b);
        return true;
      };
    case 'mac':
      return (w, v) => {
        const m = typeof v === 'string' ? fastMac(v) : null;
        if (m === null) return false;
        w.u64(m);
        return true;
      };
    case 'int':
      return (w, v) => {
        if (typeof v !== 'number' || Number.isNaN(v)) return false;
        w.i64(Math.trunc(v));
        return true;
      };
    case 'float':
      return (w, v) => {
        if (typeof v !== 'number') return false;
        w.f64(v);
        return true;
      };
    case 'bool':
      return (w, v) => {
        w.u8(v ? 1 : 0);
        return true;
      };
    case 'ts':
      return (w, v) => {
        const t = typeof v === 'string' ? isoToMicros(v) : typeof v === 'number' ? v * 1000 : Number.NaN;
        if (Number.isNaN(t)) return false;
        w.i64(Math.round(t));
        return true;
      };
    case 'string[]':
    case 'int[]':
    case 'json':
      return (w, v) => {
        w.str(JSON.stringify(v));
        return true;
      };
    default:
      return (w, v) => {
        w.str(typeof v === 'string' ? v : String(v));
        return true;
      };
  }
}

export function emptyWriter(t: string): (w: RowBinary) => void {
  switch (t) {
    case 'ip':
      return (w) => w.u128be(0n);
    case 'mac':
    case 'int':
    case 'ts':
      return (w) => w.i64(0);
    case 'float':
      return (w) => w.f64(0);
    case 'bool':
      return (w) => w.u8(0);
    default:
      return (w) => w.str('');
  }
}

/** The SELECT expression of a field: addresses leave as hex (TabSeparated is text). */
export function outExpr(name: string, type: string): string {
  return type === 'ip' ? `hex(${name})` : name;
}

/** A TabSeparated field as the API shows it. */
export function fromText(type: string, s: string | null): unknown {
  if (s === null) return null;
  switch (type) {
    case 'ip':
      return s.length === 32 ? bigintToIp(BigInt(`0x${s}`)) : null;
    case 'mac':
      return numberToMac(Number(s));
    case 'int':
      return Number(s);
    case 'float':
      return s === 'nan'
        ? Number.NaN
        : s === 'inf' || s === '+inf'
          ? Infinity
          : s === '-inf'
            ? -Infinity
            : Number(s);
    case 'bool':
      return s === '1' || s === 'true';
    case 'ts':
      return microsToIso(Number(s));
    case 'string[]':
    case 'int[]':
    case 'json':
      try {
        return JSON.parse(s);
      } catch {
        return null;
      }
    default:
      return s;
  }
}

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) HEX['0123456789abcdef'.charCodeAt(i)] = i;
for (let i = 10; i < 16; i++) HEX['ABCDEF'.charCodeAt(i - 10)] = i;

/** aa:bb:cc:dd:ee:ff (or with -) as a 48-bit number without a regex: one per MAC column per row. */
function fastMac(s: string): number | null {
  if (s.length !== 17) return macToNumber(s);
  let v = 0;
  for (let i = 0; i < 17; i += 3) {
    const a = HEX[s.charCodeAt(i)] ?? -1;
    const b = HEX[s.charCodeAt(i + 1)] ?? -1;
    if (a < 0 || b < 0 || (i < 15 && s[i + 2] !== ':' && s[i + 2] !== '-')) return macToNumber(s);
    v = v * 256 + a * 16 + b;
  }
  return v;
}
