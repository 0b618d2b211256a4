import type { AlertEmitter, AnyRecord, RecordWatcher } from '../common/alerts.js';
import type { SightingRecord } from '../schema/sighting.js';
import type { Columnar } from '../store/columnar.js';
import { columnIndex, rowRecord, strAt } from '../store/columnar-read.js';
import type { Matcher } from './matcher.js';
import type { Ioc } from './model.js';

export type SightingSink = (s: SightingRecord) => void;

export interface IntelCounters {
  records: number;
  hits: number;
  /** Hits on indicators whose validity had ended at the record's time (not raised). */
  expired_hits: number;
  swaps: number;
}

const TYPE_LABEL: Record<string, string> = {
  ipv4: 'IP address',
  ipv6: 'IP address',
  cidr: 'network',
  domain: 'domain',
  domain_suffix: 'domain',
  url: 'URL',
  http_host: 'HTTP host',
  sni: 'TLS server name',
  ja3: 'JA3 fingerprint',
  ja3s: 'JA3S fingerprint',
  ja4: 'JA4 fingerprint',
  cert_sha1: 'certificate',
  cert_sha256: 'certificate',
  file_hash: 'file hash',
  email: 'e-mail address',
};

/**
 * Matches every record against the current Matcher and turns hits into intel alerts (one
 * episode per indicator and host) and sighting records. The matcher is replaced whole by
 * `setMatcher`; the record being matched keeps the one it started with.
 */
export class IntelWatcher implements RecordWatcher {
  readonly name = 'intel';
  readonly counters: IntelCounters = { records: 0, hits: 0, expired_hits: 0, swaps: 0 };

  constructor(
    private matcher: Matcher,
    private readonly emitter: AlertEmitter,
    private readonly sightings: SightingSink | null,
    private readonly retro = false,
  ) {}

  setMatcher(m: Matcher): void {
    this.matcher = m;
    this.counters.swaps++;
  }

  get current(): Matcher {
    return this.matcher;
  }

  onRecord(rec: AnyRecord): void {
    this.counters.records++;
    if (this.matcher.size === 0) return;
    this.match(rec, this.matcher);
  }

  /**
   * A batch in column form: each distinct address or name of the batch (one dictionary entry)
   * is looked up once, and only a row with a hit is made into a record and matched whole, by
   * the same code as `onRecord`, so both paths raise the same alerts and sightings.
   */
  onColumns(type: string, c: Columnar): void {
    const n = c.rows.length;
    this.counters.records += n;
    const m = this.matcher;
    if (m.size === 0 || n === 0) return;
    const ix = columnIndex(c);
    const dl = c.dict.length;
    const ns = c.str.length;
    // per dictionary entry: 0 not looked up yet, 1 no hit, 2 hit
    const memo = (test: (v: string) => boolean) => {
      const state = new Uint8Array(dl);
      return (i: number, j: number): boolean => {
        if (j < 0) return false;
        const d = c.s[i * ns + j]!;
        if (d < 0) return false;
        let st = state[d]!;
        if (st === 0) {
          const v = c.dict[d]!;
          st = v !== '' && test(v) ? 2 : 1;
          state[d] = st;
        }
        return st === 2;
      };
    };
    const checks: ((i: number) => boolean)[] = [];
    switch (type) {
      case 'flow':
      case 'exported_flow': {
        const flow = type === 'flow';
        const a = ix.str(flow ? 'client_ip' : 'src_ip');
        const b = ix.str(flow ? 'server_ip' : 'dst_ip');
        const ip = memo((v) => m.matchIp(v) !== undefined);
        checks.push((i) => ip(i, a) || ip(i, b));
        break;
      }
      case 'dns': {
        const q = ix.str('query');
        const name = memo((v) => nameHit(m, v));
        checks.push((i) => name(i, q));
        const answers = c.json?.answers;
        if (answers) checks.push((i) => answersHit(m, answers.get(i)));
        break;
      }
      case 'http': {
        const h = ix.str('host');
        const host = memo((v) => hostHit(m, stripPort(v), m.exact.http_host));
        checks.push((i) => host(i, h));
        if (m.exact.url.size > 0) {
          const u = ix.str('uri');
          checks.push((i) => {
            const uri = strAt(c, i, u);
            return uri !== null && uri !== '' && urlHit(m, strAt(c, i, h), uri) !== undefined;
          });
        }
        break;
      }
      case 'tls': {
        const s = ix.str('sni');
        const sni = memo((v) => hostHit(m, v, m.exact.sni));
        checks.push((i) => sni(i, s));
        for (const f of ['ja3', 'ja3s', 'ja4', 'cert_sha256', 'cert_sha1'] as const) {
          const map = m.exact[f];
          if (map.size === 0) continue;
          const t = memo((v) => exactHit(m, map, v));
          const j = ix.str(f);
          checks.push((i) => t(i, j));
        }
        break;
      }
      default: {
        if (m.exact.file_hash.size === 0) return;
        const map = m.exact.file_hash;
        const t = memo((v) => exactHit(m, map, v));
        for (const f of FILE_HASH_FIELDS) {
          const j = ix.str(f);
          if (j >= 0) checks.push((i) => t(i, j));
        }
      }
    }
    if (checks.length === 0) return;
    for (let k = 0; k < n; k++) {
      const i = c.rows[k]!;
      for (let x = 0; x < checks.length; x++) {
        if (checks[x]!(i)) {
          this.match(rowRecord(c, i, type) as AnyRecord, m);
          break;
        }
      }
    }
  }

  private match(rec: AnyRecord, m: Matcher): void {
    switch (rec.type) {
      case 'flow':
      case 'exported_flow': {
        const flow = rec.type === 'flow';
        const c = (flow ? rec.client_ip : rec.src_ip) as string | null;
        const s = (flow ? rec.server_ip : rec.dst_ip) as string | null;
        if (s) {
          const hit = m.matchIp(s);
          if (hit) this.hit(hit, rec, flow ? 'server_ip' : 'dst_ip', s, c);
        }
        if (c) {
          const hit = m.matchIp(c);
          if (hit) this.hit(hit, rec, flow ? 'client_ip' : 'src_ip', c, s);
        }
        return;
      }
      case 'dns': {
        const q = rec.query as string | null;
        const client = rec.client_ip as string | null;
        if (q && m.mayName(q)) {
          const hit = m.matchDomain(q);
          if (hit) this.hit(hit, rec, 'query', q, client);
        }
        const ans = rec.answers;
        if (Array.isArray(ans)) {
          for (const a of ans as DnsAnswer[]) {
            const hit = answerHit(m, a);
            if (hit) this.hit(hit, rec, 'answers', a.data as string, client);
          }
        }
        return;
      }
      case 'http': {
        const host = rec.host as string | null;
        const client = rec.client_ip as string | null;
        if (host) {
          const hit = hostMatch(m, stripPort(host), m.exact.http_host);
          if (hit) this.hit(hit, rec, 'host', host, client);
        }
        const uri = rec.uri as string | null;
        if (uri && m.exact.url.size > 0) {
          const hit = urlHit(m, host, uri);
          if (hit) this.hit(hit, rec, 'uri', uri, client);
        }
        return;
      }
      case 'tls': {
        const client = rec.client_ip as string | null;
        const sni = rec.sni as string | null;
        if (sni) {
          const hit = hostMatch(m, sni, m.exact.sni);
          if (hit) this.hit(hit, rec, 'sni', sni, client);
        }
        this.exact(m, m.exact.ja3, rec, 'ja3', client);
        this.exact(m, m.exact.ja3s, rec, 'ja3s', client);
        this.exact(m, m.exact.ja4, rec, 'ja4', client);
        this.exact(m, m.exact.cert_sha256, rec, 'cert_sha256', client);
        this.exact(m, m.exact.cert_sha1, rec, 'cert_sha1', client);
        return;
      }
      default:
        // records that carry a file hash (none of the sensor's today; third-party events may)
        if (m.exact.file_hash.size > 0) {
          for (const f of FILE_HASH_FIELDS) {
            this.exact(m, m.exact.file_hash, rec, f, (rec.client_ip ?? rec.src_ip ?? null) as string | null);
          }
        }
    }
  }

  private exact(m: Matcher, map: Map<string, Ioc>, rec: AnyRecord, field: string, host: string | null): void {
    if (map.size === 0) return;
    const v = rec[field];
    if (typeof v !== 'string' || v === '' || !m.mayExact(v)) return;
    const hit = map.get(v.toLowerCase());
    if (hit) this.hit(hit, rec, field, v, host);
  }

  private hit(ioc: Ioc, rec: AnyRecord, field: string, seen: string, host: string | null): void {
    const flowLike = rec.type === 'flow' || rec.type === 'exported_flow';
    const tsText = (flowLike ? rec.last_ts : rec.ts) as string;
    const ts = Date.parse(tsText);
    if (!Number.isFinite(ts)) return;
    if (ts > ioc.valid_until) {
      this.counters.expired_hits++;
      return;
    }
    this.counters.hits++;
    const firstText = (flowLike ? rec.first_ts : rec.ts) as string;
    const exported = rec.type === 'exported_flow';
    const client = (exported ? rec.src_ip : rec.client_ip) as string | null | undefined;
    const server = (exported ? rec.dst_ip : rec.server_ip) as string | null | undefined;
    const cport = (exported ? rec.src_port : rec.client_port) as number | null | undefined;
    const sport = (exported ? rec.dst_port : rec.server_port) as number | null | undefined;
    const recordId =
      rec.flow_id !== undefined && rec.flow_id !== null
        ? String(rec.flow_id)
        : ((rec.community_id as string | null) ?? null);
    this.emitter.raise({
      ts,
      first_ts: Date.parse(firstText) || ts,
      category: 'intel',
      detector: `intel.${ioc.type}`,
      title: `${host ?? 'a host'} contacted known-bad ${TYPE_LABEL[ioc.type] ?? ioc.type} ${ioc.value}`,
      severity: ioc.severity,
      confidence: ioc.confidence,
      key: `${ioc.type}|${ioc.value}|${host ?? ''}`,
      src_ip: host ?? client ?? null,
      dst_ip: host === server ? (client ?? null) : (server ?? null),
      src_port: cport ?? null,
      dst_port: sport ?? null,
      proto: (rec.proto as number | null | undefined) ?? null,
      community_id: (rec.community_id as string | null | undefined) ?? null,
      indicator: { type: ioc.type, value: ioc.value, sources: ioc.sources, confidence: ioc.confidence },
      evidence: { record_type: rec.type, field, value: seen, record_id: recordId, tags: ioc.tags },
      retro: this.retro,
      tags: ioc.tags.length > 0 ? [...ioc.tags] : [],
    });
    if (!this.sightings) return;
    this.sightings({
      type: 'sighting',
      ts: tsText,
      first_ts: firstText ?? tsText,
      indicator_type: ioc.type,
      indicator_value: ioc.value,
      sources: [...ioc.sources],
      confidence: ioc.confidence,
      severity: ioc.severity,
      matched_field: field,
      matched_value: seen,
      record_type: rec.type,
      record_id: recordId,
      host,
      client_ip: client ?? null,
      client_port: cport ?? null,
      server_ip: server ?? null,
      server_port: sport ?? null,
      proto: (rec.proto as number | null | undefined) ?? null,
      community_id: (rec.community_id as string | null | undefined) ?? null,
      retro: this.retro,
    } as SightingRecord);
  }

  finish(): void {}
}

const FILE_HASH_FIELDS = ['sha256', 'sha1', 'md5', 'file_sha256', 'file_md5'] as const;

interface DnsAnswer {
  type_name?: string;
  data?: unknown;
}

// One definition of "this value hits" per kind of field, shared by the record and column paths.

const nameHit = (m: Matcher, v: string): boolean => m.mayName(v) && m.matchDomain(v) !== undefined;

function hostMatch(m: Matcher, bare: string, exact: Map<string, Ioc>): Ioc | undefined {
  if (!m.mayName(bare)) return undefined;
  return m.matchDomain(bare) ?? exact.get(bare.toLowerCase());
}

const hostHit = (m: Matcher, bare: string, exact: Map<string, Ioc>): boolean =>
  hostMatch(m, bare, exact) !== undefined;

const exactHit = (m: Matcher, map: Map<string, Ioc>, v: string): boolean =>
  m.mayExact(v) && map.get(v.toLowerCase()) !== undefined;

function answerHit(m: Matcher, a: DnsAnswer | null | undefined): Ioc | undefined {
  if (typeof a?.data !== 'string') return undefined;
  const t = a.type_name;
  if (t === 'A' || t === 'AAAA') return m.matchIp(a.data);
  if (t === 'CNAME' || t === 'PTR' || t === 'NS' || t === 'MX') {
    const d = a.data.replace(/^\d+ /, '');
    return m.mayName(d) ? m.matchDomain(d) : undefined;
  }
  return undefined;
}

function answersHit(m: Matcher, ans: unknown): boolean {
  if (!Array.isArray(ans)) return false;
  for (const a of ans as DnsAnswer[]) if (answerHit(m, a)) return true;
  return false;
}

function urlHit(m: Matcher, host: string | null, uri: string): Ioc | undefined {
  const key = urlKey(host, uri);
  if (!key) return undefined;
  const bare = key.replace(/\?.*$/, '');
  return (
    (m.mayExact(key, true) ? m.exact.url.get(key) : undefined) ??
    (bare !== key && m.mayExact(bare, true) ? m.exact.url.get(bare) : undefined)
  );
}

function stripPort(h: string): string {
  const c = h.lastIndexOf(':');
  return c > 0 && h.indexOf(':') === c ? h.slice(0, c) : h;
}

/** The key a URL indicator is stored under, from an HTTP request's Host and target. */
export function urlKey(host: string | null, uri: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    const rest = uri.slice(uri.indexOf('//') + 2);
    const slash = rest.indexOf('/');
    const h = stripPort((slash < 0 ? rest : rest.slice(0, slash)).toLowerCase());
    return h + (slash < 0 ? '/' : rest.slice(slash));
  }
  if (!host) return null;
  const hash = uri.indexOf('#');
  return stripPort(host.toLowerCase()) + (hash >= 0 ? uri.slice(0, hash) : uri);
}
