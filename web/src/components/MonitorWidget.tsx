import { ApiError, getJson } from '../api';
import { type Monitor, worstState } from '../monitors';
import { StateBadge } from '../pages/Monitors';
import { href } from '../router';
import { useLoad, useTime } from '../state';
import { MonitorChart } from './MonitorChart';
import { Empty, Panel } from './Status';

/** A dashboard widget: one monitor's state and its first rule's KPI (its main one) with the threshold. */
export function MonitorWidget({ name, title }: { name: string; title: string }) {
  const { tick } = useTime();
  const q = useLoad(name ? `monitor:${name}:${tick}` : null, (signal) =>
    getJson<Monitor>(`/api/v1/monitors/${encodeURIComponent(name)}`, signal).catch((e: unknown) => {
      // A deleted monitor is a state of the widget, not an error to retry.
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }),
  );
  const m = q.data;
  const rule = m?.rules[0];
  return (
    <Panel
      title={<a href={href('/monitors')}>{title || name}</a>}
      loading={q.loading}
      error={q.error}
      onRetry={q.reload}
      testId={`monitor-widget-${name}`}
      actions={m ? <StateBadge s={worstState(m)} /> : undefined}
    >
      {!name && <Empty>Pick a monitor in the dashboard's editor.</Empty>}
      {m === null && <Empty>There is no monitor "{name}" any more.</Empty>}
      {m && rule && (
        <>
          <p className="hint">
            <code>{rule}</code>
            {m.rules.length > 1 ? ` and ${m.rules.length - 1} more` : ''}
          </p>
          <MonitorChart filter={m.filter} rule={rule} state={m.state[0]} height={120} />
        </>
      )}
    </Panel>
  );
}
