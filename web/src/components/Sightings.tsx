import { SEVERITY_BANDS } from '../alerts';
import { type Page, qs } from '../api';
import { PROTOS, time } from '../format';
import type { Sighting } from '../intel';
import { href } from '../router';
import { useJson, useSession, useTime } from '../state';
import { ErrorBox } from './Status';

export function SeverityBadge({ value }: { value: number }) {
  const band = SEVERITY_BANDS.find((b) => value >= b.min)?.label ?? 'info';
  return (
    <span className={`sev sev-${band}`} title={`Severity ${value}`}>
      {band}
    </span>
  );
}

const hostLink = (ip: string | null) =>
  ip ? <a href={href(`/host/${encodeURIComponent(ip)}`)}>{ip}</a> : <span className="muted">–</span>;

/** Sighting rows as a table: what matched, where, between whom, and a link to the flow. */
export function SightingRows({ items, testId }: { items: Sighting[]; testId?: string }) {
  if (items.length === 0) return <p className="empty">No sightings.</p>;
  return (
    <div className="table-wrap">
      <table className="grid-table" data-testid={testId}>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Indicator</th>
            <th scope="col">Severity</th>
            <th scope="col">Sources</th>
            <th scope="col">Matched</th>
            <th scope="col">Our host</th>
            <th scope="col">Connection</th>
            <th scope="col">Record</th>
          </tr>
        </thead>
        <tbody>
          {items.map((s, i) => (
            <tr
              // biome-ignore lint/suspicious/noArrayIndexKey: sightings have no id of their own
              key={i}
              data-indicator={s.indicator_value}
              data-host={s.host ?? ''}
              data-retro={s.retro ? 'true' : 'false'}
            >
              <td>{time(s.ts)}</td>
              <td>
                <a href={href('/intel', { q: s.indicator_value })}>{s.indicator_value}</a>{' '}
                <span className="muted small">{s.indicator_type}</span>
                {s.retro && (
                  <span className="badge" title="Found by a retro-hunt over stored history">
                    retro
                  </span>
                )}
              </td>
              <td>
                <SeverityBadge value={s.severity} />
              </td>
              <td>{s.sources.join(', ')}</td>
              <td>
                <span className="muted">{s.matched_field}</span> {s.matched_value}
              </td>
              <td>{hostLink(s.host)}</td>
              <td>
                {hostLink(s.client_ip)} → {hostLink(s.server_ip)}
                {s.server_port !== null ? `:${s.server_port}` : ''}{' '}
                <span className="muted">{s.proto !== null ? (PROTOS[s.proto] ?? s.proto) : ''}</span>
              </td>
              <td>
                {s.record_type === 'flow' || (s.record_id && /^\d+$/.test(s.record_id)) ? (
                  <a href={href(`/flow/${encodeURIComponent(s.record_id ?? '')}`)}>
                    {s.record_type} {s.record_id}
                  </a>
                ) : (
                  `${s.record_type} ${s.record_id ?? ''}`
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The latest sightings matching a filter, in the shared time range (or all time when `allTime`). */
export function SightingTable({
  filter,
  limit = 25,
  testId,
  allTime = false,
}: {
  filter: string;
  limit?: number;
  testId?: string;
  allTime?: boolean;
}) {
  const { types } = useSession();
  const { resolved, tick } = useTime();
  const t = types.find((x) => x.type === 'sighting');
  const q = useJson<Page>(
    t
      ? `${t.path}${qs({
          filter,
          limit,
          sort: 'ts',
          order: 'desc',
          after: allTime ? undefined : resolved.after,
          before: allTime ? undefined : resolved.before,
        })}`
      : null,
    tick,
  );
  if (!t) return <p className="empty">This server keeps no sighting records (no threat intel).</p>;
  return (
    <div aria-busy={q.loading || undefined}>
      <ErrorBox error={q.error} onRetry={q.reload} />
      {q.data && (
        <SightingRows items={q.data.items as unknown as Sighting[]} {...(testId ? { testId } : {})} />
      )}
      {q.data?.next && (
        <p className="muted">
          The latest {limit} are shown; <a href={href('/records/sighting', { filter })}>see every sighting</a>
          .
        </p>
      )}
    </div>
  );
}
