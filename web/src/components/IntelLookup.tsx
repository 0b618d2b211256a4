import { ApiError, getJson, qs } from '../api';
import { time } from '../format';
import { extraTypes, type Indicator, KIND_LABEL, type Lookup, valueKind } from '../intel';
import { href } from '../router';
import { useLoad } from '../state';
import { SeverityBadge, SightingRows } from './Sightings';
import { Panel } from './Status';
import '../intel.css';

/** One indicator's facts as a key-value table. */
export function IndicatorFacts({ i }: { i: Indicator }) {
  return (
    <table className="kv" data-testid="indicator-facts">
      <tbody>
        <tr>
          <th scope="row">Indicator</th>
          <td data-field="value">
            {i.value} <span className="muted">({i.type})</span>
          </td>
        </tr>
        <tr>
          <th scope="row">Sources</th>
          <td data-field="sources">{i.sources.join(', ')}</td>
        </tr>
        <tr>
          <th scope="row">Confidence</th>
          <td data-field="confidence">{i.confidence}</td>
        </tr>
        <tr>
          <th scope="row">Severity</th>
          <td data-field="severity">
            <SeverityBadge value={i.severity} /> {i.severity}
          </td>
        </tr>
        <tr>
          <th scope="row">Seen by the feeds</th>
          <td>
            {i.first_seen || i.last_seen
              ? `${time(i.first_seen)} – ${time(i.last_seen)}`
              : 'the feeds do not say'}
          </td>
        </tr>
        <tr>
          <th scope="row">Valid until</th>
          <td>{i.valid_until ? time(i.valid_until) : 'until a feed drops it'}</td>
        </tr>
        {i.tags.length > 0 && (
          <tr>
            <th scope="row">Tags</th>
            <td>
              <ul className="chips">
                {i.tags.map((t) => (
                  <li key={t}>{t}</li>
                ))}
              </ul>
            </td>
          </tr>
        )}
        {i.description && (
          <tr>
            <th scope="row">Description</th>
            <td>{i.description}</td>
          </tr>
        )}
        {i.references.length > 0 && (
          <tr>
            <th scope="row">References</th>
            <td>
              {i.references.map((r) =>
                /^https?:\/\//.test(r) ? (
                  <div key={r}>
                    <a href={r} target="_blank" rel="noreferrer noopener">
                      {r}
                    </a>
                  </div>
                ) : (
                  <div key={r}>{r}</div>
                ),
              )}
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

/**
 * "What do we know about this value": the indicator that matches it (an address inside a listed
 * network counts), which feeds carry it, and where it was seen here. Shown only for values an
 * indicator can be (address, network, domain, URL, hash, JA3/JA4, e-mail).
 */
export function IntelLookup({ value }: { value: string }) {
  const kind = valueKind(value);
  const q = useLoad(kind ? `lookup\u0000${value}` : null, async (signal) => {
    let answer: Lookup | null = null;
    try {
      answer = await getJson<Lookup>(`/api/v1/intel/lookup${qs({ value: value.trim() })}`, signal);
    } catch (e) {
      // The server had no intel (404) or could not read the value (400): nothing to say.
      if (!(e instanceof ApiError) || (e.status !== 400 && e.status !== 404)) throw e;
    }
    const extra: Indicator[] = [];
    for (const type of kind ? extraTypes(kind) : []) {
      const r = await getJson<{ items: Indicator[] }>(
        `/api/v1/intel/indicators${qs({ q: value.trim().toLowerCase(), type, limit: 5 })}`,
        signal,
      ).catch(() => ({ items: [] as Indicator[] }));
      extra.push(...r.items.filter((i) => i.value === value.trim().toLowerCase()));
    }
    return { answer, extra };
  });
  if (!kind) return null;
  const a = q.data?.answer;
  const found = [...(a?.indicator ? [a.indicator] : []), ...(q.data?.extra ?? [])];
  const sightings = a?.sightings ?? [];
  return (
    <Panel
      title="What we know about this value"
      loading={q.loading}
      error={q.error}
      onRetry={q.reload}
      testId="intel-lookup"
      className={found.length ? 'intel-known' : undefined}
    >
      {q.data && (
        <div data-known={found.length > 0 ? 'true' : 'false'}>
          <p>
            <strong>{value.trim()}</strong> is {KIND_LABEL[kind]}.{' '}
            {found.length === 0 ? (
              <span data-testid="intel-unknown">No threat-intel feed lists it.</span>
            ) : (
              <span data-testid="intel-known">
                Listed by {[...new Set(found.flatMap((i) => i.sources))].join(', ')}.
              </span>
            )}
          </p>
          {found.map((i) => (
            <IndicatorFacts key={`${i.type}:${i.value}`} i={i} />
          ))}
          {found.length > 0 && a?.indicator && (
            <>
              <h3 data-testid="intel-lookup-sightings" data-value={sightings.length}>
                {sightings.length === 0
                  ? 'Never seen in this network'
                  : `Seen here ${sightings.length}${sightings.length >= 100 ? '+' : ''} time${sightings.length === 1 ? '' : 's'}`}
              </h3>
              <SightingRows items={sightings.slice(0, 10)} />
              {sightings.length > 0 && (
                <p>
                  <a
                    href={href('/records/sighting', {
                      filter: `indicator_value = "${a.indicator.value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`,
                      t: 'all',
                    })}
                  >
                    Every sighting of {a.indicator.value}
                  </a>{' '}
                  · <a href={href('/intel', { q: a.indicator.value })}>Hunt for it in older history</a>
                </p>
              )}
            </>
          )}
        </div>
      )}
    </Panel>
  );
}
