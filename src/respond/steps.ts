import { type AlertRecord, alertRecord } from '../schema/alert.js';
import { flowRecord } from '../schema/flow.js';
import { parseFilter } from '../store/filter.js';
import type { RecordStore } from '../store/types.js';
import { call, expect2xx, masked } from './actions/http.js';
import type { ActionAdapter, ActionRequest, ApprovalLinks, PlannedCall } from './actions/types.js';
import type { Step, StepType } from './playbook.js';
import type { Responder } from './responder.js';
import type { ApprovalState, Run, StepState } from './state.js';
import { render, type TemplateScope } from './template.js';

export type StepOutcome =
  | { kind: 'next'; result: Record<string, unknown>; calls?: PlannedCall[] }
  | { kind: 'goto'; to: string; result: Record<string, unknown>; calls?: PlannedCall[] }
  | { kind: 'wait'; until: string; approval?: ApprovalState }
  | { kind: 'stop'; status: 'succeeded' | 'denied'; result: Record<string, unknown>; error?: string }
  | { kind: 'fail'; error: string };

export interface StepContext {
  run: Run;
  step: Step;
  state: StepState;
  scope: TemplateScope;
  responder: Responder;
  store: RecordStore;
  now: () => number;
  pcapEvidence?: (a: AlertRecord) => Promise<Record<string, unknown>>;
}

export interface PlanContext {
  run: Run;
  step: Step;
  scope: TemplateScope;
  responder: Responder;
}

/**
 * A step type: how it runs and how it shows in a dry run. `acts` steps are retried with
 * backoff and bounded by the step's timeout; the others (approve, wait, condition) only wait or
 * decide and are resumed by the engine.
 */
export interface StepKind {
  acts: boolean;
  run(ctx: StepContext): Promise<StepOutcome>;
  plan(ctx: PlanContext): { summary: string; calls: PlannedCall[]; goto?: string };
}

const dry = (ref: string) => `‹${ref}›`;
const renderDry = <T>(v: T, scope: TemplateScope): T => render(v, scope, dry);
const keyOf = (run: Run, step: Step, extra = ''): string => `${run.id}.${step.id}${extra}`;

function adapter(r: Responder, name: unknown): ActionAdapter {
  const a = r.adapters.get(String(name));
  if (!a) throw new Error(`adapter ${String(name)} is not configured`);
  return a;
}

/** A dry run without the adapters' config (the CLI without --config) still shows the steps. */
function planWith(r: Responder, name: unknown, req: ActionRequest): PlannedCall[] {
  const a = r.adapters.get(String(name));
  if (!a) {
    return [
      {
        adapter: String(name),
        kind: 'rest',
        summary: `adapter ${String(name)} is not configured here`,
        request: { params: req.params },
      },
    ];
  }
  return a.plan(req);
}

function hostOf(step: Step, scope: TemplateScope, isDry = false): string {
  const v = (isDry ? renderDry : render)(String(step.f.host ?? '{{alert.src_ip}}'), scope);
  return String(v ?? '');
}

const enrich: StepKind = {
  acts: true,
  async run(ctx) {
    const ip = hostOf(ctx.step, ctx.scope);
    const want = new Set(
      (ctx.step.f.with as string[] | undefined) ?? ['summary', 'intel', 'presence', 'pcap'],
    );
    const result: Record<string, unknown> = { host: ip };
    const q = JSON.stringify(ip);
    if (want.has('summary') || want.has('presence')) {
      const page = await ctx.store.list({
        type: 'flow',
        filter: parseFilter(`client_ip = ${q} or server_ip = ${q}`, flowRecord),
        limit: 1000,
      });
      const peers = new Set<string>();
      const ports = new Set<number>();
      let last = '';
      for (const f of page.items as Record<string, unknown>[]) {
        peers.add(String(f.client_ip === ip ? f.server_ip : f.client_ip));
        ports.add(Number(f.server_port));
        if (String(f.last_ts) > last) last = String(f.last_ts);
      }
      if (want.has('summary'))
        result.summary = { flows: page.items.length, peers: peers.size, ports: ports.size };
      if (want.has('presence')) result.presence = { last_seen: last || null };
    }
    if (want.has('intel')) {
      const page = await ctx.store.list({
        type: 'alert',
        filter: parseFilter(`category = "intel" and (src_ip = ${q} or dst_ip = ${q})`, alertRecord),
        limit: 100,
      });
      result.intel = {
        hits: page.items.length,
        alerts: page.items.map((a) => (a as { alert_id: string }).alert_id),
      };
    }
    if (want.has('pcap')) {
      result.pcap = ctx.pcapEvidence
        ? await ctx.pcapEvidence(ctx.run.alert)
        : { available: false, reason: 'no packet store' };
    }
    return { kind: 'next', result };
  },
  plan(ctx) {
    const ip = hostOf(ctx.step, ctx.scope, true);
    const w = (ctx.step.f.with as string[] | undefined) ?? ['summary', 'intel', 'presence', 'pcap'];
    return { summary: `gather ${w.join(', ')} for ${ip}`, calls: [] };
  },
};

function approvers(r: Responder, a: ApprovalState) {
  return r.cfg.approvers.filter(
    (p) =>
      !a.excluded.includes(p.name) &&
      (a.users.includes(p.name) ||
        a.roles.includes(p.role) ||
        (p.role === 'admin' && a.roles.includes('analyst'))),
  );
}

function linksFor(r: Responder, run: Run, a: ApprovalState, who: string): ApprovalLinks {
  const exp = Date.parse(a.expires_at);
  return {
    approve: r.signer.link(r.cfg.publicUrl, a.id, who, 'approve', exp),
    deny: r.signer.link(r.cfg.publicUrl, a.id, who, 'deny', exp),
    console: `${r.cfg.publicUrl.replace(/\/+$/, '')}/#/approvals?run=${run.id}`,
  };
}

const approve: StepKind = {
  acts: false,
  async run(ctx) {
    const { run, step, state: st, responder: r } = ctx;
    if (!st.approval) {
      const alert = run.alert;
      const a: ApprovalState = {
        id: `${run.id}.${step.id}`,
        roles: (step.f.roles as string[] | undefined) ?? [],
        users: (step.f.users as string[] | undefined) ?? [],
        quorum: (step.f.quorum as number | undefined) ?? 1,
        expires_at: new Date(ctx.now() + (step.f.expires as number)).toISOString(),
        on_timeout: (step.f.on_timeout as 'deny' | 'approve' | undefined) ?? 'deny',
        message: String(
          render(step.f.message ?? `Approve the response "${run.playbook}" to: {{alert.title}}`, ctx.scope),
        ),
        votes: [],
        used: [],
        outcome: null,
        excluded: [alert.assignee, alert.src_user, run.triggered_by].filter(
          (x): x is string => typeof x === 'string' && x !== '',
        ),
      };
      st.approval = a;
      st.status = 'waiting';
      st.wake_at = a.expires_at;
      run.status = 'waiting';
      r.persist(run);
      r.audit.append('approval.request', {
        run_id: run.id,
        alert_id: run.alert_id,
        details: {
          approval: a.id,
          roles: a.roles,
          users: a.users,
          quorum: a.quorum,
          expires_at: a.expires_at,
          excluded: a.excluded,
        },
      });
      // Each approver gets their own links: a link names the person who decides with it.
      for (const via of (step.f.notify as string[] | undefined) ?? []) {
        for (const p of approvers(r, a)) {
          const ad = r.adapters.get(via);
          if (!ad) continue;
          const req: ActionRequest = {
            key: `${a.id}.${via}.${p.name}`,
            params: {
              subject: `[Vantage] approval needed: ${run.alert.title}`,
              text: `${a.message}\n\nRequested of ${p.name}.`,
              links: linksFor(r, run, a, p.name),
              ...(ad.kind === 'email' && p.email ? { to: [p.email] } : {}),
            },
          };
          try {
            await ad.apply(req);
            r.audit.append('approval.notified', {
              run_id: run.id,
              alert_id: run.alert_id,
              details: { approval: a.id, adapter: via, to: p.name },
            });
          } catch (e) {
            r.audit.append('approval.notify_failed', {
              run_id: run.id,
              alert_id: run.alert_id,
              details: { approval: a.id, adapter: via, to: p.name, error: (e as Error).message },
            });
          }
        }
      }
      return { kind: 'wait', until: a.expires_at, approval: a };
    }
    const a = st.approval;
    const result = () => ({
      outcome: a.outcome,
      approvers: a.votes.filter((v) => v.decision === 'approve').map((v) => v.who),
    });
    if (a.outcome === null && ctx.now() >= Date.parse(a.expires_at)) {
      a.outcome = 'expired';
      r.persist(run);
      r.audit.append('approval.expired', {
        run_id: run.id,
        alert_id: run.alert_id,
        details: { approval: a.id, on_timeout: a.on_timeout },
      });
      if (a.on_timeout === 'approve') return { kind: 'next', result: result() };
    }
    if (a.outcome === 'approved') return { kind: 'next', result: result() };
    if (a.outcome === 'denied' || a.outcome === 'expired')
      return { kind: 'stop', status: 'denied', result: result(), error: `approval ${a.outcome}` };
    return { kind: 'wait', until: a.expires_at };
  },
  plan(ctx) {
    const f = ctx.step.f;
    const who = [
      ...((f.roles as string[] | undefined) ?? []).map((x) => `role ${x}`),
      ...((f.users as string[] | undefined) ?? []),
    ];
    return {
      summary: `ask ${who.join(', ')} (quorum ${(f.quorum as number | undefined) ?? 1}, expires in ${Number(f.expires) / 1000}s, then ${(f.on_timeout as string | undefined) ?? 'deny'}); assumed approved`,
      calls: ((f.notify as string[] | undefined) ?? []).flatMap((via) =>
        planWith(ctx.responder, via, {
          key: `${ctx.run.id}.${ctx.step.id}.${via}`,
          params: {
            subject: `[Vantage] approval needed: ${ctx.run.alert.title}`,
            text: String(renderDry(f.message ?? '', ctx.scope)),
            links: { approve: '‹signed link›', deny: '‹signed link›', console: '‹console›' },
          },
        }),
      ),
    };
  },
};

const isolate: StepKind = {
  acts: true,
  async run(ctx) {
    const ad = adapter(ctx.responder, ctx.step.f.via);
    const req = { key: keyOf(ctx.run, ctx.step), params: { host: hostOf(ctx.step, ctx.scope) } };
    const calls = ad.plan(req);
    const result = await ad.apply(req);
    return { kind: 'next', result: { ...result, host: req.params.host, adapter: ad.name }, calls };
  },
  plan(ctx) {
    const host = hostOf(ctx.step, ctx.scope, true);
    return {
      summary: `isolate ${host} through ${String(ctx.step.f.via)}`,
      calls: planWith(ctx.responder, ctx.step.f.via, { key: keyOf(ctx.run, ctx.step), params: { host } }),
    };
  },
};

function ticketParams(
  ctx: { step: Step; scope: TemplateScope; run: Run },
  isDry: boolean,
): Record<string, unknown> {
  const f = ctx.step.f;
  const r = isDry ? renderDry : render;
  const p: Record<string, unknown> = {
    short_description: r(f.short_description, ctx.scope),
    description: r(f.description ?? '', ctx.scope),
    urgency: f.urgency ?? 2,
    impact: f.impact ?? 2,
    ...(f.caller !== undefined && { caller: r(f.caller, ctx.scope) }),
    ...(f.work_notes !== undefined && { work_notes: r(f.work_notes, ctx.scope) }),
  };
  if (typeof f.update === 'string') {
    const prev = ctx.run.steps.find((s) => s.id === f.update);
    p.sys_id = prev?.result?.sys_id ?? (isDry ? '‹sys_id of the ticket opened earlier›' : undefined);
  }
  return p;
}

const ticket: StepKind = {
  acts: true,
  async run(ctx) {
    const ad = adapter(ctx.responder, ctx.step.f.via);
    const req = { key: keyOf(ctx.run, ctx.step), params: ticketParams(ctx, false) };
    if (typeof ctx.step.f.update === 'string' && typeof req.params.sys_id !== 'string')
      throw new Error(`step ${String(ctx.step.f.update)} opened no ticket to update`);
    const calls = ad.plan(req);
    return { kind: 'next', result: await ad.apply(req), calls };
  },
  plan(ctx) {
    const calls = planWith(ctx.responder, ctx.step.f.via, {
      key: keyOf(ctx.run, ctx.step),
      params: ticketParams(ctx, true),
    });
    return { summary: calls[0]?.summary ?? 'ticket', calls };
  },
};

const notify: StepKind = {
  acts: true,
  async run(ctx) {
    const { run, step, state: st } = ctx;
    const params = { subject: render(step.f.subject, ctx.scope), text: render(step.f.text ?? '', ctx.scope) };
    // Adapters that already sent are not asked again when another one fails and is retried.
    const sent = { ...((st.result?.sent as Record<string, unknown> | undefined) ?? {}) };
    const calls: PlannedCall[] = [];
    for (const via of step.f.via as string[]) {
      const ad = adapter(ctx.responder, via);
      const req = { key: keyOf(run, step, `.${via}`), params };
      calls.push(...ad.plan(req));
      if (sent[via]) continue;
      sent[via] = await ad.apply(req);
      st.result = { sent };
      ctx.responder.persist(run);
    }
    return { kind: 'next', result: { sent }, calls };
  },
  plan(ctx) {
    const params = {
      subject: renderDry(ctx.step.f.subject, ctx.scope),
      text: renderDry(ctx.step.f.text ?? '', ctx.scope),
    };
    const calls = (ctx.step.f.via as string[]).flatMap((via) =>
      planWith(ctx.responder, via, { key: keyOf(ctx.run, ctx.step, `.${via}`), params }),
    );
    return { summary: `notify through ${(ctx.step.f.via as string[]).join(', ')}`, calls };
  },
};

const wait: StepKind = {
  acts: false,
  async run(ctx) {
    const st = ctx.state;
    if (!st.wake_at)
      return { kind: 'wait', until: new Date(ctx.now() + (ctx.step.f.for as number)).toISOString() };
    if (ctx.now() >= Date.parse(st.wake_at)) return { kind: 'next', result: { waited_ms: ctx.step.f.for } };
    return { kind: 'wait', until: st.wake_at };
  },
  plan: (ctx) => ({ summary: `wait ${Number(ctx.step.f.for) / 1000}s`, calls: [] }),
};

function holds(value: unknown, op: string, to: unknown): boolean {
  const n = (x: unknown) => (typeof x === 'number' ? x : Number(x));
  switch (op) {
    case '=':
      return String(value) === String(to);
    case '!=':
      return String(value) !== String(to);
    case '>':
      return n(value) > n(to);
    case '<':
      return n(value) < n(to);
    case '>=':
      return n(value) >= n(to);
    case '<=':
      return n(value) <= n(to);
    default:
      return Array.isArray(value)
        ? value.map(String).includes(String(to))
        : String(value).includes(String(to));
  }
}

const condition: StepKind = {
  acts: false,
  async run(ctx) {
    const c = ctx.step.f.check as { value: string; op: string; to: unknown };
    const value = render(c.value, ctx.scope);
    const ok = holds(value, c.op, c.to);
    return { kind: 'goto', to: String(ok ? ctx.step.f.then : ctx.step.f.else), result: { value, holds: ok } };
  },
  plan(ctx) {
    const c = ctx.step.f.check as { value: string; op: string; to: unknown };
    const value = renderDry(c.value, ctx.scope);
    const known = !(typeof value === 'string' && value.includes('‹'));
    const ok = known ? holds(value, c.op, c.to) : true;
    return {
      summary: known
        ? `${JSON.stringify(value)} ${c.op} ${JSON.stringify(c.to)} is ${ok}: go to ${String(ok ? ctx.step.f.then : ctx.step.f.else)}`
        : `${c.value} is known only when running; shown: the "then" branch (${String(ctx.step.f.then)})`,
      calls: [],
      goto: String(ok ? ctx.step.f.then : ctx.step.f.else),
    };
  },
};

function httpRequest(ctx: { step: Step; scope: TemplateScope; run: Run }, isDry: boolean) {
  const r = isDry ? renderDry : render;
  const f = ctx.step.f;
  const url = String(r(f.url, ctx.scope));
  if (!/^https?:\/\//.test(url)) throw new Error(`http: '${url.slice(0, 80)}' is not an http(s) URL`);
  const headers: Record<string, string> = {
    'idempotency-key': keyOf(ctx.run, ctx.step),
    ...(f.body !== undefined && { 'content-type': 'application/json' }),
  };
  for (const [k, v] of Object.entries((f.headers as Record<string, unknown> | undefined) ?? {}))
    headers[k] = String(r(v, ctx.scope));
  const body = f.body === undefined ? undefined : JSON.stringify(r(f.body, ctx.scope));
  return { method: String(f.method ?? 'POST'), url, headers, ...(body !== undefined && { body }) };
}

const http: StepKind = {
  acts: true,
  async run(ctx) {
    const req = httpRequest(ctx, false);
    const a = await call(req, { timeoutMs: ctx.step.timeoutMs });
    expect2xx(a, `${req.method} ${req.url}`);
    let body: unknown = a.body.slice(0, 4096);
    try {
      body = JSON.parse(a.body);
    } catch {}
    const calls: PlannedCall[] = [
      {
        adapter: 'http',
        kind: 'rest',
        summary: `${req.method} ${req.url}`,
        request: { ...req, headers: masked(req.headers) },
      },
    ];
    return { kind: 'next', result: { status: a.status, body }, calls };
  },
  plan(ctx) {
    const req = httpRequest(ctx, true);
    return {
      summary: `${req.method} ${req.url}`,
      calls: [
        {
          adapter: 'http',
          kind: 'rest',
          summary: `${req.method} ${req.url}`,
          request: {
            ...req,
            headers: masked(req.headers),
            body: req.body === undefined ? null : JSON.parse(req.body),
          },
        },
      ],
    };
  },
};

export const STEP_KINDS: Record<StepType, StepKind> = {
  enrich,
  approve,
  isolate,
  ticket,
  notify,
  wait,
  condition,
  http,
};
