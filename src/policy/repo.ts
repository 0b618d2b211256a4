import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import {
  type EdgeStatus,
  edgeId,
  type PolicyDoc,
  type PolicyEdge,
  type PolicyGroup,
  validatePolicy,
} from './model.js';

/** Proposals waiting for review: each is a whole document on disk, so they are bounded. */
const MAX_PROPOSALS = 50;

export interface PolicyDiff {
  from: { id: string; version: number } | null;
  to: { id: string; version: number };
  added: PolicyEdge[];
  removed: PolicyEdge[];
  /** Edges in both whose status changed. */
  changed: { id: string; from: EdgeStatus; to: EdgeStatus }[];
}

/** What is new in `to` since `from` (edges by id). */
export function diffPolicies(from: PolicyDoc | null, to: PolicyDoc): PolicyDiff {
  const a = new Map((from?.edges ?? []).map((e) => [e.id, e]));
  const b = new Map(to.edges.map((e) => [e.id, e]));
  const added = to.edges.filter((e) => !a.has(e.id));
  const removed = (from?.edges ?? []).filter((e) => !b.has(e.id));
  const changed = to.edges
    .filter((e) => a.has(e.id) && a.get(e.id)!.status !== e.status)
    .map((e) => ({ id: e.id, from: a.get(e.id)!.status, to: e.status }));
  return {
    from: from ? { id: from.id, version: from.version } : null,
    to: { id: to.id, version: to.version },
    added,
    removed,
    changed,
  };
}

export type GroupOp =
  | { op: 'rename'; group: string; name: string }
  | { op: 'pin'; group: string; pinned: boolean }
  | { op: 'merge'; groups: string[]; name: string }
  | { op: 'split'; group: string; members: string[]; name: string };

/**
 * Policies in the data directory: proposals under policy/proposals/, approved versions under
 * policy/versions/ (v000001.json…), written atomically. The latest approved version is the
 * one compliance checks against. A proposal is approved as a whole by someone other than
 * the person who proposed it; its edges are approved, rejected or left pending one by one.
 */
export class PolicyRepo {
  private readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'policy');
    mkdirSync(join(this.dir, 'proposals'), { recursive: true });
    mkdirSync(join(this.dir, 'versions'), { recursive: true });
  }

  private write(path: string, doc: PolicyDoc): void {
    writeFileSync(`${path}.tmp`, JSON.stringify(doc, null, 1));
    renameSync(`${path}.tmp`, path);
  }

  private read(path: string): PolicyDoc {
    return validatePolicy(JSON.parse(readFileSync(path, 'utf8')));
  }

  private proposalPath(id: string): string {
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(id))
      throw new UserError(400, `'${id.slice(0, 64)}' is not a proposal id`);
    return join(this.dir, 'proposals', `${id}.json`);
  }

  proposals(): PolicyDoc[] {
    return readdirSync(join(this.dir, 'proposals'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => this.read(join(this.dir, 'proposals', f)))
      .sort((a, b) => b.created.localeCompare(a.created));
  }

  proposal(id: string): PolicyDoc {
    const p = this.proposalPath(id);
    if (!existsSync(p)) throw new UserError(404, `no proposal ${id}`);
    return this.read(p);
  }

  saveProposal(doc: PolicyDoc): PolicyDoc {
    if (doc.status !== 'proposed') throw new UserError(400, 'only a proposed policy is saved as a proposal');
    const path = this.proposalPath(doc.id);
    if (!existsSync(path) && readdirSync(join(this.dir, 'proposals')).length >= MAX_PROPOSALS) {
      throw new UserError(
        409,
        `at most ${MAX_PROPOSALS} proposals wait for review; approve or discard one first`,
      );
    }
    this.write(path, doc);
    return doc;
  }

  deleteProposal(id: string): void {
    const p = this.proposalPath(id);
    if (!existsSync(p)) throw new UserError(404, `no proposal ${id}`);
    rmSync(p);
  }

  versions(): {
    id: string;
    version: number;
    status: string;
    created: string;
    approved_by?: string;
    approved_at?: string;
    edges: number;
    groups: number;
  }[] {
    return readdirSync(join(this.dir, 'versions'))
      .filter((f) => /^v\d+\.json$/.test(f))
      .sort()
      .map((f) => {
        const d = this.read(join(this.dir, 'versions', f));
        return {
          id: d.id,
          version: d.version,
          status: d.status,
          created: d.created,
          ...(d.approved_by ? { approved_by: d.approved_by } : {}),
          ...(d.approved_at ? { approved_at: d.approved_at } : {}),
          edges: d.edges.length,
          groups: d.groups.length,
        };
      });
  }

  version(n: number): PolicyDoc {
    const p = join(this.dir, 'versions', `v${String(n).padStart(6, '0')}.json`);
    if (!existsSync(p)) throw new UserError(404, `no policy version ${n}`);
    return this.read(p);
  }

  /** The latest approved version, or null before the first approval. */
  active(): PolicyDoc | null {
    const v = this.versions().filter((x) => x.status === 'approved');
    const last = v.at(-1);
    return last ? this.version(last.version) : null;
  }

  /** Set edge statuses in a proposal. */
  review(
    id: string,
    changes: { edge: string; status: EdgeStatus }[],
    actor: string,
    now = new Date(),
  ): PolicyDoc {
    const doc = this.proposal(id);
    const byId = new Map(doc.edges.map((e) => [e.id, e]));
    for (const c of changes) {
      const e = byId.get(c.edge);
      if (!e) throw new UserError(409, `no edge '${c.edge.slice(0, 128)}' in proposal ${id}`);
      e.status = c.status;
      e.reviewed_by = actor;
      e.reviewed_at = now.toISOString();
    }
    return this.saveProposal(doc);
  }

  /** Rename, pin, merge or split groups of a proposal; edges follow their groups. */
  editGroups(id: string, ops: GroupOp[]): PolicyDoc {
    const doc = this.proposal(id);
    for (const op of ops) applyGroupOp(doc, op);
    return this.saveProposal(doc);
  }

  /** Approve a proposal: it becomes the next version, the one compliance checks against. */
  approve(id: string, actor: string, now = new Date()): PolicyDoc {
    const doc = this.proposal(id);
    if (doc.created_by === actor) {
      throw new UserError(403, `${actor} proposed ${id} and cannot approve it; another admin must`);
    }
    const last = this.versions().at(-1);
    const prev = this.active();
    doc.version = (last?.version ?? 0) + 1;
    doc.status = 'approved';
    doc.approved_by = actor;
    doc.approved_at = now.toISOString();
    this.write(join(this.dir, 'versions', `v${String(doc.version).padStart(6, '0')}.json`), doc);
    if (prev) {
      prev.status = 'superseded';
      this.write(join(this.dir, 'versions', `v${String(prev.version).padStart(6, '0')}.json`), prev);
    }
    rmSync(this.proposalPath(id));
    return doc;
  }
}

function applyGroupOp(doc: PolicyDoc, op: GroupOp): void {
  const find = (gid: string): PolicyGroup => {
    const g = doc.groups.find((x) => x.id === gid);
    // 409, not 404: the proposal exists; the body names a group it does not have (now).
    if (!g) throw new UserError(409, `no group '${gid.slice(0, 64)}' in this proposal`);
    return g;
  };
  switch (op.op) {
    case 'rename':
      find(op.group).name = op.name;
      return;
    case 'pin':
      find(op.group).pinned = op.pinned;
      return;
    case 'merge': {
      if (op.groups.length < 2) throw new UserError(400, 'merge needs at least two groups');
      const gs = op.groups.map(find);
      const into = gs[0]!;
      into.name = op.name;
      for (const g of gs.slice(1)) {
        into.members.push(...g.members);
        into.cidrs.push(...g.cidrs);
        doc.groups = doc.groups.filter((x) => x !== g);
        for (const e of doc.edges) {
          if (e.src === g.id) e.src = into.id;
          if (e.dst === g.id) e.dst = into.id;
        }
      }
      rekey(doc);
      return;
    }
    case 'split': {
      const g = find(op.group);
      const moving = new Set(op.members);
      for (const m of moving)
        if (!g.members.includes(m)) throw new UserError(400, `${m} is not a member of ${g.id}`);
      if (moving.size === 0 || moving.size === g.members.length)
        throw new UserError(400, 'split moves some, not all, members');
      const id = `${g.id}-${doc.groups.length}`;
      doc.groups.push({ ...g, id, name: op.name, members: [...moving], cidrs: [], labels: { ...g.labels } });
      g.members = g.members.filter((m) => !moving.has(m));
      // Both halves keep the edges of the group they came from, for review.
      const copies: PolicyEdge[] = [];
      for (const e of doc.edges) {
        if (e.src === g.id) copies.push({ ...e, src: id });
        if (e.dst === g.id) copies.push({ ...e, dst: id });
      }
      doc.edges.push(...copies);
      rekey(doc);
      return;
    }
  }
}

/** Edges with the same ends, protocol and port after a merge become one. */
function rekey(doc: PolicyDoc): void {
  const out = new Map<string, PolicyEdge>();
  for (const e of doc.edges) {
    e.id = edgeId(e.src, e.dst, e.proto, e.port);
    const have = out.get(e.id);
    if (!have) {
      out.set(e.id, e);
      continue;
    }
    have.flows += e.flows;
    have.bytes += e.bytes;
    if (e.first_seen < have.first_seen) have.first_seen = e.first_seen;
    if (e.last_seen > have.last_seen) have.last_seen = e.last_seen;
    have.days = Math.max(have.days, e.days);
    have.stable ||= e.stable;
    // A merge never approves what was not approved: the stricter status wins.
    const rank = { rejected: 2, pending: 1, approved: 0 } as const;
    if (rank[e.status] > rank[have.status]) have.status = e.status;
  }
  doc.edges = [...out.values()];
}
