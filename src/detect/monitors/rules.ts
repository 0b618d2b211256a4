import { METRICS, type Metric, PER_FLOW_METRICS, SERIES_STATS, type SeriesStat } from '../../store/types.js';
import { parseDuration } from '../../store/values.js';

/**
 * A threshold rule of a monitor, written the way people say it:
 *
 *   rtt_ms p95 > 100 for 5m      the 95th percentile of handshake RTT above 100 ms for 5 minutes
 *   bps > 3 x baseline for 10m   traffic above three times its usual level for 10 minutes
 *   flows < 1 for 15m            nothing at all for a quarter of an hour
 *
 * The baseline is the mean of the same metric over the day before the rule's window.
 */
export interface MonitorRule {
  text: string;
  metric: Metric;
  stat: SeriesStat;
  op: '>' | '>=' | '<' | '<=';
  /** Absolute threshold, or the factor applied to the baseline. */
  value: number;
  baseline: boolean;
  forMs: number;
}

export class RuleError extends Error {}

const OPS = ['>=', '<=', '>', '<'] as const;

export function parseRule(text: string): MonitorRule {
  const src = text.trim();
  if (src.length === 0 || src.length > 200) throw new RuleError('a rule is 1 to 200 characters');
  const words = src
    .replace(/×/g, ' x ')
    .replace(/(>=|<=|>|<)/g, ' $1 ')
    .split(/\s+/)
    .filter(Boolean);
  let i = 0;
  const metric = words[i++] as Metric;
  if (!METRICS.includes(metric)) {
    throw new RuleError(`'${words[0]}' is not a metric; use one of ${METRICS.join(', ')}`);
  }
  let stat: SeriesStat = 'mean';
  if (SERIES_STATS.includes(words[i] as SeriesStat)) {
    stat = words[i++] as SeriesStat;
    if (stat !== 'mean' && !PER_FLOW_METRICS.includes(metric)) {
      throw new RuleError(`${stat} applies to ${PER_FLOW_METRICS.join(' and ')}, not to ${metric}`);
    }
  }
  const op = words[i++] as MonitorRule['op'];
  if (!OPS.includes(op))
    throw new RuleError(`expected >, >=, < or <= after '${metric}', found '${op ?? 'nothing'}'`);
  const num = Number(words[i++]);
  if (!Number.isFinite(num) || num < 0)
    throw new RuleError('expected a number (0 or more) after the comparison');
  let baseline = false;
  if (words[i] === 'x' || words[i] === '*') {
    if (words[i + 1] !== 'baseline') throw new RuleError(`expected 'baseline' after '${words[i]}'`);
    baseline = true;
    i += 2;
  }
  let forMs = 60_000;
  if (words[i] === 'for') {
    const d = parseDuration(words[i + 1] ?? '');
    if (d === null || d < 10 || d > 86_400)
      throw new RuleError("expected a duration from 10s to 1d after 'for' (5m, 1h)");
    forMs = d * 1000;
    i += 2;
  }
  if (i < words.length) throw new RuleError(`unexpected '${words[i]}' at the end of the rule`);
  return { text: src, metric, stat, op, value: num, baseline, forMs };
}

export function compare(op: MonitorRule['op'], v: number, threshold: number): boolean {
  switch (op) {
    case '>':
      return v > threshold;
    case '>=':
      return v >= threshold;
    case '<':
      return v < threshold;
    default:
      return v <= threshold;
  }
}
