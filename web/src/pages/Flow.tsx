import { useState } from 'react';
import { download, getJson, type Page, qs, request } from '../api';
import { IntelHits } from '../components/IntelHits';
import { ErrorBox, Panel } from '../components/Status';
import { cell, time } from '../format';
import { flowSightingsFilter, quoted } from '../intel';
import { type PacketLine, parseCapture } from '../pcap';
import { href } from '../router';
import { useLoad, useSession } from '../state';

function Packets({ id }: { id: string }) {
  const { pcap } = useSession();
  const [msg, setMsg] = useState<string | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const q = useLoad<{ packets: PacketLine[]; bytes: number } | null>(
    pcap.available ? `pk${id}` : null,
    async (signal) => {
      const res = await request(`/api/v1/flows/${encodeURIComponent(id)}/pcap`, { signal });
      const buf = await res.arrayBuffer();
      return { ...parseCapture(buf, 2000), bytes: buf.byteLength };
    },
  );
  return (
    <Panel
      title="Packets"
      loading={q.loading}
      error={q.error}
      onRetry={q.reload}
      testId="flow-packets"
      actions={
        <button
          type="button"
          data-testid="flow-pcap"
          disabled={!pcap.available}
          aria-describedby="flow-pcap-why"
          onClick={() => {
            setErr(null);
            setMsg('Collecting packets…');
            download(`/api/v1/flows/${encodeURIComponent(id)}/pcap`, `flow-${id}.pcap`).then(
              (r) => setMsg(`Saved ${r.name} (${r.bytes.toLocaleString('en-US')} bytes).`),
              (e: unknown) => {
                setMsg(null);
                setErr(`PCAP download failed: ${(e as Error).message}`);
              },
            );
          }}
        >
          Download PCAP
        </button>
      }
    >
      <p id="flow-pcap-why" className="muted" data-testid="flow-pcap-why" aria-live="polite">
        {pcap.available ? msg : pcap.reason}
      </p>
      <ErrorBox error={err} />
      {q.data && (
        <>
          {q.data.packets.length === 0 && (
            <p className="empty">The packet store holds no packets of this flow.</p>
          )}
          <ol className="packets" data-count={q.data.packets.length}>
            {q.data.packets.map((p) => (
              <li key={p.n}>
                <code>
                  {time(p.tsUs / 1000)}.{String(p.tsUs % 1_000_000).padStart(6, '0')} {p.summary}
                </code>
              </li>
            ))}
          </ol>
        </>
      )}
    </Panel>
  );
}

/** One flow: every field, its L7 records and its packets. */
export function FlowPage({ id }: { id: string }) {
  const { types } = useSession();
  const flowType = types.find((t) => t.type === 'flow');
  const valid = /^\d{1,20}$/.test(id);
  const q = useLoad(valid ? `flow${id}` : null, async (signal) => {
    const page = await getJson<Page>(`/api/v1/flows${qs({ filter: `flow_id = ${id}`, limit: 10 })}`, signal);
    // L7 records that name this flow.
    const l7: [string, Page][] = [];
    for (const t of types) {
      if (t.type === 'flow' || !t.fields.some((f) => f.name === 'flow_id')) continue;
      const p = await getJson<Page>(`${t.path}${qs({ filter: `flow_id = ${id}`, limit: 200 })}`, signal);
      if (p.items.length) l7.push([t.type, p]);
    }
    return { records: page.items, l7 };
  });
  if (!valid) return <ErrorBox error={`"${id}" is not a flow id; flow ids are numbers.`} />;
  const rec = q.data?.records[q.data.records.length - 1];
  return (
    <div className="page">
      <h1>
        Flow <span className="muted small">{id}</span>
      </h1>
      <ErrorBox error={q.error} onRetry={q.reload} />
      {q.data && !rec && (
        <ErrorBox error="No flow with this id is stored (it may have been removed by retention)." />
      )}
      {q.data && q.data.records.length > 1 && (
        <p className="muted">
          This flow has {q.data.records.length} records (interim records of a long flow); the latest is shown.
        </p>
      )}
      <div className="grid g2">
        <Panel title="Fields" loading={q.loading} testId="flow-fields">
          {rec && flowType && (
            <table className="kv">
              <tbody>
                {flowType.fields.map((f) => {
                  const v = rec[f.name];
                  const text = cell(f.name, f.type, v);
                  return (
                    <tr key={f.name}>
                      <th scope="row" title={f.doc}>
                        {f.label}
                        {f.unit && <span className="unit"> ({f.unit})</span>}
                      </th>
                      <td data-field={f.name}>
                        {f.type === 'ip' && typeof v === 'string' ? (
                          <a href={href(`/host/${encodeURIComponent(v)}`)}>{text}</a>
                        ) : (
                          text
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </Panel>
        <div className="stack">
          <Packets id={id} />
          <Panel title="Application records" loading={q.loading} testId="flow-l7">
            {q.data && q.data.l7.length === 0 && (
              <p className="empty">No DNS, HTTP, TLS or DHCP records name this flow.</p>
            )}
            {q.data?.l7.map(([type, page]) => {
              const t = types.find((x) => x.type === type)!;
              const cols = t.fields.filter(
                (f) =>
                  f.name !== 'flow_id' &&
                  f.name !== 'community_id' &&
                  page.items.some((r) => r[f.name] !== null && r[f.name] !== undefined),
              );
              return (
                <div key={type} className="table-wrap">
                  <h3>{type}</h3>
                  <table className="grid-table">
                    <thead>
                      <tr>
                        {cols.map((f) => (
                          <th key={f.name} scope="col" title={f.doc}>
                            {f.label}
                          </th>
                        ))}
                      </tr>
                    </thead>
                    <tbody>
                      {page.items.map((r, i) => (
                        // biome-ignore lint/suspicious/noArrayIndexKey: records have no key of their own
                        <tr key={i}>
                          {cols.map((f) => (
                            <td key={f.name}>{cell(f.name, f.type, r[f.name])}</td>
                          ))}
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              );
            })}
          </Panel>
        </div>
      </div>
      {rec && (
        <IntelHits
          sightingFilter={flowSightingsFilter(id, rec.community_id as string | null)}
          alertFilter={
            typeof rec.community_id === 'string'
              ? `community_id = ${quoted(rec.community_id)}`
              : `src_ip = ${String(rec.client_ip)} and dst_ip = ${String(rec.server_ip)}`
          }
          testId="flow-intel"
          allTime
        />
      )}
    </div>
  );
}
