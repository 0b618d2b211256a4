/** Monitors as the console reads them, and the rule syntax explained while it is typed. */

import { ms, pct, si } from './format';

export type RuleStateName = 'ok' | 'firing' | 'no_data' | 'learning';

export interface RuleState {
  rule: string;
  state: RuleStateName;
  value: number | null;
  threshold: number | null;
  since: string | null;
  alert_id: string | null;
}

export interface Monitor {
  name: string;
  filter: string;
  rules: string[];
  description?: string;
  severity?: number;
  enabled?: boolean;
  state: RuleState[];
  evaluated: string | null;
}

export const STATE_LABEL: Record<RuleStateName, string> = {
  ok: 'OK',
  firing: 'Firing',
  no_data: 'No data',
  learning: 'Learning',
};

/** The monitor's worst rule state: firing, then no data, learning, ok. */
export function worstState(m: Pick<Monitor, 'state' | 'enabled'>): RuleStateName | 'disabled' {
  if (m.enabled === false) return 'disabled';
  for (const s of ['firing', 'no_data', 'learning'] as const)
    if (m.state.some((r) => r.state === s)) return s;
  return 'ok';
}

// The server's grammar (src/detect/monitors/rules.ts), kept in step by the unit tests.
export const METRICS = ['bps', 'pps', 'flows', 'rtt_ms', 'srt_ms', 'retrans_rate'] as const;
export const STATS = ['mean', 'p50', 'p90', 'p95', 'p99', 'max'] as const;
const PER_FLOW = ['rtt_ms', 'srt_ms'];
const OPS = ['>=', '<=', '>', '<'] as const;

export interface ParsedRule {
  metric: (typeof METRICS)[number];
  stat: (typeof STATS)[number];
  op: (typeof OPS)[number];
  value: number;
  baseline: boolean;
  forSeconds: number;
}

export const RULE_EXAMPLES = ['rtt_ms p95 > 100 for 5m', 'bps > 3 x baseline for 10m', 'flows < 1 for 15m'];

const METRIC_WORDS: Record<string, string> = {
  bps: 'traffic (bits/s)',
  pps: 'packets/s',
  flows: 'new flows/s',
  rtt_ms: 'handshake RTT (ms)',
  srt_ms: 'server response time (ms)',
  retrans_rate: 'retransmission rate (0–1)',
};
const OP_WORDS: Record<string, string> = {
  '>': 'above',
  '>=': 'at or above',
  '<': 'below',
  '<=': 'at or below',
};

function seconds(s: string): number | null {
  const m = /^(\d{1,6})(s|m|h|d)$/.exec(s);
  if (!m) return null;
  const v = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's'];
  return v > 0 ? v : null;
}

export function duration(sec: number): string {
  if (sec % 86400 === 0) return `${sec / 86400} d`;
  if (sec % 3600 === 0) return `${sec / 3600} h`;
  if (sec % 60 === 0) return `${sec / 60} min`;
  return `${sec} s`;
}

/** Parse a rule as the server does; the error says what to write instead. */
export function parseRule(text: string): { rule: ParsedRule } | { error: string } {
  const src = text.trim();
  if (src.length === 0) return { error: `write a rule such as "${RULE_EXAMPLES[0]}"` };
  if (src.length > 200) return { error: 'a rule is at most 200 characters' };
  const words = src
    .replace(/×/g, ' x ')
    .replace(/(>=|<=|>|<)/g, ' $1 ')
    .split(/\s+/)
    .filter(Boolean);
  let i = 0;
  const metric = words[i++] as ParsedRule['metric'];
  if (!METRICS.includes(metric)) return { error: `'${words[0]}' is not a metric; use ${METRICS.join(', ')}` };
  let stat: ParsedRule['stat'] = 'mean';
  if (STATS.includes(words[i] as ParsedRule['stat'])) {
    stat = words[i++] as ParsedRule['stat'];
    if (stat !== 'mean' && !PER_FLOW.includes(metric))
      return { error: `${stat} applies to rtt_ms and srt_ms, not to ${metric}` };
  }
  const op = words[i++] as ParsedRule['op'];
  if (!OPS.includes(op)) return { error: `expected >, >=, < or <= after '${metric}'` };
  const value = Number(words[i++]);
  if (!Number.isFinite(value) || value < 0)
    return { error: 'expected a number (0 or more) after the comparison' };
  let baseline = false;
  if (words[i] === 'x' || words[i] === '*') {
    if (words[i + 1] !== 'baseline') return { error: `expected 'baseline' after '${words[i]}'` };
    baseline = true;
    i += 2;
  }
  let forSeconds = 60;
  if (words[i] === 'for') {
    const d = seconds(words[i + 1] ?? '');
    if (d === null || d < 10 || d > 86_400)
      return { error: "expected a duration from 10s to 1d after 'for' (5m, 1h)" };
    forSeconds = d;
    i += 2;
  }
  if (i < words.length) return { error: `unexpected '${words[i]}' at the end of the rule` };
  return { rule: { metric, stat, op, value, baseline, forSeconds } };
}

/** The rule in words, for the help line under the rule being typed. */
export function explainRule(r: ParsedRule): string {
  const what = `${r.stat === 'mean' ? '' : `the ${r.stat} of `}${METRIC_WORDS[r.metric]}`;
  const limit = r.baseline ? `${r.value} × its usual level (the day before)` : String(r.value);
  return `Fires when ${what} stays ${OP_WORDS[r.op]} ${limit} for ${duration(r.forSeconds)}.`;
}

/** The KPI query of a rule's chart: its metric, and the percentile for per-flow metrics. */
export function ruleKpi(text: string): { metric: string; stat: string | undefined } | null {
  const p = parseRule(text);
  if ('error' in p) return null;
  return { metric: p.rule.metric, stat: p.rule.stat === 'mean' ? undefined : p.rule.stat };
}

/**
 * The threshold a rule's chart draws: the one the server last evaluated (a baseline rule's
 * depends on yesterday's traffic), else the rule's own number when it is absolute.
 */
export function thresholdOf(rule: string, state: RuleState | undefined): number | null {
  if (state?.threshold !== null && state?.threshold !== undefined) return state.threshold;
  const p = parseRule(rule);
  return 'rule' in p && !p.rule.baseline ? p.rule.value : null;
}

const FORMAT: Record<string, (v: number | null | undefined) => string> = {
  bps: (v) => si(v, 'b/s'),
  pps: (v) => si(v, 'p/s'),
  flows: (v) => si(v, '/s'),
  rtt_ms: ms,
  srt_ms: ms,
  retrans_rate: pct,
};

/** How a rule's values and threshold read: in the unit of its metric. */
export function ruleFormat(rule: string): (v: number | null | undefined) => string {
  return FORMAT[ruleKpi(rule)?.metric ?? ''] ?? ((v) => si(v));
}
