import type { IocType } from '../model.js';
import { FeedError, type ParseOptions, ParseResult, textLines } from './common.js';

/** Zeek's Intel::Type names and the indicator types they become (base/frameworks/intel/main.zeek). */
const ZEEK_TYPES: Record<string, IocType> = {
  'Intel::ADDR': 'ipv4',
  'Intel::SUBNET': 'cidr',
  'Intel::DOMAIN': 'domain',
  'Intel::URL': 'url',
  'Intel::EMAIL': 'email',
  'Intel::CERT_HASH': 'cert_sha1',
  'Intel::FILE_HASH': 'file_hash',
};

/**
 * A Zeek intel file: tab-separated, a `#fields` header naming the columns (indicator,
 * indicator_type, meta.source, meta.desc, meta.url...). SOFTWARE, USER_NAME, FILE_NAME and
 * PUBKEY_HASH have nothing on the wire to match and are counted as unsupported.
 */
export function parseZeekIntel(text: string, opts: ParseOptions): ParseResult {
  const r = new ParseResult(opts);
  let cols: string[] | null = null;
  let sep = '\t';
  for (const [line, n] of textLines(text, opts.maxLine)) {
    if (line === '') continue;
    if (line.startsWith('#separator')) {
      const s = line.slice('#separator'.length).trim();
      sep = s.startsWith('\\x') ? String.fromCharCode(Number.parseInt(s.slice(2), 16)) : s || '\t';
      continue;
    }
    if (line.startsWith('#fields')) {
      cols = line
        .split(/\t| +/)
        .slice(1)
        .filter((c) => c !== '');
      continue;
    }
    if (line.startsWith('#')) continue;
    if (!cols) throw new FeedError('Zeek intel file has no #fields header before its first row');
    const f = line.split(sep);
    const get = (name: string): string | undefined => {
      const i = cols!.indexOf(name);
      const v = i < 0 ? undefined : f[i];
      return v === undefined || v === '-' || v === '(empty)' ? undefined : v;
    };
    const value = get('indicator');
    const zt = get('indicator_type');
    if (!value || !zt) {
      r.note('skipped', `line ${n}: no indicator or indicator_type`);
      continue;
    }
    let t = ZEEK_TYPES[zt];
    if (!t) {
      r.note('unsupported', `line ${n}: ${zt} is not matched on network records`);
      continue;
    }
    if (t === 'ipv4' && value.includes(':')) t = 'ipv6';
    if (t === 'cert_sha1' && value.length === 64) t = 'cert_sha256';
    const desc = get('meta.desc');
    const url = get('meta.url');
    const conf = get('meta.cif_confidence') ?? get('meta.confidence');
    r.add(
      t,
      value,
      {
        ...(desc ? { description: desc } : {}),
        ...(url ? { references: [url] } : {}),
        ...(conf && Number.isFinite(Number(conf))
          ? { confidence: Number(conf) <= 10 ? Number(conf) * 10 : Number(conf) }
          : {}),
        ...(get('meta.source') ? { tags: [`zeek_source:${get('meta.source')}`] } : {}),
      },
      `line ${n}: `,
    );
  }
  return r;
}
