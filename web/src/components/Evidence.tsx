import { type EvidenceShape, evidenceShapes, histogram } from '../alerts';
import { si } from '../format';
import { BarList } from './BarList';

const num = (v: number) => (Number.isInteger(v) ? v.toLocaleString('en-US') : si(v));

/** A beacon's inter-arrival times: regular check-ins stand out as one tall bar. */
function Intervals({ values }: { values: number[] }) {
  const bins = histogram(values);
  const max = Math.max(...bins.map((b) => b.count), 1);
  const mean = values.reduce((a, v) => a + v, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
  return (
    <figure className="evidence-fig" data-testid="evidence-intervals">
      <figcaption>
        Inter-arrival times ({values.length}): mean {num(mean)} s, deviation {num(sd)} s
      </figcaption>
      <ol className="histo" aria-label="Inter-arrival histogram">
        {bins.map((b) => (
          <li
            key={b.from}
            title={`${num(b.from)}–${num(b.to)} s: ${b.count}`}
            data-count={b.count}
            style={{ height: `${(b.count / max) * 100}%` }}
          >
            <span className="sr-only">
              {num(b.from)} to {num(b.to)} seconds: {b.count}
            </span>
          </li>
        ))}
      </ol>
      <div className="histo-axis muted" aria-hidden="true">
        <span>{num(bins[0]?.from ?? 0)} s</span>
        <span>{num(bins[bins.length - 1]?.to ?? 0)} s</span>
      </div>
    </figure>
  );
}

function Rate({ rate, baseline }: { rate: number; baseline: number }) {
  const max = Math.max(rate, baseline, 1e-9);
  const ratio = baseline > 0 ? rate / baseline : null;
  return (
    <figure className="evidence-fig" data-testid="evidence-rate">
      <figcaption>
        Rate against its baseline
        {ratio !== null ? `: ×${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(1)}` : ''}
      </figcaption>
      <ol className="bars">
        {(
          [
            ['rate', rate],
            ['baseline', baseline],
          ] as const
        ).map(([k, v]) => (
          <li key={k} data-key={k} data-value={v}>
            <div className="bar">
              <span className="bar-fill" style={{ width: `${(v / max) * 100}%` }} aria-hidden="true" />
              <span className="bar-key">{k}</span>
              <span className="bar-val">{num(v)}</span>
            </div>
          </li>
        ))}
      </ol>
    </figure>
  );
}

function Shape({ s }: { s: EvidenceShape }) {
  if (s.kind === 'intervals') return <Intervals values={s.values} />;
  if (s.kind === 'rate') return <Rate rate={s.rate} baseline={s.baseline} />;
  return (
    <figure className="evidence-fig" data-testid={`evidence-${s.field}`}>
      <figcaption>
        Fan-out: {s.items.length} {s.items.length === 1 ? s.field.replace(/s$/, '') : s.field}
        {s.total !== s.items.length ? `, ${s.total.toLocaleString('en-US')} in all` : ''}
      </figcaption>
      <BarList
        items={s.items.slice(0, 25).map((i) => ({ key: i.key, bytes: 0, packets: 0, flows: i.count }))}
        by="flows"
        label={`Fan-out over ${s.field}`}
      />
    </figure>
  );
}

function value(v: unknown): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return num(v);
  if (Array.isArray(v) && v.every((x) => typeof x !== 'object' || x === null)) return v.join(', ');
  return JSON.stringify(v, null, 1);
}

/** Why an alert was raised: drawn where its shape is known, a key/value table otherwise. */
export function Evidence({ evidence }: { evidence: Record<string, unknown> | null }) {
  const { shapes, rest } = evidenceShapes(evidence);
  if (shapes.length === 0 && rest.length === 0) return <p className="empty">No evidence recorded.</p>;
  return (
    <div className="evidence">
      {shapes.map((s) => (
        <Shape key={s.kind === 'fanout' ? s.field : s.kind} s={s} />
      ))}
      {rest.length > 0 && (
        <table className="kv" data-testid="evidence-table">
          <tbody>
            {rest.map(([k, v]) => (
              <tr key={k}>
                <th scope="row">{k}</th>
                <td className="pre">{value(v)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
