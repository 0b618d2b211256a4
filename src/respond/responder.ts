import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Metrics } from '../common/metrics.js';
import { type AlertRecord, alertRecord } from '../schema/alert.js';
import { parseFilter } from '../store/filter.js';
import { compileMatcher, type Matcher } from '../store/match.js';
import type { RecordStore } from '../store/types.js';
import type { BrokerAdapter, BrokerBlocks } from './actions/broker.js';
import type { ActionAdapter, PlannedCall } from './actions/types.js';
import { LinkSigner } from './approvals.js';
import { ResponseAudit } from './audit.js';
import { catalogOf, type ResponderConfig } from './config.js';
import type { Playbook, Step } from './playbook.js';
import { PlaybookRepo } from './repo.js';
import { type ApprovalState, type Run, RunFiles, type StepState, TERMINAL, type Vote } from './state.js';
import { STEP_KINDS, type StepContext, type StepOutcome } from './steps.js';
import { render, type TemplateScope } from './template.js';

/** How the responder hears of alerts: the AlertHub's `subscribe` (after the alert is stored). */
export interface AlertSource {
  subscribe(fn: (a: AlertRecord) => void): () => void;
  get(id: string): Promise<AlertRecord | null>;
}

export interface ResponderDeps {
  dataDir: string;
  store: RecordStore;
  hub: AlertSource;
  log: Logger;
  metrics?: Metrics;
  /** The product's general audit log: playbook changes are noted there too. */
  audit?: (e: { action: string; actor: string | null; details: Record<string, unknown> }) => void;
  /** Packets of an alert as evidence (the packet store), when packets are recorded. */
  pcapEvidence?: (a: AlertRecord) => Promise<Record<string, unknown>>;
  /** The packet broker (for `broker` adapters); a getter, as the product makes it later. */
  broker?: () => BrokerBlocks | null;
  /** Clock, for tests of expiry. */
  now?: () => number;
}

export interface Voter {
  name: string;
  role: string;
}

export interface From {
  ip: string;
  user_agent: string;
}

export interface PlannedStep {
  step: string;
  type: string;
  summary: string;
  calls: PlannedCall[];
}

const MAX_TIMER = 3_600_000;

/**
 * The response stage: playbooks triggered by alerts, run step by step with every state change
 * persisted and audited, so a restart resumes where the last one stopped. Built inert;
 * `start()` loads playbooks and runs and begins listening to the hub; `stop()` ends it.
 */
export class Responder {
  readonly repo: PlaybookRepo;
  readonly runs: RunFiles;
  readonly audit: ResponseAudit;
  readonly signer: LinkSigner;
  readonly adapters: Map<string, ActionAdapter>;
  readonly counters = { triggered: 0, succeeded: 0, failed: 0, denied: 0, stepRetries: 0 };
  private readonly matchers = new Map<string, { text: string; m: Matcher }>();
  private readonly driving = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly queue: (() => void)[] = [];
  private active = 0;
  private unsubscribe: (() => void) | null = null;
  private stopped = false;
  private readonly now: () => number;

  constructor(
    readonly cfg: ResponderConfig,
    private readonly deps: ResponderDeps,
  ) {
    const dir = join(deps.dataDir, 'respond');
    mkdirSync(dir, { recursive: true });
    this.adapters = new Map(cfg.adapters.map((a) => [a.name, a]));
    this.repo = new PlaybookRepo(join(dir, 'playbooks'), catalogOf(cfg.adapters));
    this.runs = new RunFiles(join(dir, 'runs'));
    this.audit = new ResponseAudit(join(dir, 'audit.jsonl'));
    this.signer = new LinkSigner(join(dir, 'link.key'));
    this.now = deps.now ?? Date.now;
  }

  async start(): Promise<void> {
    for (const a of this.adapters.values()) {
      if (a.kind === 'broker')
        (a as BrokerAdapter).bind(
          this.deps.broker?.() ?? null,
          join(this.deps.dataDir, 'respond', `broker-${a.name}.json`),
        );
    }
    for (const f of this.cfg.playbooks) {
      const e = this.repo.save(readFileSync(f, 'utf8'));
      this.deps.log.info('playbook loaded', { name: e.name, version: e.version, file: f });
    }
    this.unsubscribe = this.deps.hub.subscribe((a) => this.onAlert(a));
    for (const r of this.runs.all()) if (!TERMINAL.has(r.status)) this.kick(r.id);
    const m = this.deps.metrics;
    m?.collect(() => {
      const c = this.counters;
      m.set('vantage_respond_runs_triggered', 'Playbook runs started.', {}, c.triggered);
      m.set('vantage_respond_runs_succeeded', 'Playbook runs that completed.', {}, c.succeeded);
      m.set('vantage_respond_runs_failed', 'Playbook runs failed by a step.', {}, c.failed);
      m.set('vantage_respond_runs_denied', 'Playbook runs stopped by an approval.', {}, c.denied);
      m.set('vantage_respond_step_retries', 'Step attempts retried.', {}, c.stepRetries);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.driving.values()]);
  }

  // Triggers -------------------------------------------------------------------------------

  private matcher(pb: Playbook): Matcher {
    const have = this.matchers.get(pb.name);
    if (have && have.text === pb.trigger) return have.m;
    const m = compileMatcher(parseFilter(pb.trigger, alertRecord), alertRecord);
    this.matchers.set(pb.name, { text: pb.trigger, m });
    return m;
  }

  onAlert(a: AlertRecord): void {
    if (this.stopped) return;
    for (const name of this.repo.names()) {
      const e = this.repo.get(name);
      if (!e?.enabled) continue;
      try {
        if (this.matcher(e.playbook)(a as unknown as Record<string, unknown>))
          this.startRun(e.playbook, a, null);
      } catch (err) {
        this.deps.log.error('trigger failed', { playbook: name, error: String(err) });
      }
    }
  }

  /**
   * One run per playbook and alert: an alert is rewritten while its episode lasts, and each
   * rewrite passes the hub again; the run id is derived from both so it starts once, also
   * across restarts. A person starting a run by hand gets a new one each time.
   */
  startRun(pb: Playbook, alert: AlertRecord, actor: string | null): Run {
    const seed =
      actor === null ? `${pb.name}\n${alert.alert_id}` : `${pb.name}\n${alert.alert_id}\n${randomUUID()}`;
    const id = `r-${createHash('sha256').update(seed).digest('hex').slice(0, 24)}`;
    const existing = this.runs.load(id);
    if (existing) return existing;
    const now = new Date(this.now()).toISOString();
    const run: Run = {
      id,
      playbook: pb.name,
      version: pb.version,
      alert_id: alert.alert_id,
      alert,
      triggered_by: actor,
      status: 'running',
      created: now,
      updated: now,
      cursor: 0,
      steps: pb.steps.map((s) => ({
        id: s.id,
        type: s.type,
        status: 'pending',
        attempts: 0,
        started: null,
        ended: null,
        result: null,
        error: null,
        calls: [],
        wake_at: null,
        approval: null,
        undone: false,
      })),
      error: null,
      released: false,
    };
    this.runs.save(run);
    this.counters.triggered++;
    this.audit.append('trigger', {
      run_id: id,
      alert_id: alert.alert_id,
      actor,
      details: { playbook: pb.name, version: pb.version, trigger: pb.trigger, title: alert.title },
    });
    this.kick(id);
    return run;
  }

  // Driving runs ---------------------------------------------------------------------------

  /** Make a run progress; one drive per run at a time, bounded drives overall. */
  kick(id: string): void {
    if (this.stopped) return;
    if (this.driving.has(id)) {
      this.again.add(id);
      return;
    }
    const p = this.slot()
      .then(() => this.drive(id))
      .catch((e: unknown) => {
        // A fault of the engine itself fails the run visibly rather than leaving it hanging.
        this.deps.log.error('run drive failed', { run: id, error: String(e) });
        const run = this.runs.load(id);
        if (run && !TERMINAL.has(run.status)) this.finish(run, 'failed', `engine: ${String(e)}`);
      })
      .finally(() => {
        this.active--;
        this.queue.shift()?.();
        this.driving.delete(id);
        if (this.again.delete(id)) this.kick(id);
      });
    this.driving.set(id, p);
  }

  private slot(): Promise<void> {
    if (this.active < this.cfg.maxConcurrent) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((r) =>
      this.queue.push(() => {
        this.active++;
        r();
      }),
    );
  }

  private playbookOf(run: Run): Playbook {
    const e = this.repo.get(run.playbook, run.version);
    if (!e) throw new Error(`playbook ${run.playbook} v${run.version} is gone`);
    return e.playbook;
  }

  scope(run: Run): TemplateScope {
    const steps: Record<string, unknown> = {};
    for (const s of run.steps)
      if (s.status === 'done') steps[s.id] = { status: s.status, ...(s.result ?? {}) };
    return {
      alert: run.alert as unknown as Record<string, unknown>,
      steps,
      run: {
        id: run.id,
        playbook: run.playbook,
        version: run.version,
        alert_id: run.alert_id,
        url: this.consoleUrl(run),
      },
    };
  }

  consoleUrl(run: Run): string {
    return `${this.cfg.publicUrl.replace(/\/+$/, '')}/#/runs/${run.id}`;
  }

  private async drive(id: string): Promise<void> {
    let run = this.runs.load(id);
    if (!run || TERMINAL.has(run.status)) return;
    const pb = this.playbookOf(run);
    for (;;) {
      if (this.stopped) return;
      run = this.runs.load(id)!;
      if (TERMINAL.has(run.status)) return;
      const step = pb.steps[run.cursor];
      if (!step) return this.finish(run, 'succeeded', null);
      const st = run.steps[run.cursor]!;
      if (st.status === 'pending') {
        st.status = 'running';
        st.started = new Date(this.now()).toISOString();
        this.persist(run);
        this.audit.append('step.start', {
          run_id: id,
          alert_id: run.alert_id,
          details: { step: step.id, type: step.type },
        });
      }
      const out = await this.execute(run, step, st);
      run = this.runs.load(id)!;
      if (TERMINAL.has(run.status)) return;
      const cur = run.steps[run.cursor]!;
      if (out.kind === 'wait') {
        if (cur.status !== 'waiting' || cur.wake_at !== out.until) {
          cur.status = 'waiting';
          cur.wake_at = out.until;
          if (out.approval) cur.approval = out.approval;
          run.status = 'waiting';
          this.persist(run);
        }
        this.wakeAt(id, Date.parse(out.until));
        return;
      }
      if (out.kind === 'fail') {
        cur.status = 'failed';
        cur.error = out.error;
        cur.ended = new Date(this.now()).toISOString();
        this.persist(run);
        this.audit.append('step.failed', {
          run_id: id,
          alert_id: run.alert_id,
          details: { step: step.id, error: out.error },
        });
        return this.finish(run, 'failed', `step ${step.id}: ${out.error}`);
      }
      cur.status = 'done';
      cur.result = out.result;
      if ('calls' in out && out.calls) cur.calls = out.calls;
      cur.error = null;
      cur.wake_at = null;
      cur.ended = new Date(this.now()).toISOString();
      run.status = 'running';
      this.audit.append('step.done', {
        run_id: id,
        alert_id: run.alert_id,
        details: { step: step.id, type: step.type, result: out.result },
      });
      if (out.kind === 'stop') {
        this.persist(run);
        return this.finish(run, out.status, out.error ?? null);
      }
      const goto = out.kind === 'goto' ? out.to : step.next;
      if (goto === 'end') {
        run.cursor = pb.steps.length;
      } else if (goto !== undefined) {
        const to = pb.steps.findIndex((s) => s.id === goto);
        for (let i = run.cursor + 1; i < to; i++) run.steps[i]!.status = 'skipped';
        run.cursor = to;
      } else run.cursor++;
      this.persist(run);
    }
  }

  /**
   * Save a run the drive holds, keeping what others wrote meanwhile: a cancel, and votes on
   * an approval (the API decides while the drive may be sending the request's notifications).
   */
  persist(run: Run): void {
    const disk = this.runs.load(run.id);
    if (disk) {
      if (disk.status === 'cancelled') run.status = 'cancelled';
      disk.steps.forEach((d, i) => {
        const mine = run.steps[i];
        if (!mine || !d.approval) return;
        if (
          !mine.approval ||
          d.approval.votes.length > mine.approval.votes.length ||
          (d.approval.outcome && !mine.approval.outcome)
        )
          mine.approval = d.approval;
      });
    }
    this.runs.save(run);
  }

  private finish(run: Run, status: Run['status'], error: string | null): void {
    run.status = status;
    run.error = error;
    this.persist(run);
    if (status === 'succeeded') this.counters.succeeded++;
    if (status === 'failed') this.counters.failed++;
    if (status === 'denied') this.counters.denied++;
    this.audit.append('run.end', { run_id: run.id, alert_id: run.alert_id, details: { status, error } });
  }

  private wakeAt(id: string, atMs: number): void {
    clearTimeout(this.timers.get(id));
    const ms = Math.max(0, Math.min(MAX_TIMER, atMs - this.now()));
    const t = setTimeout(() => {
      this.timers.delete(id);
      this.kick(id);
    }, ms);
    t.unref();
    this.timers.set(id, t);
  }

  /** One step, with retries and backoff for steps that act; waiting steps come back later. */
  private async execute(run: Run, step: Step, st: StepState): Promise<StepOutcome> {
    const kind = STEP_KINDS[step.type];
    const ctx: StepContext = {
      run,
      step,
      state: st,
      scope: this.scope(run),
      responder: this,
      store: this.deps.store,
      now: this.now,
      ...(this.deps.pcapEvidence && { pcapEvidence: this.deps.pcapEvidence }),
    };
    if (!kind.acts) return kind.run(ctx);
    for (;;) {
      st.attempts++;
      this.persist(run);
      try {
        return await withTimeout(kind.run(ctx), step.timeoutMs, step.id);
      } catch (e) {
        const error = (e as Error).message;
        this.audit.append('step.error', {
          run_id: run.id,
          alert_id: run.alert_id,
          details: { step: step.id, attempt: st.attempts, error },
        });
        if (st.attempts > step.retries || this.stopped) return { kind: 'fail', error };
        this.counters.stepRetries++;
        st.error = error;
        this.persist(run);
        await new Promise((r) => setTimeout(r, this.cfg.backoffMs * 2 ** (st.attempts - 1)));
      }
    }
  }

  // Approvals ------------------------------------------------------------------------------

  pendingApprovals(): { run: Run; step: StepState; approval: ApprovalState }[] {
    const out: { run: Run; step: StepState; approval: ApprovalState }[] = [];
    for (const r of this.runs.all()) {
      if (TERMINAL.has(r.status)) continue;
      for (const s of r.steps)
        if (s.approval && s.approval.outcome === null) out.push({ run: r, step: s, approval: s.approval });
    }
    return out;
  }

  findApproval(id: string): { run: Run; step: StepState; approval: ApprovalState } | null {
    const i = id.lastIndexOf('.');
    if (i < 0) return null;
    const run = this.runs.load(id.slice(0, i));
    const step = run?.steps.find((s) => s.id === id.slice(i + 1));
    if (!run || !step?.approval) return null;
    return { run, step, approval: step.approval };
  }

  /** Who may decide, checked on every path (link, API, console). */
  private mayDecide(a: ApprovalState, v: Voter): string | null {
    if (v.role !== 'analyst' && v.role !== 'admin') return `the ${v.role} role cannot approve`;
    if (a.excluded.includes(v.name))
      return `${v.name} triggered or owns this alert and cannot approve its response (four eyes)`;
    const byRole = a.roles.includes(v.role) || (v.role === 'admin' && a.roles.includes('analyst'));
    if (!byRole && !a.users.includes(v.name)) return `${v.name} is not among the approvers of this request`;
    if (a.votes.some((x) => x.who === v.name)) return `${v.name} has already decided`;
    return null;
  }

  decide(
    id: string,
    v: Voter,
    decision: 'approve' | 'deny',
    from: From & { via: 'link' | 'api' },
    nonce?: string,
  ): ApprovalState {
    const found = this.findApproval(id);
    if (!found) throw new UserError(404, `no approval '${id.slice(0, 100)}'`);
    const { run, step, approval: a } = found;
    if (a.outcome !== null || TERMINAL.has(run.status))
      throw new UserError(409, `this approval is already decided (${a.outcome ?? run.status})`);
    if (this.now() >= Date.parse(a.expires_at)) throw new UserError(410, 'this approval request has expired');
    if (nonce !== undefined && a.used.includes(nonce)) throw new UserError(409, 'this link was already used');
    const why = this.mayDecide(a, v);
    if (why) {
      this.audit.append('approval.refused', {
        run_id: run.id,
        alert_id: run.alert_id,
        actor: v.name,
        details: { approval: id, reason: why, ...from },
      });
      throw new UserError(403, why);
    }
    const vote: Vote = {
      who: v.name,
      role: v.role,
      decision,
      at: new Date(this.now()).toISOString(),
      ...from,
    };
    a.votes.push(vote);
    if (nonce !== undefined) a.used.push(nonce);
    if (decision === 'deny') a.outcome = 'denied';
    else if (a.votes.filter((x) => x.decision === 'approve').length >= a.quorum) a.outcome = 'approved';
    // The vote is on disk (run file and audit line) before anything acts on it.
    this.runs.save(run);
    this.audit.append('approval.vote', {
      run_id: run.id,
      alert_id: run.alert_id,
      actor: v.name,
      details: { approval: id, step: step.id, ...vote, outcome: a.outcome },
    });
    if (a.outcome !== null) this.kick(run.id);
    return a;
  }

  /** A decision through a signed link: the link names the person; their role comes from the config. */
  decideByLink(
    id: string,
    q: { u: string; d: string; e: string; n: string; s: string },
    from: From,
  ): ApprovalState {
    if (!this.signer.verify(id, q))
      throw new UserError(403, 'this link is not valid (signature does not match)');
    if (Number(q.e) * 1000 <= this.now()) throw new UserError(410, 'this link has expired');
    const person = this.cfg.approvers.find((p) => p.name === q.u);
    if (!person) throw new UserError(403, `${q.u} is no longer an approver`);
    if (q.d !== 'approve' && q.d !== 'deny') throw new UserError(400, 'd: approve or deny');
    return this.decide(id, { name: person.name, role: person.role }, q.d, { ...from, via: 'link' }, q.n);
  }

  // Runs: cancel, release ------------------------------------------------------------------

  cancel(id: string, actor: string): Run {
    const run = this.runs.load(id);
    if (!run) throw new UserError(404, `no run '${id.slice(0, 100)}'`);
    if (TERMINAL.has(run.status)) throw new UserError(409, `the run has ended (${run.status})`);
    clearTimeout(this.timers.get(id));
    run.status = 'cancelled';
    run.error = `cancelled by ${actor}`;
    this.runs.save(run);
    this.audit.append('run.cancel', { run_id: id, alert_id: run.alert_id, actor });
    return run;
  }

  /** Undo every isolation the run put in place (newest first); a ticket it opened gets a note. */
  async release(id: string, actor: string): Promise<Run> {
    const run = this.runs.load(id);
    if (!run) throw new UserError(404, `no run '${id.slice(0, 100)}'`);
    const pb = this.playbookOf(run);
    const done = run.steps.filter((s) => s.type === 'isolate' && s.status === 'done' && !s.undone);
    if (done.length === 0) throw new UserError(409, 'this run has no isolation in place');
    for (const s of done.reverse()) {
      const step = pb.steps.find((x) => x.id === s.id)!;
      const ad = this.adapters.get(String(step.f.via));
      if (!ad?.undo) throw new UserError(409, `adapter ${String(step.f.via)} has no undo`);
      await ad.undo({ key: `${run.id}.${s.id}`, params: { host: s.result?.host } }, s.result ?? {});
      s.undone = true;
      this.runs.save(run);
      this.audit.append('release', {
        run_id: id,
        alert_id: run.alert_id,
        actor,
        details: { step: s.id, adapter: ad.name, host: s.result?.host },
      });
    }
    run.released = true;
    this.runs.save(run);
    for (const t of run.steps.filter(
      (s) => s.type === 'ticket' && s.status === 'done' && typeof s.result?.sys_id === 'string',
    )) {
      const step = pb.steps.find((x) => x.id === t.id)!;
      const ad = this.adapters.get(String(step.f.via));
      if (ad?.kind !== 'servicenow') continue;
      try {
        await ad.apply({
          key: `${run.id}.${t.id}.release`,
          params: {
            sys_id: t.result?.sys_id,
            work_notes: `Isolation released by ${actor} (Vantage run ${run.id}).`,
          },
        });
      } catch (e) {
        this.deps.log.warn('ticket note on release failed', { run: id, error: String(e) });
      }
    }
    return run;
  }

  // Dry run --------------------------------------------------------------------------------

  /** What each step would do for this alert, rendered, taking none. Approvals count as given. */
  plan(pb: Playbook, alert: AlertRecord): PlannedStep[] {
    const run: Run = {
      id: 'r-dry-run',
      playbook: pb.name,
      version: pb.version,
      alert_id: alert.alert_id,
      alert,
      triggered_by: null,
      status: 'running',
      created: '',
      updated: '',
      cursor: 0,
      steps: [],
      error: null,
      released: false,
    };
    const scope = this.scope(run);
    const out: PlannedStep[] = [];
    let i = 0;
    while (i < pb.steps.length) {
      const step = pb.steps[i]!;
      const p = STEP_KINDS[step.type].plan({ step, scope, responder: this, run });
      out.push({ step: step.id, type: step.type, summary: p.summary, calls: p.calls });
      const goto = p.goto ?? step.next;
      if (goto === 'end') break;
      i = goto !== undefined ? pb.steps.findIndex((s) => s.id === goto) : i + 1;
    }
    return out;
  }

  renderFor(run: Run, v: unknown): unknown {
    return render(v, this.scope(run));
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`step ${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

/** The integrator's one call for `vantage start`: build inert, then `start()`. */
export function createResponder(cfg: ResponderConfig, deps: ResponderDeps): Responder {
  return new Responder(cfg, deps);
}
