import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alertId, alertRecordOf, isoMs } from '../../common/alerts.js';
import { UserError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { AlertRecord } from '../../schema/alert.js';
import { flowRecord } from '../../schema/records.js';
import { type Cond, FilterError, parseFilter } from '../../store/filter.js';
import type { RecordStore } from '../../store/types.js';
import { compare, type MonitorRule, parseRule, RuleError } from './rules.js';

/**
 * Network monitors: a named flow filter with its KPIs and threshold rules, evaluated on the
 * stored flows every `intervalMs`. A rule that holds over its whole window raises an alert of
 * category threshold; the alert is updated while the rule holds and closed when it stops.
 */
export interface MonitorSpec {
  name: string;
  /** Filter over flow fields; '' for all traffic. */
  filter: string;
  rules: string[];
  description?: string;
  /** 0–100 (default 60). */
  severity?: number;
  enabled?: boolean;
}

export interface RuleState {
  rule: string;
  state: 'ok' | 'firing' | 'no_data' | 'learning';
  /** The last evaluation's value and threshold. */
  value: number | null;
  threshold: number | null;
  since: string | null;
  alert_id: string | null;
}

export interface MonitorView extends MonitorSpec {
  state: RuleState[];
  evaluated: string | null;
}

export interface MonitorsDeps {
  dataDir: string;
  store: RecordStore;
  emit: (a: AlertRecord) => void;
  sensor: string;
  log: Logger;
}

export interface MonitorsConfig {
  intervalMs: number;
  /** The baseline of `x baseline` rules: mean over this long before the rule's window. */
  baselineMs: number;
  maxMonitors: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const STEP_MS = 60_000;

interface Compiled {
  spec: MonitorSpec;
  filter: Cond | null;
  rules: MonitorRule[];
  state: RuleState[];
  firing: (AlertRecord | null)[];
  evaluated: number | null;
}

/** Check a monitor; errors say which part is wrong. */
export function compileMonitor(spec: unknown): {
  spec: MonitorSpec;
  filter: Cond | null;
  rules: MonitorRule[];
} {
  const bad = (msg: string): never => {
    throw new UserError(400, msg);
  };
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec))
    return bad('a monitor is a JSON object');
  const s = spec as Record<string, unknown>;
  for (const k of Object.keys(s)) {
    if (!['name', 'filter', 'rules', 'description', 'severity', 'enabled'].includes(k)) {
      bad(
        `unknown key '${k.slice(0, 32)}'; a monitor has name, filter, rules, description, severity, enabled`,
      );
    }
  }
  if (typeof s.name !== 'string' || !NAME.test(s.name))
    bad('name: 1 to 64 letters, digits, dot, dash or underscore, starting with a letter or digit');
  if (s.filter !== undefined && (typeof s.filter !== 'string' || s.filter.length > 4096))
    bad('filter: a filter over flow fields of at most 4096 characters');
  if (s.rules !== undefined && (!Array.isArray(s.rules) || s.rules.length > 16))
    bad('rules: a list of at most 16 rules such as "rtt_ms p95 > 100 for 5m"');
  if (s.description !== undefined && (typeof s.description !== 'string' || s.description.length > 1024))
    bad('description: text of at most 1024 characters');
  if (
    s.severity !== undefined &&
    (typeof s.severity !== 'number' || !Number.isInteger(s.severity) || s.severity < 0 || s.severity > 100)
  )
    bad('severity: an integer from 0 to 100');
  if (s.enabled !== undefined && typeof s.enabled !== 'boolean') bad('enabled: true or false');
  let filter: Cond | null = null;
  try {
    filter = parseFilter(String(s.filter ?? ''), flowRecord);
  } catch (e) {
    if (e instanceof FilterError)
      throw new UserError(400, `filter: ${e.message}`, { position: e.position, expected: e.expected });
    throw e;
  }
  const texts = (s.rules as unknown[] | undefined) ?? [];
  const rules = texts.map((r, i) => {
    if (typeof r !== 'string') return bad(`rules[${i}]: a rule is text such as "bps > 3 x baseline for 10m"`);
    try {
      return parseRule(r);
    } catch (e) {
      if (e instanceof RuleError) return bad(`rules[${i}]: ${e.message}`);
      throw e;
    }
  });
  const out: MonitorSpec = {
    name: s.name as string,
    filter: String(s.filter ?? ''),
    rules: texts as string[],
  };
  if (s.description !== undefined) out.description = s.description as string;
  if (s.severity !== undefined) out.severity = s.severity as number;
  if (s.enabled !== undefined) out.enabled = s.enabled as boolean;
  return { spec: out, filter, rules };
}

export class Monitors {
  private readonly cfg: MonitorsConfig;
  private readonly byName = new Map<string, Compiled>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: MonitorsDeps,
    cfg: Partial<MonitorsConfig> = {},
  ) {
    this.cfg = { intervalMs: 30_000, baselineMs: 86_400_000, maxMonitors: 200, ...cfg };
  }

  private get path(): string {
    return join(this.deps.dataDir, 'monitors.json');
  }

  start(): void {
    if (existsSync(this.path)) {
      const saved = JSON.parse(readFileSync(this.path, 'utf8')) as { monitors: unknown[] };
      for (const m of saved.monitors) {
        try {
          this.install(compileMonitor(m));
        } catch (e) {
          this.deps.log.warn('saved monitor ignored', { error: (e as Error).message });
        }
      }
    }
    this.timer = setInterval(() => void this.evaluate(Date.now()), this.cfg.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  list(): MonitorView[] {
    return [...this.byName.values()].map((c) => this.view(c));
  }

  get(name: string): MonitorView | null {
    const c = this.byName.get(name);
    return c ? this.view(c) : null;
  }

  /** Create or replace a monitor; returns it. */
  put(spec: unknown): MonitorView {
    const compiled = compileMonitor(spec);
    if (!this.byName.has(compiled.spec.name) && this.byName.size >= this.cfg.maxMonitors) {
      throw new UserError(409, `at most ${this.cfg.maxMonitors} monitors; remove one first`);
    }
    const c = this.install(compiled);
    this.save();
    return this.view(c);
  }

  remove(name: string): boolean {
    const c = this.byName.get(name);
    if (!c) return false;
    this.byName.delete(name);
    this.save();
    // A firing rule of a removed monitor is closed, not left open forever.
    const now = Date.now();
    for (let i = 0; i < c.firing.length; i++) if (c.firing[i]) this.clear(c, i, now);
    return true;
  }

  /** Evaluate every monitor at `nowMs` (one evaluation at a time). */
  evaluate(nowMs: number): Promise<void> {
    const run = this.running.then(async () => {
      for (const c of this.byName.values()) {
        if (c.spec.enabled === false) continue;
        for (let i = 0; i < c.rules.length; i++) {
          try {
            await this.evaluateRule(c, i, nowMs);
          } catch (e) {
            this.deps.log.error('monitor evaluation failed', { monitor: c.spec.name, error: String(e) });
          }
        }
        c.evaluated = nowMs;
      }
    });
    this.running = run.catch(() => undefined);
    return run;
  }

  private install(m: ReturnType<typeof compileMonitor>): Compiled {
    const old = this.byName.get(m.spec.name);
    const c: Compiled = {
      ...m,
      state: m.rules.map((r) => ({
        rule: r.text,
        state: 'no_data',
        value: null,
        threshold: null,
        since: null,
        alert_id: null,
      })),
      firing: m.rules.map(() => null),
      evaluated: null,
    };
    // Rules that did not change keep their state (and their open alert).
    if (old) {
      old.rules.forEach((r, i) => {
        const j = m.rules.findIndex((x) => x.text === r.text);
        if (j >= 0) {
          c.state[j] = old.state[i]!;
          c.firing[j] = old.firing[i]!;
        } else if (old.firing[i]) this.clear(old, i, Date.now());
      });
    }
    this.byName.set(m.spec.name, c);
    return c;
  }

  private save(): void {
    mkdirSync(this.deps.dataDir, { recursive: true });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify({ monitors: [...this.byName.values()].map((c) => c.spec) }, null, 1));
    renameSync(tmp, this.path);
  }

  private view(c: Compiled): MonitorView {
    return {
      ...c.spec,
      state: c.state.map((s) => ({ ...s })),
      evaluated: c.evaluated === null ? null : isoMs(c.evaluated),
    };
  }

  private async evaluateRule(c: Compiled, i: number, nowMs: number): Promise<void> {
    const rule = c.rules[i]!;
    const st = c.state[i]!;
    const step = Math.min(STEP_MS, Math.max(10_000, Math.floor(rule.forMs / 5 / 10_000) * 10_000));
    const end = Math.floor(nowMs / step) * step;
    const start = end - Math.ceil(rule.forMs / step) * step;
    const series = await this.deps.store.timeseries({
      metric: rule.metric,
      stat: rule.stat,
      step: step / 1000,
      after: start * 1000,
      before: end * 1000,
      filter: c.filter,
    });
    const rate = rule.metric === 'bps' || rule.metric === 'pps' || rule.metric === 'flows';
    // Every bucket of the window counts: a rate with no flows is 0, a latency with none is unknown.
    const byTs = new Map((series.series[0]?.points ?? []).map(([t, v]) => [Date.parse(t), v]));
    const values: (number | null)[] = [];
    for (let t = start; t < end; t += step) values.push(byTs.get(t) ?? (rate ? 0 : null));
    let threshold = rule.value;
    if (rule.baseline) {
      const base = await this.deps.store.timeseries({
        metric: rule.metric,
        stat: rule.stat,
        // Buckets as wide as the rule's, aligned with its window: no partial bucket at the edge.
        step: step / 1000,
        after: (start - this.cfg.baselineMs) * 1000,
        before: start * 1000,
        filter: c.filter,
      });
      const pts = (base.series[0]?.points ?? []).map(([, v]) => v).filter((v): v is number => v !== null);
      if (pts.length === 0) {
        st.state = 'learning';
        st.value = null;
        st.threshold = null;
        return;
      }
      threshold = rule.value * (pts.reduce((a, b) => a + b, 0) / pts.length);
    }
    const known = values.filter((v): v is number => v !== null);
    st.value = known.length > 0 ? (known.at(-1) ?? null) : null;
    st.threshold = threshold;
    const holds =
      known.length === values.length &&
      known.length > 0 &&
      known.every((v) => compare(rule.op, v, threshold));
    if (holds) {
      if (!c.firing[i]) {
        const sev = c.spec.severity ?? 60;
        const first = start;
        const rec = alertRecordOf(
          {
            ts: end,
            first_ts: first,
            category: 'threshold',
            detector: `monitor.${c.spec.name}`,
            title: `${c.spec.name}: ${rule.text}`,
            severity: sev,
            confidence: 100,
          },
          this.deps.sensor,
          alertId([this.deps.sensor, 'monitor', c.spec.name, rule.text, first]),
        );
        c.firing[i] = rec;
        st.since = isoMs(first);
        st.alert_id = rec.alert_id;
      }
      const rec = c.firing[i]!;
      if (rec.last_ts !== isoMs(end)) rec.count++;
      // count: evaluations that found the rule holding.
      rec.last_ts = isoMs(end);
      rec.updated_ts = rec.last_ts;
      rec.evidence = this.evidence(c, rule, values, threshold, start, step, 'firing');
      st.state = 'firing';
      this.deps.emit({ ...rec });
    } else {
      if (c.firing[i])
        this.clear(c, i, end, this.evidence(c, rule, values, threshold, start, step, 'cleared'));
      st.state = known.length === 0 ? 'no_data' : 'ok';
      st.since = null;
      st.alert_id = null;
    }
  }

  private evidence(
    c: Compiled,
    rule: MonitorRule,
    values: (number | null)[],
    threshold: number,
    start: number,
    step: number,
    state: string,
  ): Record<string, unknown> {
    return {
      state,
      monitor: c.spec.name,
      filter: c.spec.filter,
      rule: rule.text,
      metric: rule.metric,
      stat: rule.stat,
      threshold,
      baseline: rule.baseline ? threshold / rule.value : null,
      window: { start: isoMs(start), step_s: step / 1000 },
      values,
    };
  }

  private clear(c: Compiled, i: number, nowMs: number, evidence?: Record<string, unknown>): void {
    const rec = c.firing[i];
    if (!rec) return;
    c.firing[i] = null;
    rec.updated_ts = isoMs(nowMs);
    rec.status = 'closed';
    rec.evidence = {
      ...(evidence ?? (rec.evidence as Record<string, unknown>)),
      state: 'cleared',
      cleared_ts: isoMs(nowMs),
    };
    this.deps.emit({ ...rec });
  }
}
