import { feedTime, guessIocType, type IocType, isIocType } from '../model.js';
import { FeedError, type ParseOptions, ParseResult, textLines } from './common.js';

/**
 * Which column holds what. A column is a header name (when the file has a header) or a
 * 0-based index. `type` is a column whose cells name the type; `fixed_type` gives one type
 * to every row; with neither, each value's type is guessed from its form.
 */
export interface CsvMapping {
  value: string | number;
  type?: string | number;
  fixed_type?: IocType;
  confidence?: string | number;
  severity?: string | number;
  first_seen?: string | number;
  last_seen?: string | number;
  valid_until?: string | number;
  description?: string | number;
  tags?: string | number;
  reference?: string | number;
  /** The first line names the columns (default true when any column is given by name). */
  header?: boolean;
  delimiter?: string;
}

/** Type names other tools write in a type column. */
const TYPE_ALIASES: Record<string, IocType> = {
  ip: 'ipv4',
  ipv4: 'ipv4',
  ipv6: 'ipv6',
  'ip-dst': 'ipv4',
  'ip-src': 'ipv4',
  ip_address: 'ipv4',
  cidr: 'cidr',
  subnet: 'cidr',
  network: 'cidr',
  domain: 'domain',
  hostname: 'domain',
  fqdn: 'domain',
  url: 'url',
  uri: 'url',
  md5: 'file_hash',
  sha1: 'file_hash',
  sha256: 'file_hash',
  hash: 'file_hash',
  email: 'email',
  'email-src': 'email',
  'email-dst': 'email',
  ja3: 'ja3',
  'ja3-fingerprint-md5': 'ja3',
  ja3s: 'ja3s',
  ja4: 'ja4',
  sni: 'sni',
};

export function csvTypeOf(s: string): IocType | null {
  const k = s.trim().toLowerCase();
  if (isIocType(k)) return k;
  return TYPE_ALIASES[k] ?? null;
}

/** One CSV row (RFC 4180 quoting; a quoted cell cannot span lines in a feed). */
export function splitCsv(line: string, delim: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            s += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += line[i];
        i++;
      }
      out.push(s);
      if (i < line.length && line.slice(i, i + delim.length) !== delim) return null;
    } else {
      const end = line.indexOf(delim, i);
      out.push(end < 0 ? line.slice(i) : line.slice(i, end));
      if (end < 0) return out;
      i = end;
    }
    if (i >= line.length) return out;
    i += delim.length;
    if (i === line.length) {
      out.push('');
      return out;
    }
  }
}

export function parseCsv(text: string, opts: ParseOptions, m: CsvMapping): ParseResult {
  const r = new ParseResult(opts);
  const delim = m.delimiter ?? ',';
  const byName = Object.values(m).some((v) => typeof v === 'string' && v !== m.fixed_type && v !== delim);
  const header = m.header ?? byName;
  let idx: ((c: string | number | undefined) => number) | null = null;
  for (const [line, n] of textLines(text, opts.maxLine)) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const cells = splitCsv(line, delim);
    if (!cells) {
      r.note('skipped', `line ${n}: unbalanced quotes`);
      continue;
    }
    if (!idx) {
      if (header) {
        const names = cells.map((c) => c.trim().toLowerCase());
        idx = (c) => (c === undefined ? -1 : typeof c === 'number' ? c : names.indexOf(c.toLowerCase()));
        for (const [k, c] of Object.entries(m)) {
          if (['fixed_type', 'header', 'delimiter'].includes(k) || c === undefined) continue;
          if (idx(c as string | number) < 0)
            throw new FeedError(`CSV header has no column '${c}' (mapping.${k})`);
        }
        continue;
      }
      idx = (c) => (c === undefined ? -1 : typeof c === 'number' ? c : -1);
    }
    const get = (c: string | number | undefined): string | undefined => {
      const i = idx!(c);
      const v = i < 0 ? undefined : cells[i]?.trim();
      return v === '' ? undefined : v;
    };
    const value = get(m.value);
    if (!value) {
      r.note('skipped', `line ${n}: empty value`);
      continue;
    }
    const tcell = get(m.type);
    const type = m.fixed_type ?? (tcell !== undefined ? csvTypeOf(tcell) : guessIocType(value));
    if (!type) {
      r.note(
        tcell ? 'unsupported' : 'skipped',
        `line ${n}: type '${tcell ?? value.slice(0, 40)}' is not one we match`,
      );
      continue;
    }
    const num = (c: string | number | undefined): number | undefined => {
      const v = get(c);
      return v !== undefined && Number.isFinite(Number(v)) ? Number(v) : undefined;
    };
    const time = (c: string | number | undefined): number | undefined => {
      const v = get(c);
      return v === undefined ? undefined : feedTime(v);
    };
    const p: Parameters<ParseResult['add']>[2] = {};
    const conf = num(m.confidence);
    if (conf !== undefined) p.confidence = conf;
    const sev = num(m.severity);
    if (sev !== undefined) p.severity = sev;
    const fs = time(m.first_seen);
    if (fs !== undefined) p.first_seen = fs;
    const ls = time(m.last_seen);
    if (ls !== undefined) p.last_seen = ls;
    const vu = time(m.valid_until);
    if (vu !== undefined) p.valid_until = vu;
    const d = get(m.description);
    if (d !== undefined) p.description = d;
    const tags = get(m.tags);
    if (tags !== undefined)
      p.tags = tags
        .split(/[;|]/)
        .map((t) => t.trim())
        .filter((t) => t !== '');
    const ref = get(m.reference);
    if (ref !== undefined) p.references = [ref];
    r.add(type, value, p, `line ${n}: `);
  }
  return r;
}

const HEADER_NAMES: Record<string, keyof CsvMapping> = {
  value: 'value',
  indicator: 'value',
  ioc: 'value',
  type: 'type',
  indicator_type: 'type',
  confidence: 'confidence',
  severity: 'severity',
  first_seen: 'first_seen',
  last_seen: 'last_seen',
  valid_until: 'valid_until',
  expires: 'valid_until',
  description: 'description',
  tags: 'tags',
  reference: 'reference',
};

/** A mapping read off the header line when the feed gives none: known column names, else column 0. */
export function sniffCsvMapping(text: string): CsvMapping {
  const first = text.slice(0, Math.min(text.length, 4096)).split('\n')[0] ?? '';
  const cells = splitCsv(first.replace(/\r$/, ''), ',') ?? [];
  const m: Record<string, string> = {};
  for (const c of cells) {
    const k = HEADER_NAMES[c.trim().toLowerCase()];
    if (k && m[k] === undefined) m[k] = c.trim();
  }
  return m.value !== undefined ? ({ ...m, header: true } as unknown as CsvMapping) : { value: 0 };
}
