import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { UserError } from '../../common/errors.js';
import { toKubernetes, toNftables } from '../../policy/export.js';
import { learnFromStore } from '../../policy/learn-store.js';
import type { EdgeStatus } from '../../policy/model.js';
import { diffPolicies, type GroupOp, type PolicyRepo } from '../../policy/repo.js';
import type { PolicyWatcher } from '../../policy/watcher.js';
import { type ApiContext, parseRange } from '../context.js';
import { CidrParam, ErrorSchema, TimeParam } from '../schemas.js';

export interface PolicyRouteDeps {
  repo: PolicyRepo;
  /** The compliance watcher of the record path; given each newly approved version. */
  watcher: PolicyWatcher;
}

const Doc = Type.Object(
  {},
  { additionalProperties: true, description: 'A policy document (schema vantage.policy/1).' },
);
const IdParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9._-]{1,128}$' }) });
const VersionParams = Type.Object({ version: Type.Integer({ minimum: 1 }) });
const Status = Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected')]);

/**
 * The communication policy: learn a proposal from stored flows (analyst), review its edges
 * and approve it (admin, never the proposer), then every flow outside the approved version
 * is a policy alert.
 *
 *   curl -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
 *     -d '{"after":"-7d"}' http://127.0.0.1:8080/api/v1/policy/proposals
 *   curl -X PATCH -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
 *     -d '{"changes":[{"edge":"EDGE_ID","status":"approved"}]}' http://127.0.0.1:8080/api/v1/policy/proposals/ID/edges
 *   curl -X POST -H "Authorization: Bearer $ADMIN" http://127.0.0.1:8080/api/v1/policy/proposals/ID/approve
 *   curl -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/api/v1/policy/versions/1/export?format=nft'
 */
export function policyRoutes(app: FastifyInstance, ctx: ApiContext, deps: PolicyRouteDeps): void {
  const { repo, watcher } = deps;
  const actor = (req: { token?: { name: string } }) => req.token?.name ?? 'unknown';

  app.get(
    '/api/v1/policy/groups',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['policy'],
        summary: 'Groups of the active policy (or of a proposal with ?proposal=ID)',
        querystring: Type.Object(
          { proposal: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,128}$' })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ items: Type.Array(Type.Unknown()) }),
          400: ErrorSchema,
          404: ErrorSchema,
        },
      },
    },
    async (req) => {
      const id = (req.query as { proposal?: string }).proposal;
      const doc = id ? repo.proposal(id) : repo.active();
      return { items: doc?.groups ?? [] };
    },
  );

  app.get(
    '/api/v1/policy/proposals',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['policy'],
        summary: 'Proposals waiting for review',
        response: { 200: Type.Object({ items: Type.Array(Doc) }) },
      },
    },
    async () => ({ items: repo.proposals() }),
  );

  app.post(
    '/api/v1/policy/proposals',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['policy'],
        summary: 'Learn a proposal from the flows stored in a time range (default: the last 7 days)',
        body: Type.Object(
          {
            after: Type.Optional(TimeParam('Start of the learning window (default -7d).')),
            before: Type.Optional(TimeParam('End of the learning window (default now).')),
            scopes: Type.Optional(
              Type.Array(
                Type.Object(
                  {
                    name: Type.String({ minLength: 1, maxLength: 64 }),
                    cidrs: Type.Array(CidrParam(), { minItems: 1, maxItems: 256 }),
                  },
                  { additionalProperties: false },
                ),
                { maxItems: 256 },
              ),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: Doc, 400: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (req, reply) => {
      const b = (req.body ?? {}) as {
        after?: string;
        before?: string;
        scopes?: { name: string; cidrs: string[] }[];
      };
      const range = parseRange({ after: b.after ?? '-7d', before: b.before });
      let doc: Awaited<ReturnType<typeof learnFromStore>>;
      try {
        doc = await learnFromStore(ctx.store, range, {
          createdBy: actor(req),
          scopes: b.scopes ?? [],
          ...(repo.active() ? { previous: repo.active()! } : {}),
        });
      } catch (e) {
        if (/is not a network/.test((e as Error).message))
          throw new UserError(400, `scopes: ${(e as Error).message}`);
        throw e;
      }
      repo.saveProposal(doc);
      ctx.audit?.({
        action: 'policy.propose',
        actor: actor(req),
        details: { id: doc.id, edges: doc.edges.length },
      });
      return reply.code(201).send(doc);
    },
  );

  app.get(
    '/api/v1/policy/proposals/:id',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['policy'],
        summary: 'One proposal, with what is new since the active version',
        params: IdParams,
        response: {
          200: Type.Object({ proposal: Doc, diff: Type.Unknown() }),
          400: ErrorSchema,
          404: ErrorSchema,
        },
      },
    },
    async (req) => {
      const p = repo.proposal((req.params as { id: string }).id);
      return { proposal: p, diff: diffPolicies(repo.active(), p) };
    },
  );

  app.delete(
    '/api/v1/policy/proposals/:id',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['policy'],
        summary: 'Discard a proposal',
        params: IdParams,
        response: { 204: Type.Null(), 400: ErrorSchema, 404: ErrorSchema },
      },
    },
    async (req, reply) => {
      const id = (req.params as { id: string }).id;
      repo.deleteProposal(id);
      ctx.audit?.({ action: 'policy.discard', actor: actor(req), details: { id } });
      return reply.code(204).send();
    },
  );

  app.patch(
    '/api/v1/policy/proposals/:id/edges',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['policy'],
        summary: 'Approve, reject or reset edges of a proposal (audited)',
        params: IdParams,
        body: Type.Object(
          {
            changes: Type.Array(
              Type.Object(
                { edge: Type.String({ maxLength: 512 }), status: Status },
                { additionalProperties: false },
              ),
              { minItems: 1, maxItems: 100_000 },
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Doc, 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (req) => {
      const id = (req.params as { id: string }).id;
      const changes = (req.body as { changes: { edge: string; status: EdgeStatus }[] }).changes;
      const doc = repo.review(id, changes, actor(req));
      ctx.audit?.({ action: 'policy.review', actor: actor(req), details: { id, changes } });
      return doc;
    },
  );

  app.patch(
    '/api/v1/policy/proposals/:id/groups',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['policy'],
        summary: 'Rename, pin, merge or split groups of a proposal',
        params: IdParams,
        body: Type.Object(
          {
            ops: Type.Array(
              Type.Union([
                Type.Object(
                  {
                    op: Type.Literal('rename'),
                    group: Type.String(),
                    name: Type.String({ minLength: 1, maxLength: 128 }),
                  },
                  { additionalProperties: false },
                ),
                Type.Object(
                  { op: Type.Literal('pin'), group: Type.String(), pinned: Type.Boolean() },
                  { additionalProperties: false },
                ),
                Type.Object(
                  {
                    op: Type.Literal('merge'),
                    groups: Type.Array(Type.String(), { minItems: 2, maxItems: 1000 }),
                    name: Type.String({ minLength: 1, maxLength: 128 }),
                  },
                  { additionalProperties: false },
                ),
                Type.Object(
                  {
                    op: Type.Literal('split'),
                    group: Type.String(),
                    members: Type.Array(Type.String(), { minItems: 1, maxItems: 100_000 }),
                    name: Type.String({ minLength: 1, maxLength: 128 }),
                  },
                  { additionalProperties: false },
                ),
              ]),
              { minItems: 1, maxItems: 1000 },
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Doc, 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (req) => {
      const id = (req.params as { id: string }).id;
      const ops = (req.body as { ops: GroupOp[] }).ops;
      const doc = repo.editGroups(id, ops);
      ctx.audit?.({ action: 'policy.groups', actor: actor(req), details: { id, ops } });
      return doc;
    },
  );

  app.post(
    '/api/v1/policy/proposals/:id/approve',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['policy'],
        summary: 'Approve a proposal: it becomes the active version (never by its proposer; audited)',
        params: IdParams,
        response: { 200: Doc, 400: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema },
      },
    },
    async (req) => {
      const id = (req.params as { id: string }).id;
      const doc = repo.approve(id, actor(req));
      watcher.set(doc);
      ctx.audit?.({ action: 'policy.approve', actor: actor(req), details: { id, version: doc.version } });
      return doc;
    },
  );

  app.get(
    '/api/v1/policy/versions',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['policy'],
        summary: 'Approved versions, oldest first; the last approved one is active',
        response: { 200: Type.Object({ items: Type.Array(Type.Unknown()) }) },
      },
    },
    async () => ({ items: repo.versions() }),
  );

  app.get(
    '/api/v1/policy/versions/:version',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['policy'],
        summary: 'One approved version',
        params: VersionParams,
        response: { 200: Doc, 400: ErrorSchema, 404: ErrorSchema },
      },
    },
    async (req) => repo.version((req.params as { version: number }).version),
  );

  app.get(
    '/api/v1/policy/versions/:version/export',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['policy'],
        summary: 'The approved edges as nftables rules, Kubernetes NetworkPolicies or JSON',
        params: VersionParams,
        querystring: Type.Object(
          { format: Type.Union([Type.Literal('nft'), Type.Literal('k8s'), Type.Literal('json')]) },
          { additionalProperties: false },
        ),
        response: { 400: ErrorSchema, 404: ErrorSchema },
      },
    },
    async (req, reply) => {
      const doc = repo.version((req.params as { version: number }).version);
      const f = (req.query as { format: 'nft' | 'k8s' | 'json' }).format;
      if (f === 'nft') return reply.type('text/plain; charset=utf-8').send(toNftables(doc));
      if (f === 'k8s') return reply.type('application/yaml; charset=utf-8').send(toKubernetes(doc));
      return { ...doc, edges: doc.edges.filter((e) => e.status === 'approved') };
    },
  );

  app.get(
    '/api/v1/policy/compliance',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['policy'],
        summary: 'Flows checked since start per source group: permitted, rejected, escaped',
        response: { 200: Type.Unknown() },
      },
    },
    async () => {
      const c = watcher.active;
      if (!c) return { policy: null, totals: null, groups: [] };
      const names = new Map(c.policy.groups.map((g) => [g.id, g.name]));
      return {
        policy: { id: c.policy.id, version: c.policy.version },
        totals: c.counters,
        groups: [...c.byGroup].map(([id, n]) => ({ id, name: names.get(id) ?? id, ...n })),
      };
    },
  );
}
