import { ConfigError } from '../common/errors.js';
import { ALERT_CATEGORIES, type AlertCategory } from '../schema/alert.js';
import { communityIdOf, cut, int, ip, parseAnyTime, port, protoNumber, sigId } from './fields.js';
import { type Parsed, weird } from './types.js';

/**
 * Generic JSON events: a mapping from alert fields to dotted paths in the posted document
 * (`source.ip`, `rule.name`, `hits[0].id`); a field may list several paths, the first present wins.
 */
export const WEBHOOK_FIELDS = [
  'ts',
  'src_ip',
  'src_port',
  'dst_ip',
  'dst_port',
  'proto',
  'title',
  'severity',
  'signature_id',
  'category',
  'community_id',
  'user',
  'id',
  'detector',
] as const;
export type WebhookField = (typeof WEBHOOK_FIELDS)[number];
export type WebhookMapping = Partial<Record<WebhookField, string | string[]>>;

/** The default: Elastic Common Schema, with common alternatives. */
export const DEFAULT_WEBHOOK_MAPPING: WebhookMapping = {
  ts: ['@timestamp', 'timestamp', 'event.created'],
  src_ip: ['source.ip', 'src_ip', 'client.ip'],
  src_port: ['source.port', 'src_port', 'client.port'],
  dst_ip: ['destination.ip', 'dest_ip', 'dst_ip', 'server.ip'],
  dst_port: ['destination.port', 'dest_port', 'dst_port', 'server.port'],
  proto: ['network.transport', 'network.iana_number', 'proto'],
  title: ['rule.name', 'message', 'title', 'event.action'],
  severity: ['event.severity', 'severity'],
  signature_id: ['rule.id', 'signature_id'],
  category: ['rule.category', 'category'],
  community_id: ['network.community_id', 'community_id'],
  user: ['user.name', 'source.user.name'],
  id: ['event.id', 'id'],
  detector: ['observer.product', 'event.module', 'agent.type'],
};

type Path = (string | number)[];

/** `a.b[0].c` or `a.b.0.c` → ['a','b',0,'c']; throws on an empty segment. */
export function compilePath(p: string): Path {
  const out: Path = [];
  for (const seg of p.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(seg);
    if (!m || (m[1] === '' && m[2] === '')) throw new Error(`bad path '${p}'`);
    if (m[1] !== '') out.push(/^\d+$/.test(m[1]!) ? Number(m[1]) : m[1]!);
    for (const i of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(i[1]));
  }
  return out;
}

export type CompiledMapping = Partial<Record<WebhookField, Path[]>>;

export function compileMapping(m: WebhookMapping, key = 'events.webhook.mapping'): CompiledMapping {
  const out: CompiledMapping = {};
  for (const [f, v] of Object.entries(m)) {
    if (!(WEBHOOK_FIELDS as readonly string[]).includes(f))
      throw new ConfigError(`${key}.${f}`, `unknown field (one of ${WEBHOOK_FIELDS.join(', ')})`);
    const paths = Array.isArray(v) ? v : [v];
    out[f as WebhookField] = paths.map((p, i) => {
      if (typeof p !== 'string')
        throw new ConfigError(`${key}.${f}`, 'expected a path string or a list of them');
      try {
        return compilePath(p);
      } catch {
        throw new ConfigError(Array.isArray(v) ? `${key}.${f}[${i}]` : `${key}.${f}`, `bad path '${p}'`);
      }
    });
  }
  return out;
}

function get(o: unknown, path: Path): unknown {
  let cur: unknown = o;
  for (const s of path) {
    if (cur === null || typeof cur !== 'object') {
      // ECS documents may also carry dotted keys flat ("source.ip": ...), handled by the caller
      return undefined;
    }
    cur = (cur as Record<string | number, unknown>)[s];
  }
  return cur;
}

function pick(o: Record<string, unknown>, paths: Path[] | undefined): unknown {
  if (!paths) return undefined;
  for (const p of paths) {
    let v = get(o, p);
    if (v === undefined) v = o[p.join('.')];
    if (v !== undefined && v !== null && v !== '') return v;
  }
  return undefined;
}

/**
 * Severity from a webhook: a number ≤ 10 is on the CEF/LEEF scale (×10), above it a 0–100
 * score; words low/medium/high/critical → 25/55/80/95.
 */
function webhookSeverity(v: unknown): number {
  const n =
    typeof v === 'number' ? v : typeof v === 'string' && /^\d+(\.\d+)?$/.test(v) ? Number(v) : Number.NaN;
  if (Number.isFinite(n)) return n <= 10 ? n * 10 : Math.min(100, n);
  if (typeof v === 'string') {
    const w = { informational: 10, info: 10, low: 25, medium: 55, moderate: 55, high: 80, critical: 95 }[
      v.toLowerCase()
    ];
    if (w !== undefined) return w;
  }
  return 50;
}

/** One posted JSON object → an event, with `nowMs` when it carries no time. */
export function parseWebhookObject(o: unknown, m: CompiledMapping, nowMs = Date.now()): Parsed {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return weird('webhook_not_object');
  const d = o as Record<string, unknown>;
  const title = pick(d, m.title);
  const src = ip(pick(d, m.src_ip));
  const dst = ip(pick(d, m.dst_ip));
  if (title === undefined && src === null && dst === null) return weird('webhook_unmapped');
  const sp = port(pick(d, m.src_port));
  const dp = port(pick(d, m.dst_port));
  const proto = protoNumber(pick(d, m.proto));
  const t = parseAnyTime(pick(d, m.ts));
  const sig = pick(d, m.signature_id);
  const catRaw = pick(d, m.category);
  const category: AlertCategory =
    typeof catRaw === 'string' && (ALERT_CATEGORIES as readonly string[]).includes(catRaw)
      ? (catRaw as AlertCategory)
      : 'ids';
  const cidRaw = pick(d, m.community_id);
  const user = pick(d, m.user);
  const det = pick(d, m.detector);
  const id = pick(d, m.id);
  const titleS =
    typeof title === 'string' ? title : title === undefined ? 'Webhook event' : JSON.stringify(title);
  const sigS = typeof sig === 'string' || typeof sig === 'number' ? String(sig) : titleS;
  return {
    kind: 'event',
    source: 'webhook',
    ts: Number.isNaN(t) ? nowMs : t,
    detector: typeof det === 'string' ? cut(det, 64) : 'webhook',
    title: cut(titleS, 256),
    severity: webhookSeverity(pick(d, m.severity)),
    category,
    signature_id: sigId(int(sig)),
    signature: cut(sigS, 128),
    src_ip: src,
    src_port: sp,
    dst_ip: dst,
    dst_port: dp,
    proto,
    community_id: typeof cidRaw === 'string' ? cut(cidRaw, 64) : communityIdOf(proto, src, dst, sp, dp),
    vlan: null,
    src_user: typeof user === 'string' ? cut(user, 128) : null,
    evidence: {
      signature: cut(sigS, 128),
      event_id: typeof id === 'string' || typeof id === 'number' ? id : null,
      category: typeof catRaw === 'string' ? cut(catRaw, 128) : null,
    },
  };
}
