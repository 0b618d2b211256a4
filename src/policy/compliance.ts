import type { AlertEmitter, AnyRecord, RecordWatcher } from '../common/alerts.js';
import { connOf } from './learn.js';
import { edgeId, type PolicyDoc, type PolicyEdge } from './model.js';
import { DEFAULT_INTERNAL, externalPrefix, NetworkSet } from './networks.js';

/** Addresses outside every group: an internal host the policy has never seen, or a new outside network. */
export const UNKNOWN_INTERNAL = 'g-unknown-internal';
export const UNKNOWN_EXTERNAL = 'g-unknown-external';

export interface GroupCounters {
  permitted: number;
  rejected: number;
  escaped: number;
}

/**
 * Checks every connection against an approved policy. A connection is permitted when an
 * approved edge joins its client's group to its server's group for its protocol and port (or
 * any port); otherwise it is a violation: of a rejected edge, or escaped (outside the policy).
 * Violations are raised per edge, so a thousand flows of one new dependency are one alert.
 */
export class ComplianceChecker implements RecordWatcher {
  readonly name = 'policy';
  private readonly member = new Map<string, string>();
  private readonly nets: NetworkSet<string>;
  private readonly internal: NetworkSet;
  private readonly edges = new Map<string, PolicyEdge>();
  private readonly groupName = new Map<string, string>();
  readonly counters = { checked: 0, permitted: 0, rejected: 0, escaped: 0 };
  readonly byGroup = new Map<string, GroupCounters>();
  /** Example flows per violated edge, for the evidence (bounded: 20 per edge, 10,000 edges). */
  private readonly samples = new Map<string, unknown[]>();

  /** Group ids as small numbers, so an edge is one numeric key (no string per flow). */
  private readonly groupIds: string[] = [];
  private readonly groupNum = new Map<string, number>();
  /** Edges by group pair (src × groups + dst), then by protocol and port. */
  private readonly edgeByPair = new Map<number, Map<number, PolicyEdge>>();
  /** Address → group number: addresses repeat, their network lookups need not (bounded). */
  private readonly cache = new Map<string, number>();
  private static readonly CACHE_MAX = 200_000;
  private readonly byGroupNum: GroupCounters[] = [];

  constructor(
    readonly policy: PolicyDoc,
    private readonly emitter: AlertEmitter,
  ) {
    const cidrs: [string, string][] = [];
    this.num(UNKNOWN_INTERNAL);
    this.num(UNKNOWN_EXTERNAL);
    for (const g of policy.groups) {
      this.num(g.id);
      this.groupName.set(g.id, g.name);
      for (const m of g.members) this.member.set(m, g.id);
      for (const c of g.cidrs) cidrs.push([c, g.id]);
    }
    this.nets = new NetworkSet(cidrs);
    this.internal = new NetworkSet(
      (policy.internal.length > 0 ? policy.internal : DEFAULT_INTERNAL).map((c) => [c, true] as const),
    );
    for (const e of policy.edges) {
      this.edges.set(e.id, e);
      if (!this.groupNum.has(e.src) || !this.groupNum.has(e.dst)) continue;
      const pair = this.groupNum.get(e.src)! * this.groupIds.length + this.groupNum.get(e.dst)!;
      let m = this.edgeByPair.get(pair);
      if (!m) {
        m = new Map();
        this.edgeByPair.set(pair, m);
      }
      m.set(svc(e.proto, e.port), e);
    }
  }

  private num(id: string): number {
    let n = this.groupNum.get(id);
    if (n === undefined) {
      n = this.groupIds.length;
      this.groupIds.push(id);
      this.groupNum.set(id, n);
      this.byGroupNum.push({ permitted: 0, rejected: 0, escaped: 0 });
      this.byGroup.set(id, this.byGroupNum[n]!);
    }
    return n;
  }

  groupOf(ip: string): string {
    return this.groupIds[this.groupNumOf(ip)]!;
  }

  private groupNumOf(ip: string): number {
    const hit = this.cache.get(ip);
    if (hit !== undefined) return hit;
    const m = this.member.get(ip);
    const id =
      m ??
      this.nets.lookup(ip) ??
      (this.internal.lookup(ip) !== undefined ? UNKNOWN_INTERNAL : UNKNOWN_EXTERNAL);
    const n = this.groupNum.get(id)!;
    if (this.cache.size >= ComplianceChecker.CACHE_MAX) this.cache.clear();
    this.cache.set(ip, n);
    return n;
  }

  onRecord(r: AnyRecord): void {
    let client: string | null;
    let server: string | null;
    let proto: number;
    let port: number;
    if (r.type === 'flow') {
      client = r.client_ip as string | null;
      server = r.server_ip as string | null;
      proto = r.proto as number;
      port = proto === 6 || proto === 17 || proto === 132 ? (r.server_port as number) : 0;
    } else if (r.type === 'exported_flow') {
      const c0 = connOf(r);
      if (!c0) return;
      client = c0.client;
      server = c0.server;
      proto = c0.proto;
      port = c0.port;
    } else return;
    if (!client || !server) return;
    this.counters.checked++;
    const sn = this.groupNumOf(client);
    const dn = this.groupNumOf(server);
    const m = this.edgeByPair.get(sn * this.groupIds.length + dn);
    const e = m ? (m.get(svc(proto, port)) ?? m.get(svc(proto, -1))) : undefined;
    const gc = this.byGroupNum[sn]!;
    if (e?.status === 'approved') {
      this.counters.permitted++;
      gc.permitted++;
      return;
    }
    // A violation: now the record's time and the names are worth building.
    const c = connOf(r)!;
    const src = this.groupIds[sn]!;
    const dst = this.groupIds[dn]!;
    const rejected = e?.status === 'rejected';
    if (rejected) {
      this.counters.rejected++;
      gc.rejected++;
    } else {
      this.counters.escaped++;
      gc.escaped++;
    }
    const id = e?.id ?? edgeId(src, dst, c.proto, c.port);
    let flows = this.samples.get(id);
    if (!flows) {
      if (this.samples.size >= 10_000) this.samples.delete(this.samples.keys().next().value!);
      flows = [];
      this.samples.set(id, flows);
    }
    if (flows.length < 20) flows.push(r.flow_id ?? r.community_id ?? null);
    const srcName =
      this.groupName.get(src) ?? (src === UNKNOWN_INTERNAL ? 'unknown internal host' : 'unknown');
    const dstName =
      this.groupName.get(dst) ??
      (dst === UNKNOWN_EXTERNAL
        ? `new external network ${externalPrefix(c.server) ?? c.server}`
        : 'unknown internal host');
    const service =
      c.port > 0
        ? `${c.proto === 6 ? 'tcp' : c.proto === 17 ? 'udp' : `ip${c.proto}`}/${c.port}`
        : `ip proto ${c.proto}`;
    this.emitter.raise({
      ts: c.tsUs / 1000,
      category: 'policy',
      detector: rejected ? 'policy.rejected_edge' : 'policy.outside',
      title: `${rejected ? 'Rejected' : 'Unapproved'} communication: ${srcName} → ${dstName} ${service}`,
      severity: rejected ? 70 : dst === UNKNOWN_EXTERNAL || src === UNKNOWN_INTERNAL ? 55 : 60,
      confidence: 90,
      key: `${this.policy.id}|${id}`,
      src_ip: c.client,
      dst_ip: c.server,
      dst_port: c.port || null,
      proto: c.proto,
      community_id: (r.community_id as string | undefined) ?? null,
      evidence: {
        edge: id,
        src_group: { id: src, name: srcName },
        dst_group: { id: dst, name: dstName },
        service,
        reason: rejected ? 'the edge was rejected in the approved policy' : 'no approved edge allows it',
        policy: { id: this.policy.id, version: this.policy.version },
        flow_ids: [...flows],
      },
      attack_technique: dst === UNKNOWN_EXTERNAL ? 'T1071' : 'T1021',
    });
  }

  finish(): void {}
}

/** Protocol and port (-1: any) as one number. */
function svc(proto: number, port: number): number {
  return proto * 65_537 + port + 1;
}
