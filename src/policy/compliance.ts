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

  constructor(
    readonly policy: PolicyDoc,
    private readonly emitter: AlertEmitter,
  ) {
    const cidrs: [string, string][] = [];
    for (const g of policy.groups) {
      this.groupName.set(g.id, g.name);
      for (const m of g.members) this.member.set(m, g.id);
      for (const c of g.cidrs) cidrs.push([c, g.id]);
    }
    this.nets = new NetworkSet(cidrs);
    this.internal = new NetworkSet(
      (policy.internal.length > 0 ? policy.internal : DEFAULT_INTERNAL).map((c) => [c, true] as const),
    );
    for (const e of policy.edges) this.edges.set(e.id, e);
  }

  groupOf(ip: string): string {
    const m = this.member.get(ip);
    if (m) return m;
    const n = this.nets.lookup(ip);
    if (n) return n;
    if (this.internal.lookup(ip) !== undefined) return UNKNOWN_INTERNAL;
    return UNKNOWN_EXTERNAL;
  }

  onRecord(r: AnyRecord): void {
    if (r.type !== 'flow' && r.type !== 'exported_flow') return;
    const c = connOf(r);
    if (!c) return;
    this.counters.checked++;
    const src = this.groupOf(c.client);
    const dst = this.groupOf(c.server);
    const e =
      this.edges.get(edgeId(src, dst, c.proto, c.port)) ?? this.edges.get(edgeId(src, dst, c.proto, -1));
    const gc = this.byGroup.get(src) ?? { permitted: 0, rejected: 0, escaped: 0 };
    this.byGroup.set(src, gc);
    if (e?.status === 'approved') {
      this.counters.permitted++;
      gc.permitted++;
      return;
    }
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
