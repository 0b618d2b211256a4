import { describe, expect, it } from 'vitest';
import {
  explainRule,
  parseRule,
  RULE_EXAMPLES,
  ruleFormat,
  ruleKpi,
  thresholdOf,
  worstState,
} from './monitors';

const explain = (t: string) => {
  const p = parseRule(t);
  return 'error' in p ? `error: ${p.error}` : explainRule(p.rule);
};

describe('monitor rule help', () => {
  it('explains the documented examples in words', () => {
    expect(RULE_EXAMPLES.map(explain)).toEqual([
      'Fires when the p95 of handshake RTT (ms) stays above 100 for 5 min.',
      'Fires when traffic (bits/s) stays above 3 × its usual level (the day before) for 10 min.',
      'Fires when new flows/s stays below 1 for 15 min.',
    ]);
    expect(explain('srt_ms max>=250')).toBe(
      'Fires when the max of server response time (ms) stays at or above 250 for 1 min.',
    );
    expect(explain('bps > 2 × baseline for 1h')).toMatch(/2 × its usual level .* for 1 h\.$/);
  });

  it('says what is wrong the way the server does', () => {
    expect(explain('')).toMatch(/^error: write a rule such as/);
    expect(explain('latency > 5')).toBe(
      "error: 'latency' is not a metric; use bps, pps, flows, rtt_ms, srt_ms, retrans_rate",
    );
    expect(explain('bps p95 > 5')).toBe('error: p95 applies to rtt_ms and srt_ms, not to bps');
    expect(explain('bps = 5')).toBe("error: expected >, >=, < or <= after 'bps'");
    expect(explain('bps > -1')).toMatch(/expected a number/);
    expect(explain('bps > 3 x normal')).toBe("error: expected 'baseline' after 'x'");
    expect(explain('bps > 3 for 5s')).toMatch(/from 10s to 1d/);
    expect(explain('bps > 3 for 2d')).toMatch(/from 10s to 1d/);
    expect(explain('bps > 3 for 5m now')).toBe("error: unexpected 'now' at the end of the rule");
  });

  it('charts the rule metric with its percentile and threshold', () => {
    expect(ruleKpi('rtt_ms p95 > 100 for 5m')).toEqual({ metric: 'rtt_ms', stat: 'p95' });
    expect(ruleKpi('bps > 1')).toEqual({ metric: 'bps', stat: undefined });
    expect(ruleKpi('nonsense')).toBeNull();
    const st = { rule: '', state: 'ok' as const, value: 5, threshold: 42, since: null, alert_id: null };
    expect(thresholdOf('bps > 3 x baseline', st)).toBe(42);
    expect(thresholdOf('bps > 3 x baseline', undefined)).toBeNull();
    expect(thresholdOf('rtt_ms p95 > 100', { ...st, threshold: null })).toBe(100);
    expect(ruleFormat('rtt_ms p95 > 100')(2)).toBe('2.00 ms');
    expect(ruleFormat('bps > 1')(2_500_000)).toBe('2.5 Mb/s');
    expect(ruleFormat('retrans_rate > 0.1')(0.1)).toBe('10.00 %');
  });

  it('shows a monitor by its worst rule', () => {
    const s = (state: 'ok' | 'firing' | 'no_data' | 'learning') => ({
      rule: '',
      state,
      value: null,
      threshold: null,
      since: null,
      alert_id: null,
    });
    expect(worstState({ state: [s('ok'), s('firing'), s('no_data')] })).toBe('firing');
    expect(worstState({ state: [s('learning'), s('no_data')] })).toBe('no_data');
    expect(worstState({ state: [] })).toBe('ok');
    expect(worstState({ state: [s('firing')], enabled: false })).toBe('disabled');
  });
});
