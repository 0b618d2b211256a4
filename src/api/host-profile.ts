import { type Static, Type } from '@sinclair/typebox';
import { combineOs } from '../analyze/devices/os-combine.js';

const Ts = Type.String({ description: 'ISO-8601 UTC with nanoseconds.' });

export const OsEvidenceSchema = Type.Object(
  {
    source: Type.String({ description: 'dhcp (fingerprint), syn (TCP SYN signature) or http (User-Agent).' }),
    value: Type.String({ description: 'What this source says: "Windows 10/11", "macOS or iOS"...' }),
    family: Type.Union([Type.String(), Type.Null()]),
    confidence: Type.Integer({ minimum: 0, maximum: 100 }),
    evidence: Type.String({
      description: 'The option 55 list and vendor class, the SYN signature (p0f notation), the User-Agent.',
    }),
    mac: Type.Union([Type.String(), Type.Null()]),
    first: Ts,
    last: Ts,
    observations: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export const HostOsSchema = Type.Object(
  {
    name: Type.String({ description: 'The operating system the evidence points to.' }),
    family: Type.String({
      description:
        'windows, macos, ios, android, linux, chromeos, bsd, printer, voip, embedded, or apple (macOS or iOS).',
    }),
    confidence: Type.Integer({ minimum: 1, maximum: 99 }),
    agreeing: Type.Array(Type.String(), { description: 'Sources that agree.' }),
    conflicting: Type.Array(Type.String(), { description: 'Sources that said something else.' }),
    evidence: Type.Array(OsEvidenceSchema),
  },
  {
    additionalProperties: false,
    description:
      'Operating system from the DHCP fingerprint, the TCP SYN signature and the HTTP User-Agent; DHCP and SYN count double a User-Agent.',
  },
);

export const HostNameSchema = Type.Object(
  {
    name: Type.String(),
    sources: Type.Array(Type.String(), {
      description: 'dhcp (option 12), dhcp_fqdn (option 81), mdns, nbns (NetBIOS), dns_ptr.',
    }),
    first: Ts,
    last: Ts,
    observations: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export type HostOs = Static<typeof HostOsSchema>;
export type HostName = Static<typeof HostNameSchema>;

interface AttrRow {
  kind?: unknown;
  value?: unknown;
  family?: unknown;
  source?: unknown;
  evidence?: unknown;
  confidence?: unknown;
  mac?: unknown;
  first_ts?: unknown;
  last_ts?: unknown;
  observations?: unknown;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? ''));
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0)) || 0;

/**
 * Fold the stored `host_attr` rows of one address (a host may have been emitted several times:
 * at each eviction, at the end of each capture) into its OS verdict with the evidence, and its
 * names with the sources and first/last seen of each.
 */
export function foldHostAttrs(rows: readonly AttrRow[]): { os: HostOs | null; names: HostName[] } {
  const os = new Map<string, Static<typeof OsEvidenceSchema>>();
  const names = new Map<string, HostName & { srcs: Set<string> }>();
  for (const r of rows) {
    const first = str(r.first_ts);
    const last = str(r.last_ts);
    const n = num(r.observations);
    if (r.kind === 'os') {
      const key = `${str(r.source)}|${str(r.value)}`;
      const e = os.get(key);
      if (e === undefined) {
        os.set(key, {
          source: str(r.source),
          value: str(r.value),
          family: typeof r.family === 'string' ? r.family : null,
          confidence: Math.round(num(r.confidence)),
          evidence: str(r.evidence),
          mac: typeof r.mac === 'string' ? r.mac : null,
          first,
          last,
          observations: n,
        });
        continue;
      }
      if (first < e.first) e.first = first;
      if (last >= e.last) {
        e.last = last;
        e.evidence = str(r.evidence);
        if (typeof r.mac === 'string') e.mac = r.mac;
      }
      e.confidence = Math.max(e.confidence, Math.round(num(r.confidence)));
      e.observations += n;
    } else if (r.kind === 'name') {
      const name = str(r.value);
      const e = names.get(name.toLowerCase());
      if (e === undefined) {
        names.set(name.toLowerCase(), {
          name,
          sources: [],
          srcs: new Set([str(r.source)]),
          first,
          last,
          observations: n,
        });
        continue;
      }
      e.srcs.add(str(r.source));
      if (first < e.first) e.first = first;
      if (last > e.last) e.last = last;
      e.observations += n;
    }
  }
  const evidence = [...os.values()].sort(
    (a, b) => b.confidence - a.confidence || a.source.localeCompare(b.source),
  );
  const verdict = combineOs(evidence);
  return {
    os: verdict ? { ...verdict, evidence } : null,
    names: [...names.values()]
      .map(({ srcs, ...h }) => ({ ...h, sources: [...srcs].sort() }))
      .sort((a, b) => b.last.localeCompare(a.last) || a.name.localeCompare(b.name)),
  };
}
