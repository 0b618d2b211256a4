import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { alertRecordOf } from '../../common/alerts.js';
import { UserError } from '../../common/errors.js';
import { catalogOf } from '../../respond/config.js';
import { loadPlaybook, type Playbook, PlaybookError, playbookJsonSchema } from '../../respond/playbook.js';
import type { Responder } from '../../respond/responder.js';
import { RUN_STATUSES, type Run } from '../../respond/state.js';
import type { AlertRecord } from '../../schema/alert.js';
import type { ApiContext } from '../context.js';
import { ErrorSchema } from '../schemas.js';

const Name = Type.Object({ name: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' }) });
const RunId = Type.Object({ id: Type.String({ pattern: '^r-[a-z0-9-]{1,78}$' }) });
const ApprovalId = Type.Object({
  id: Type.String({ pattern: '^r-[a-z0-9-]{1,78}\\.[a-z0-9][a-z0-9_-]{0,63}$' }),
});
const Source = Type.Object({
  source: Type.String({ maxLength: 262_144, description: 'Playbook text, YAML or JSON.' }),
});
const Issues = Type.Object({
  valid: Type.Boolean(),
  errors: Type.Array(
    Type.Object({
      key: Type.String(),
      line: Type.Union([Type.Integer(), Type.Null()]),
      message: Type.String(),
    }),
  ),
});
const Any = Type.Object({}, { additionalProperties: true });
const LinkQuery = Type.Object({
  u: Type.String({ maxLength: 128 }),
  d: Type.Union([Type.Literal('approve'), Type.Literal('deny')]),
  e: Type.String({ pattern: '^[0-9]{1,12}$' }),
  n: Type.String({ pattern: '^[A-Za-z0-9_-]{8,64}$' }),
  s: Type.String({ pattern: '^[A-Za-z0-9_-]{20,100}$' }),
});

const from = (req: FastifyRequest) => ({
  ip: req.ip,
  user_agent: String(req.headers['user-agent'] ?? '').slice(0, 200),
});
const issuesOf = (e: unknown) => {
  if (e instanceof PlaybookError) return { valid: false, errors: e.issues };
  throw e;
};
const runView = (r: Run) => ({
  id: r.id,
  playbook: r.playbook,
  version: r.version,
  alert_id: r.alert_id,
  title: r.alert.title,
  status: r.status,
  created: r.created,
  updated: r.updated,
  error: r.error,
  released: r.released,
  triggered_by: r.triggered_by,
  steps: r.steps,
});

/** The alert a dry run or a manual run is for: an id in the store, or an alert given whole. */
async function alertFor(
  ctx: ApiContext,
  body: { alert_id?: string; alert?: Record<string, unknown> },
): Promise<AlertRecord> {
  if (body.alert_id) {
    const a = await ctx.alerts?.get(body.alert_id);
    if (!a) throw new UserError(404, `no alert '${body.alert_id.slice(0, 100)}'`);
    return a;
  }
  if (body.alert && typeof body.alert === 'object') return sampleAlert(body.alert);
  throw new UserError(400, 'alert_id or alert: name the alert to run against');
}

/** Fill an alert given in part (a dry run's sample) with neutral values for what it lacks. */
export function sampleAlert(a: Record<string, unknown>): AlertRecord {
  const base = alertRecordOf(
    {
      ts: Date.now(),
      category: 'other',
      detector: 'sample',
      title: 'sample alert',
      severity: 50,
      confidence: 50,
    },
    'vantage',
  );
  return { ...base, ...a } as AlertRecord;
}

/**
 * Response: playbooks (admin), runs (analyst: list, detail, cancel, release), approvals
 * (analyst: pending, decide; the signed link is its own authentication), the audit chain.
 *
 *   curl -H "Authorization: Bearer $ADMIN" http://127.0.0.1:8080/api/v1/playbooks
 *   curl -X POST -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
 *     --data "$(jq -Rs '{source: .}' isolate.yaml)" http://127.0.0.1:8080/api/v1/playbooks
 *   curl -X POST -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
 *     --data "$(jq -Rs '{source: ., alert: {src_ip: "10.0.0.5"}}' isolate.yaml)" http://127.0.0.1:8080/api/v1/playbooks/dry-run
 *   curl -H "Authorization: Bearer $ANALYST" 'http://127.0.0.1:8080/api/v1/runs?status=waiting'
 *   curl -H "Authorization: Bearer $ANALYST" http://127.0.0.1:8080/api/v1/approvals
 *   curl -X POST -H "Authorization: Bearer $ANALYST" -H 'content-type: application/json' \
 *     -d '{"decision":"approve"}' http://127.0.0.1:8080/api/v1/approvals/RUN.STEP/decide
 *   curl -X POST -H "Authorization: Bearer $ANALYST" http://127.0.0.1:8080/api/v1/runs/RUN/release
 *   curl -H "Authorization: Bearer $ADMIN" 'http://127.0.0.1:8080/api/v1/respond/audit?run_id=RUN'
 */
export function playbookRoutes(app: FastifyInstance, ctx: ApiContext, r: Responder): void {
  const tag = { tags: ['respond'] };
  const actor = (req: FastifyRequest) => req.token?.name ?? 'unknown';

  app.get(
    '/api/v1/playbooks',
    {
      config: { access: 'admin' },
      schema: {
        ...tag,
        summary: 'Playbooks with their current version',
        response: { 200: Type.Object({ items: Type.Array(Any) }) },
      },
    },
    async () => ({
      items: r.repo.names().map((n) => {
        const e = r.repo.get(n)!;
        return {
          name: n,
          enabled: e.enabled,
          version: e.version,
          versions: e.versions,
          trigger: e.playbook.trigger,
          description: e.playbook.description,
          steps: e.playbook.steps.length,
        };
      }),
    }),
  );

  app.get(
    '/api/v1/playbooks/schema',
    {
      config: { access: 'viewer' },
      schema: { ...tag, summary: 'The published JSON Schema of a playbook', response: { 200: Any } },
    },
    async () => playbookJsonSchema(),
  );

  app.post(
    '/api/v1/playbooks/validate',
    {
      config: { access: 'admin' },
      schema: {
        ...tag,
        summary: 'Validate a playbook text; every error names its key and line',
        body: Source,
        response: { 200: Issues, 400: ErrorSchema },
      },
    },
    async (req) => {
      try {
        loadPlaybook((req.body as { source: string }).source, catalogOf([...r.adapters.values()]));
        return { valid: true, errors: [] };
      } catch (e) {
        return issuesOf(e);
      }
    },
  );

  app.post(
    '/api/v1/playbooks/dry-run',
    {
      config: { access: 'admin' },
      schema: {
        ...tag,
        summary: 'What each step would do for an alert, rendered; nothing is done',
        body: Type.Object({
          source: Type.Optional(Type.String({ maxLength: 262_144 })),
          name: Type.Optional(Type.String({ maxLength: 64 })),
          alert_id: Type.Optional(Type.String({ maxLength: 128 })),
          alert: Type.Optional(Any),
        }),
        response: { 200: Any, 400: Type.Union([ErrorSchema, Issues]), 404: ErrorSchema },
      },
    },
    async (req, reply) => {
      const b = req.body as {
        source?: string;
        name?: string;
        alert_id?: string;
        alert?: Record<string, unknown>;
      };
      let pb: Playbook;
      try {
        if (b.source !== undefined) pb = loadPlaybook(b.source, catalogOf([...r.adapters.values()]));
        else {
          const e = b.name ? r.repo.get(b.name) : null;
          if (!e) throw new UserError(404, `no playbook '${String(b.name).slice(0, 64)}'`);
          pb = e.playbook;
        }
      } catch (e) {
        return reply.code(400).send(issuesOf(e));
      }
      const alert = await alertFor(ctx, b);
      return { playbook: pb.name, alert_id: alert.alert_id, steps: r.plan(pb, alert) };
    },
  );

  app.post(
    '/api/v1/playbooks',
    {
      config: { access: 'admin' },
      schema: {
        ...tag,
        summary: 'Create or update a playbook (a new version when the text changed)',
        body: Source,
        response: { 201: Any, 400: Issues },
      },
    },
    async (req, reply) => {
      try {
        const e = r.repo.save((req.body as { source: string }).source);
        r.audit.append('playbook.save', {
          actor: actor(req),
          details: { name: e.name, version: e.version, enabled: e.enabled },
        });
        ctx.audit?.({
          action: 'playbook.save',
          actor: actor(req),
          details: { name: e.name, version: e.version },
        });
        return reply.code(201).send(e);
      } catch (e) {
        return reply.code(400).send(issuesOf(e));
      }
    },
  );

  app.get(
    '/api/v1/playbooks/:name',
    {
      config: { access: 'admin' },
      schema: {
        ...tag,
        summary: 'One playbook (current version, or ?version=N) with its source',
        params: Name,
        querystring: Type.Object({ version: Type.Optional(Type.Integer({ minimum: 1 })) }),
        response: { 200: Any, 404: ErrorSchema },
      },
    },
    async (req) => {
      const { name } = req.params as { name: string };
      const e = r.repo.get(name, (req.query as { version?: number }).version);
      if (!e) throw new UserError(404, `no playbook '${name}' (or no such version)`);
      return e;
    },
  );

  app.patch(
    '/api/v1/playbooks/:name',
    {
      config: { access: 'admin' },
      schema: {
        ...tag,
        summary: 'Enable or disable a playbook',
        params: Name,
        body: Type.Object({ enabled: Type.Boolean() }),
        response: { 200: Any, 404: ErrorSchema },
      },
    },
    async (req) => {
      const { name } = req.params as { name: string };
      const enabled = (req.body as { enabled: boolean }).enabled;
      const e = r.repo.setEnabled(name, enabled);
      if (!e) throw new UserError(404, `no playbook '${name}'`);
      r.audit.append(enabled ? 'playbook.enable' : 'playbook.disable', {
        actor: actor(req),
        details: { name },
      });
      return e;
    },
  );

  app.delete(
    '/api/v1/playbooks/:name',
    {
      config: { access: 'admin' },
      schema: {
        ...tag,
        summary: 'Delete a playbook (its runs stay)',
        params: Name,
        response: { 204: Type.Null(), 404: ErrorSchema },
      },
    },
    async (req, reply) => {
      const { name } = req.params as { name: string };
      if (!r.repo.remove(name)) throw new UserError(404, `no playbook '${name}'`);
      r.audit.append('playbook.delete', { actor: actor(req), details: { name } });
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/v1/playbooks/:name/run',
    {
      config: { access: 'analyst' },
      schema: {
        ...tag,
        summary: 'Start the playbook by hand for a stored alert',
        params: Name,
        body: Type.Object({ alert_id: Type.String({ maxLength: 128 }) }),
        response: { 201: Any, 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (req, reply) => {
      const { name } = req.params as { name: string };
      const e = r.repo.get(name);
      if (!e) throw new UserError(404, `no playbook '${name}'`);
      const alert = await alertFor(ctx, req.body as { alert_id: string });
      return reply.code(201).send(runView(r.startRun(e.playbook, alert, actor(req))));
    },
  );

  app.get(
    '/api/v1/runs',
    {
      config: { access: 'viewer' },
      schema: {
        ...tag,
        summary: 'Runs, newest first',
        querystring: Type.Object({
          status: Type.Optional(Type.Union(RUN_STATUSES.map((s) => Type.Literal(s)))),
          alert_id: Type.Optional(Type.String({ maxLength: 128 })),
          playbook: Type.Optional(Type.String({ maxLength: 64 })),
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
        }),
        response: { 200: Type.Object({ items: Type.Array(Any) }) },
      },
    },
    async (req) => {
      const q = req.query as { status?: string; alert_id?: string; playbook?: string; limit: number };
      const items = r.runs
        .all()
        .filter(
          (x) =>
            (!q.status || x.status === q.status) &&
            (!q.alert_id || x.alert_id === q.alert_id) &&
            (!q.playbook || x.playbook === q.playbook),
        )
        .sort((a, b) => b.created.localeCompare(a.created))
        .slice(0, q.limit)
        .map(runView);
      return { items };
    },
  );

  app.get(
    '/api/v1/runs/:id',
    {
      config: { access: 'viewer' },
      schema: {
        ...tag,
        summary:
          'One run: every step with its attempts, rendered calls, result, error; and its audit entries',
        params: RunId,
        response: { 200: Any, 404: ErrorSchema },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const run = r.runs.load(id);
      if (!run) throw new UserError(404, `no run '${id}'`);
      return { ...runView(run), alert: run.alert, audit: r.audit.entries({ run_id: id }) };
    },
  );

  app.post(
    '/api/v1/runs/:id/cancel',
    {
      config: { access: 'analyst' },
      schema: {
        ...tag,
        summary: 'Cancel a run that has not ended (what it did stays done)',
        params: RunId,
        response: { 200: Any, 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (req) => runView(r.cancel((req.params as { id: string }).id, actor(req))),
  );

  app.post(
    '/api/v1/runs/:id/release',
    {
      config: { access: 'analyst' },
      schema: {
        ...tag,
        summary: "Undo the run's isolations (release the host)",
        params: RunId,
        response: { 200: Any, 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (req) => runView(await r.release((req.params as { id: string }).id, actor(req))),
  );

  app.get(
    '/api/v1/approvals',
    {
      config: { access: 'viewer' },
      schema: {
        ...tag,
        summary: 'Approval requests waiting for a decision',
        response: { 200: Type.Object({ items: Type.Array(Any) }) },
      },
    },
    async () => ({
      items: r.pendingApprovals().map(({ run, approval }) => ({
        ...approval,
        used: undefined,
        run_id: run.id,
        playbook: run.playbook,
        alert_id: run.alert_id,
        title: run.alert.title,
        severity: run.alert.severity,
        src_ip: run.alert.src_ip,
        dst_ip: run.alert.dst_ip,
      })),
    }),
  );

  app.post(
    '/api/v1/approvals/:id/decide',
    {
      config: { access: 'analyst' },
      schema: {
        ...tag,
        summary: 'Approve or deny as the token holder',
        params: ApprovalId,
        body: Type.Object({ decision: Type.Union([Type.Literal('approve'), Type.Literal('deny')]) }),
        response: { 200: Any, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 410: ErrorSchema },
      },
    },
    async (req) => {
      const t = req.token!;
      return r.decide(
        (req.params as { id: string }).id,
        { name: t.name, role: t.role },
        (req.body as { decision: 'approve' | 'deny' }).decision,
        { ...from(req), via: 'api' },
      );
    },
  );

  // The signed link is opened by a phone's mail app or a chat client, and link scanners open
  // links too: GET only shows what will be decided; the decision is the form's POST.
  app.get(
    '/api/v1/approvals/:id/link',
    {
      config: { access: 'public' },
      schema: {
        ...tag,
        summary: 'Confirmation page of a signed approval link',
        params: ApprovalId,
        querystring: LinkQuery,
        response: { 200: Type.String(), 403: ErrorSchema, 404: ErrorSchema, 410: ErrorSchema },
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const q = req.query as { u: string; d: string; e: string; n: string; s: string };
      if (!r.signer.verify(id, q))
        throw new UserError(403, 'this link is not valid (signature does not match)');
      const f = r.findApproval(id);
      if (!f) throw new UserError(404, 'no such approval');
      const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
      const action = `/api/v1/approvals/${encodeURIComponent(id)}/link?${new URLSearchParams(q)}`;
      return reply
        .type('text/html; charset=utf-8')
        .send(
          `<!doctype html><meta name="viewport" content="width=device-width"><title>Vantage approval</title><h1>${esc(q.d === 'approve' ? 'Approve' : 'Deny')}: ${esc(f.run.alert.title)}</h1><p>${esc(f.approval.message)}</p><p>As ${esc(q.u)}; playbook ${esc(f.run.playbook)}; expires ${esc(f.approval.expires_at)}.</p><form method="post" action="${esc(action)}"><button type="submit">${esc(q.d === 'approve' ? 'Approve' : 'Deny')}</button></form>`,
        );
    },
  );

  app.post(
    '/api/v1/approvals/:id/link',
    {
      config: { access: 'public' },
      schema: {
        ...tag,
        summary: 'Decide through a signed link (single use, expiring)',
        params: ApprovalId,
        querystring: LinkQuery,
        response: {
          200: Any,
          400: ErrorSchema,
          403: ErrorSchema,
          404: ErrorSchema,
          409: ErrorSchema,
          410: ErrorSchema,
        },
      },
    },
    async (req) => {
      const a = r.decideByLink(
        (req.params as { id: string }).id,
        req.query as { u: string; d: string; e: string; n: string; s: string },
        from(req),
      );
      return { outcome: a.outcome, votes: a.votes.length, quorum: a.quorum };
    },
  );

  app.get(
    '/api/v1/respond/audit',
    {
      config: { access: 'admin' },
      schema: {
        ...tag,
        summary:
          'The response audit chain (filter by run or alert), with its verification; ?format=ndjson exports the raw file',
        querystring: Type.Object({
          run_id: Type.Optional(Type.String({ maxLength: 80 })),
          alert_id: Type.Optional(Type.String({ maxLength: 128 })),
          format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('ndjson')])),
        }),
        response: { 200: Any },
      },
    },
    async (req, reply) => {
      const q = req.query as { run_id?: string; alert_id?: string; format?: string };
      if (q.format === 'ndjson') return reply.type('application/x-ndjson').send(r.audit.text());
      return {
        verified: r.audit.verify(),
        items: r.audit.entries({
          ...(q.run_id && { run_id: q.run_id }),
          ...(q.alert_id && { alert_id: q.alert_id }),
        }),
      };
    },
  );
}
