import type { PolicyDoc, PolicyEdge, PolicyGroup } from './model.js';

/** The approved part of a policy, for enforcement elsewhere. */
export function approvedOnly(doc: PolicyDoc): PolicyDoc {
  const edges = doc.edges.filter((e) => e.status === 'approved');
  const used = new Set(edges.flatMap((e) => [e.src, e.dst]));
  return { ...doc, edges, groups: doc.groups.filter((g) => used.has(g.id)) };
}

function addresses(g: PolicyGroup): { v4: string[]; v6: string[] } {
  const all = [...g.members, ...g.cidrs];
  return { v4: all.filter((a) => !a.includes(':')), v6: all.filter((a) => a.includes(':')) };
}

const setName = (g: PolicyGroup, fam: 4 | 6): string =>
  `${g.id.replace(/[^A-Za-z0-9_]/g, '_')}_v${fam}`.slice(0, 60);

/**
 * nftables: one named set per group and address family, one accept rule per approved edge
 * in a forward chain whose policy is drop (what is not in the policy does not pass), and
 * replies of accepted connections through conntrack. Load with `nft -f`.
 */
export function toNftables(
  doc: PolicyDoc,
  opts: { table?: string; hook?: 'forward' | 'input' | 'output' } = {},
): string {
  const p = approvedOnly(doc);
  const table = opts.table ?? 'vantage_policy';
  const byId = new Map(p.groups.map((g) => [g.id, g]));
  const out: string[] = [
    `# Vantage policy ${doc.id} version ${doc.version}: ${p.edges.length} approved edges`,
    `table inet ${table} {`,
  ];
  for (const g of p.groups) {
    const a = addresses(g);
    for (const [fam, list] of [
      [4, a.v4],
      [6, a.v6],
    ] as const) {
      if (list.length === 0) continue;
      out.push(`  # ${g.name.replace(/[\r\n]/g, ' ')}`);
      out.push(`  set ${setName(g, fam)} {`);
      out.push(`    type ${fam === 4 ? 'ipv4_addr' : 'ipv6_addr'}; flags interval;`);
      out.push(`    elements = { ${list.join(', ')} }`);
      out.push('  }');
    }
  }
  out.push(`  chain ${opts.hook ?? 'forward'} {`);
  out.push(`    type filter hook ${opts.hook ?? 'forward'} priority 0; policy drop;`);
  out.push('    ct state established,related accept');
  for (const e of p.edges) {
    const s = byId.get(e.src)!;
    const d = byId.get(e.dst)!;
    for (const fam of [4, 6] as const) {
      const sa = fam === 4 ? addresses(s).v4 : addresses(s).v6;
      const da = fam === 4 ? addresses(d).v4 : addresses(d).v6;
      if (sa.length === 0 || da.length === 0) continue;
      const ip = fam === 4 ? 'ip' : 'ip6';
      out.push(
        `    ${ip} saddr @${setName(s, fam)} ${ip} daddr @${setName(d, fam)} ${l4(e, fam)}accept comment "${e.id.slice(0, 120)}"`,
      );
    }
  }
  out.push('  }', '}', '');
  return out.join('\n');
}

function l4(e: PolicyEdge, fam: 4 | 6): string {
  if (e.proto === 6 || e.proto === 17 || e.proto === 132) {
    const name = e.proto === 6 ? 'tcp' : e.proto === 17 ? 'udp' : 'sctp';
    return e.port > 0 ? `${name} dport ${e.port} ` : `meta l4proto ${name} `;
  }
  if (e.proto === 1 && fam === 4) return 'meta l4proto icmp ';
  if (e.proto === 58 && fam === 6) return 'meta l4proto ipv6-icmp ';
  return `meta l4proto ${e.proto} `;
}

/**
 * Kubernetes NetworkPolicy: for each destination group, one policy admitting its approved
 * sources (as ipBlocks) on their ports. Pods are selected by the label
 * `vantage.io/group: <group id>`, which the operator puts on the workloads of that group.
 */
export function toKubernetes(doc: PolicyDoc, namespace = 'default'): string {
  const p = approvedOnly(doc);
  const byId = new Map(p.groups.map((g) => [g.id, g]));
  const byDst = new Map<string, PolicyEdge[]>();
  for (const e of p.edges) {
    if (byId.get(e.dst)?.kind !== 'internal') continue;
    const l = byDst.get(e.dst) ?? [];
    l.push(e);
    byDst.set(e.dst, l);
  }
  const docs: string[] = [];
  for (const [dst, edges] of byDst) {
    const lines = [
      'apiVersion: networking.k8s.io/v1',
      'kind: NetworkPolicy',
      'metadata:',
      `  name: ${k8sName(`vantage-${dst}`)}`,
      `  namespace: ${namespace}`,
      '  annotations:',
      `    vantage.io/policy: ${JSON.stringify(`${doc.id} v${doc.version}`)}`,
      `    vantage.io/group-name: ${JSON.stringify(byId.get(dst)!.name)}`,
      'spec:',
      '  podSelector:',
      '    matchLabels:',
      `      vantage.io/group: ${k8sName(dst)}`,
      '  policyTypes: [Ingress]',
      '  ingress:',
    ];
    for (const e of edges) {
      const s = byId.get(e.src)!;
      const blocks = [...s.members.map((m) => (m.includes(':') ? `${m}/128` : `${m}/32`)), ...s.cidrs];
      lines.push('    - from:');
      for (const b of blocks) lines.push(`        - ipBlock: { cidr: ${JSON.stringify(b)} }`);
      if (e.proto === 6 || e.proto === 17 || e.proto === 132) {
        lines.push('      ports:');
        const proto = e.proto === 6 ? 'TCP' : e.proto === 17 ? 'UDP' : 'SCTP';
        lines.push(
          e.port > 0
            ? `        - { protocol: ${proto}, port: ${e.port} }`
            : `        - { protocol: ${proto} }`,
        );
      }
    }
    docs.push(lines.join('\n'));
  }
  return `${docs.join('\n---\n')}\n`;
}

function k8sName(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
}
