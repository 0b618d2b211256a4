import { useEffect, useState } from 'react';
import { download, qs } from '../api';
import { IntelLookup } from '../components/IntelLookup';
import { RecordTable } from '../components/RecordTable';
import { Empty, ErrorBox } from '../components/Status';
import { int } from '../format';
import { href } from '../router';
import { pcapParams, type SearchKind, searchFilter } from '../search';
import { useJson, useSession, useTime } from '../state';

interface SearchAnswer {
  q: string;
  kind: SearchKind;
  results: Record<string, { count: number; items: unknown[] }>;
}

const KIND_WORDS: Record<SearchKind, string> = {
  ip: 'an address',
  cidr: 'a network',
  mac: 'a MAC address',
  port: 'a port',
  community_id: 'a Community ID',
  ja3: 'a JA3 hash',
  ja4: 'a JA4 fingerprint',
  domain: 'a domain',
  text: 'text',
};

/** One search over every record type; results grouped by kind, each a sortable, exportable table. */
export function SearchPage({ q }: { q: string }) {
  const { types, pcap } = useSession();
  const { resolved, tick } = useTime();
  const r = useJson<SearchAnswer>(
    q ? `/api/v1/search${qs({ q, after: resolved.after, before: resolved.before, limit: 1 })}` : null,
    tick,
  );
  const kinds = r.data ? Object.entries(r.data.results).filter(([, v]) => v.count > 0) : [];
  const [tab, setTab] = useState<string | null>(null);
  const [pcapMsg, setPcapMsg] = useState<string | null>(null);
  const [pcapErr, setPcapErr] = useState<string | null>(null);
  useEffect(() => {
    if (kinds.length && !kinds.some(([k]) => k === tab)) setTab(kinds[0]![0]);
  }, [kinds, tab]);

  if (!q)
    return <Empty>Type an IP, network, port, domain, MAC, JA3/JA4 or Community ID in the search box.</Empty>;
  const kind = r.data?.kind;
  const current = types.find((t) => t.type === tab);
  const filter = kind && current ? searchFilter(kind, q, current.fields) : null;
  const pp = kind ? pcapParams(kind, q) : null;
  const pcapReason = !pcap.available ? pcap.reason : typeof pp === 'string' ? pp : null;

  return (
    <div className="page">
      <h1>
        Search <span className="muted small">“{q}”</span>
      </h1>
      <ErrorBox error={r.error} onRetry={r.reload} />
      {r.loading && !r.data && <p role="status">Searching…</p>}
      {r.data && (
        <p className="muted" aria-live="polite">
          Searched for {KIND_WORDS[r.data.kind]} in {resolved.label.toLowerCase()}:{' '}
          {kinds.length ? kinds.map(([k, v]) => `${int(v.count)} ${k}`).join(', ') : 'nothing matched'}.
        </p>
      )}
      <div className="toolbar">
        {kind === 'ip' && (
          <a
            className="button primary"
            href={href(`/host/${encodeURIComponent(q.trim())}`)}
            data-testid="open-host"
          >
            Open host page for {q.trim()}
          </a>
        )}
        {kind && (
          <button
            type="button"
            disabled={pcapReason !== null}
            aria-describedby="search-pcap-why"
            onClick={() => {
              if (typeof pp !== 'object' || pp === null) return;
              setPcapErr(null);
              setPcapMsg('Collecting packets…');
              download(
                `/api/v1/pcap${qs({ ...pp, after: resolved.after, before: resolved.before })}`,
                'search.pcap',
              ).then(
                (x) => setPcapMsg(`Saved ${x.name} (${x.bytes.toLocaleString('en-US')} bytes).`),
                (e: unknown) => {
                  setPcapMsg(null);
                  setPcapErr(`PCAP download failed: ${(e as Error).message}`);
                },
              );
            }}
          >
            Download PCAP of all results
          </button>
        )}
        <span id="search-pcap-why" className="muted" data-testid="search-pcap-why">
          {pcapReason ?? pcapMsg}
        </span>
      </div>
      <ErrorBox error={pcapErr} />
      <IntelLookup value={q} />
      {kinds.length > 0 && (
        <>
          <div role="tablist" aria-label="Result kinds" className="tabs">
            {kinds.map(([k, v]) => (
              <button
                key={k}
                type="button"
                role="tab"
                id={`tab-${k}`}
                aria-selected={tab === k}
                aria-controls="search-panel"
                tabIndex={tab === k ? 0 : -1}
                onClick={() => setTab(k)}
                onKeyDown={(e) => {
                  const i = kinds.findIndex(([x]) => x === k);
                  const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
                  if (!d) return;
                  const n = kinds[(i + d + kinds.length) % kinds.length]![0];
                  setTab(n);
                  document.getElementById(`tab-${n}`)?.focus();
                }}
              >
                {k} <span className="count">{int(v.count)}</span>
              </button>
            ))}
          </div>
          <div role="tabpanel" id="search-panel" aria-labelledby={tab ? `tab-${tab}` : undefined}>
            {current && filter !== null && <RecordTable key={current.type} type={current} filter={filter} />}
          </div>
        </>
      )}
    </div>
  );
}
