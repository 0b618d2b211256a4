/** Numbers and times as people read them. */

const SI = ['', 'k', 'M', 'G', 'T', 'P'];

export function si(v: number | null | undefined, unit = '', digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  let i = 0;
  let x = Math.abs(v);
  while (x >= 1000 && i < SI.length - 1) {
    x /= 1000;
    i++;
  }
  const n = x === 0 ? '0' : x >= 100 ? x.toFixed(0) : Number(x.toPrecision(digits)).toString();
  return `${v < 0 ? '-' : ''}${n}${unit || SI[i] ? ' ' : ''}${SI[i]}${unit}`;
}

export function bytes(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let x = v;
  while (x >= 1024 && i < u.length - 1) {
    x /= 1024;
    i++;
  }
  return `${i === 0 ? x : x.toFixed(x >= 100 ? 0 : 1)} ${u[i]}`;
}

export function int(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : Math.round(v).toLocaleString('en-US');
}

export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v >= 10 ? v.toFixed(1) : v.toFixed(2)} ms`;
}

export function pct(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : `${(v * 100).toFixed(2)} %`;
}

/** A time as UTC "2024-05-01 10:00:00" (the store's times are UTC). */
export function time(iso: string | number | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return '–';
  const d = typeof iso === 'number' ? new Date(iso) : new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$|Z$/, '');
}

export const PROTOS: Record<number, string> = {
  1: 'ICMP',
  6: 'TCP',
  17: 'UDP',
  47: 'GRE',
  50: 'ESP',
  58: 'ICMPv6',
  132: 'SCTP',
};

/** A record field's value for a table cell. */
export function cell(name: string, type: string, v: unknown): string {
  if (v === null || v === undefined) return '';
  if (name === 'proto' && typeof v === 'number') return PROTOS[v] ?? String(v);
  if (type === 'ts') return time(v as string);
  if (Array.isArray(v)) return v.join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  if (typeof v === 'number' && type === 'float') return Number.isInteger(v) ? String(v) : v.toFixed(3);
  return String(v);
}

export function countryName(code: string | null | undefined): string {
  if (!code || code === 'ZZ') return 'Private or unknown';
  try {
    return new Intl.DisplayNames(['en'], { type: 'region' }).of(code) ?? code;
  } catch {
    return code;
  }
}
