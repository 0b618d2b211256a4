import { int, time } from '../format';

export interface OsEvidence {
  source: string;
  value: string;
  family: string | null;
  confidence: number;
  evidence: string;
  mac: string | null;
  first: string;
  last: string;
  observations: number;
}

export interface HostOs {
  name: string;
  family: string;
  confidence: number;
  agreeing: string[];
  conflicting: string[];
  evidence: OsEvidence[];
}

export interface HostName {
  name: string;
  sources: string[];
  first: string;
  last: string;
  observations: number;
}

const SOURCE_LABEL: Record<string, string> = {
  dhcp: 'DHCP',
  dhcp_fqdn: 'DHCP FQDN',
  syn: 'TCP SYN',
  http: 'User-Agent',
  mdns: 'mDNS',
  nbns: 'NetBIOS',
  dns_ptr: 'DNS PTR',
};

export const sourceLabel = (s: string): string => SOURCE_LABEL[s] ?? s;

/** The OS verdict and every piece of evidence behind it, each with first and last seen. */
export function HostOsView({ os }: { os: HostOs | null }) {
  if (!os) return <p className="empty">No DHCP fingerprint, TCP SYN or User-Agent seen for this host.</p>;
  return (
    <div>
      <p>
        <strong data-testid="host-os-name">{os.name}</strong>{' '}
        <span className="muted" data-testid="host-os-confidence" data-value={os.confidence}>
          {os.confidence}% confident · from {os.agreeing.map(sourceLabel).join(', ')}
          {os.conflicting.length > 0 && ` · ${os.conflicting.map(sourceLabel).join(', ')} disagreed`}
        </span>
      </p>
      <table className="kv" data-testid="host-os-evidence">
        <thead>
          <tr>
            <th scope="col">Source</th>
            <th scope="col">Says</th>
            <th scope="col">Evidence</th>
            <th scope="col">Confidence</th>
            <th scope="col">First</th>
            <th scope="col">Last</th>
            <th scope="col">Seen</th>
          </tr>
        </thead>
        <tbody>
          {os.evidence.map((e) => (
            <tr key={`${e.source}|${e.value}`} data-source={e.source}>
              <td>{sourceLabel(e.source)}</td>
              <td>{e.value}</td>
              <td className="mono wrap">{e.evidence}</td>
              <td className="num">{e.confidence}%</td>
              <td>{time(e.first)}</td>
              <td>{time(e.last)}</td>
              <td className="num">{int(e.observations)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Names the host had, where each came from, and when it was first and last seen. */
export function HostNamesView({ names }: { names: HostName[] }) {
  if (names.length === 0) return <p className="empty">No DHCP, mDNS, NetBIOS or DNS PTR names seen.</p>;
  return (
    <table className="kv" data-testid="host-names-table">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">From</th>
          <th scope="col">First</th>
          <th scope="col">Last</th>
          <th scope="col">Seen</th>
        </tr>
      </thead>
      <tbody>
        {names.map((n) => (
          <tr key={n.name} data-name={n.name}>
            <td>{n.name}</td>
            <td>{n.sources.map(sourceLabel).join(', ')}</td>
            <td>{time(n.first)}</td>
            <td>{time(n.last)}</td>
            <td className="num">{int(n.observations)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
