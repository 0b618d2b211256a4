/**
 * The communication policy: groups of hosts and the group → group edges (protocol, server
 * ports) allowed between them. A document is versioned and goes proposed → approved; each
 * edge is approved, rejected or pending. Only approved edges permit traffic.
 */
export const POLICY_SCHEMA = 'vantage.policy/1';

export type EdgeStatus = 'pending' | 'approved' | 'rejected';
export type PolicyStatus = 'proposed' | 'approved' | 'superseded';

export interface PolicyGroup {
  /** Stable id (g-…); edges refer to it. */
  id: string;
  name: string;
  /** internal: learned or configured hosts; external: a summarised outside network. */
  kind: 'internal' | 'external';
  /** Single addresses. */
  members: string[];
  /** Networks (configured scopes, external summaries). */
  cidrs: string[];
  /** A pinned group keeps its members when the next proposal is learned. */
  pinned: boolean;
  labels: Record<string, string>;
}

export interface PolicyEdge {
  /** Stable id: src group, dst group, protocol and port. */
  id: string;
  src: string;
  dst: string;
  proto: number;
  /** Server port; 0 for protocols without ports, -1 for "any port" (many ephemeral ports). */
  port: number;
  flows: number;
  bytes: number;
  first_seen: string;
  last_seen: string;
  /** Distinct days the edge was seen. */
  days: number;
  /** Seen on enough days (or often enough) to be part of normal operation, not incidental. */
  stable: boolean;
  status: EdgeStatus;
  /** Who set the status, and when. */
  reviewed_by?: string;
  reviewed_at?: string;
}

export interface PolicyDoc {
  schema: typeof POLICY_SCHEMA;
  id: string;
  version: number;
  status: PolicyStatus;
  created: string;
  created_by: string;
  approved_by?: string;
  approved_at?: string;
  /** The stored flows the proposal was learned from. */
  window: {
    after: string | null;
    before: string | null;
    flows: number;
    /** Connections left out because the learner's bound on distinct pairs was reached. */
    not_learned?: number;
  };
  /** Networks treated as internal. */
  internal: string[];
  groups: PolicyGroup[];
  edges: PolicyEdge[];
}

export const edgeId = (src: string, dst: string, proto: number, port: number): string =>
  `${src}>${dst}:${proto}/${port === -1 ? 'any' : port}`;

export class PolicyError extends Error {}

/** Check a document read from a file or a request; errors name the path at fault. */
export function validatePolicy(x: unknown): PolicyDoc {
  const bad = (path: string, msg: string): never => {
    throw new PolicyError(`${path}: ${msg}`);
  };
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return bad('policy', 'expected a JSON object');
  const d = x as Record<string, unknown>;
  if (d.schema !== POLICY_SCHEMA) bad('schema', `expected "${POLICY_SCHEMA}"`);
  if (typeof d.id !== 'string' || d.id.length === 0 || d.id.length > 128) bad('id', 'expected a string');
  if (!Number.isInteger(d.version) || (d.version as number) < 0) bad('version', 'expected an integer ≥ 0');
  if (!['proposed', 'approved', 'superseded'].includes(d.status as string))
    bad('status', 'expected proposed, approved or superseded');
  if (!Array.isArray(d.groups) || d.groups.length > 100_000) bad('groups', 'expected a list');
  if (!Array.isArray(d.edges) || d.edges.length > 1_000_000) bad('edges', 'expected a list');
  if (!Array.isArray(d.internal)) bad('internal', 'expected a list of networks');
  const ids = new Set<string>();
  for (const [i, g] of (d.groups as unknown[]).entries()) {
    const p = `groups[${i}]`;
    if (typeof g !== 'object' || g === null) bad(p, 'expected an object');
    const o = g as Record<string, unknown>;
    if (typeof o.id !== 'string' || o.id.length === 0) bad(`${p}.id`, 'expected a string');
    if (ids.has(o.id as string)) bad(`${p}.id`, `duplicate group id '${String(o.id)}'`);
    ids.add(o.id as string);
    if (typeof o.name !== 'string') bad(`${p}.name`, 'expected a string');
    if (o.kind !== 'internal' && o.kind !== 'external') bad(`${p}.kind`, 'expected internal or external');
    if (!Array.isArray(o.members) || !o.members.every((m) => typeof m === 'string'))
      bad(`${p}.members`, 'expected a list of addresses');
    if (!Array.isArray(o.cidrs) || !o.cidrs.every((m) => typeof m === 'string'))
      bad(`${p}.cidrs`, 'expected a list of networks');
  }
  for (const [i, e] of (d.edges as unknown[]).entries()) {
    const p = `edges[${i}]`;
    if (typeof e !== 'object' || e === null) bad(p, 'expected an object');
    const o = e as Record<string, unknown>;
    if (!ids.has(o.src as string)) bad(`${p}.src`, `no group '${String(o.src)}'`);
    if (!ids.has(o.dst as string)) bad(`${p}.dst`, `no group '${String(o.dst)}'`);
    if (!Number.isInteger(o.proto) || (o.proto as number) < 0 || (o.proto as number) > 255)
      bad(`${p}.proto`, 'expected an IP protocol number');
    if (!Number.isInteger(o.port) || (o.port as number) < -1 || (o.port as number) > 65535)
      bad(`${p}.port`, 'expected a port, 0 or -1 (any)');
    if (!['pending', 'approved', 'rejected'].includes(o.status as string))
      bad(`${p}.status`, 'expected pending, approved or rejected');
  }
  return d as unknown as PolicyDoc;
}
