import { bySeverity } from '../alerts';
import { qs, type TopItem } from '../api';
import { int } from '../format';
import { href } from '../router';
import { useJson, useTime } from '../state';
import { Panel } from './Status';

const OPEN = 'status in ("new", "acknowledged")';

/** Open alerts per severity band in the time range; each band opens the Alerts page on it. */
export function OpenAlerts() {
  const { resolved, tick } = useTime();
  const q = useJson<{ items: TopItem[] }>(
    `/api/v1/top${qs({ type: 'alert', dim: 'severity_label', by: 'flows', limit: 10, filter: OPEN, after: resolved.after, before: resolved.before })}`,
    tick,
  );
  const bands = q.data ? bySeverity(q.data.items) : null;
  const total = bands?.reduce((s, b) => s + b.count, 0) ?? 0;
  return (
    <Panel
      title={<a href={href('/alerts', { status: 'open' })}>Open alerts</a>}
      loading={q.loading}
      error={q.error}
      onRetry={q.reload}
      testId="open-alerts"
    >
      {bands && (
        <>
          <p data-testid="open-alerts-total" data-value={total}>
            <a href={href('/alerts', { status: 'open' })}>
              {int(total)} open alert{total === 1 ? '' : 's'}
            </a>
          </p>
          <ul className="sev-counts">
            {bands.map((b) => (
              <li key={b.label} data-key={b.label} data-value={b.count}>
                <a
                  href={href('/alerts', { status: 'open', filter: `severity_label = "${b.label}"` })}
                  className={b.count ? undefined : 'muted'}
                >
                  <span className={`sev sev-${b.label}`}>{b.label}</span>{' '}
                  <span className="num">{int(b.count)}</span>
                </a>
              </li>
            ))}
          </ul>
        </>
      )}
    </Panel>
  );
}
