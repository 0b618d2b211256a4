import { useId, useState } from 'react';
import { getJson, sendJson } from '../api';
import { ErrorBox, Panel } from '../components/Status';
import { issueLines, type PlaybookIssue, type PlaybookRow } from '../respond';
import { useJson } from '../state';

const EXAMPLE = `name: isolate-scanner
trigger: category = "scan" and severity >= 70
steps:
  - id: ok
    type: approve
    roles: [analyst]
    expires: 30m
    notify: [mail]
  - id: block
    type: isolate
    via: gw
    host: "{{alert.src_ip}}"
`;

/** Playbooks (admin): list, an editor validated on the server, dry run against a sample alert. */
export function Playbooks() {
  const id = useId();
  const [tick, setTick] = useState(0);
  const list = useJson<{ items: PlaybookRow[] }>('/api/v1/playbooks', tick);
  const [source, setSource] = useState(EXAMPLE);
  const [issues, setIssues] = useState<PlaybookIssue[] | null>(null);
  const [sample, setSample] = useState('{"src_ip": "10.0.0.5", "dst_ip": "10.0.0.9", "title": "sample"}');
  const [plan, setPlan] = useState<unknown>(null);
  const [err, setErr] = useState<string | null>(null);
  const [msg, setMsg] = useState<string | null>(null);

  const validate = async () => {
    setErr(null);
    const r = await sendJson<{ valid: boolean; errors: PlaybookIssue[] }>(
      'POST',
      '/api/v1/playbooks/validate',
      { source },
    );
    setIssues(r.errors);
    return r.valid;
  };
  const save = () => {
    setMsg(null);
    sendJson<{ name: string; version: number }>('POST', '/api/v1/playbooks', { source }).then(
      (r) => {
        setIssues([]);
        setMsg(`Saved ${r.name} as version ${r.version}.`);
        setTick((x) => x + 1);
      },
      (e: unknown) => {
        void validate().catch(() => {});
        setErr(`Save failed: ${(e as Error).message}`);
      },
    );
  };
  const dryRun = () => {
    let alert: unknown;
    try {
      alert = JSON.parse(sample);
    } catch {
      setErr('The sample alert is not JSON.');
      return;
    }
    sendJson<unknown>('POST', '/api/v1/playbooks/dry-run', { source, alert }).then(setPlan, (e: unknown) =>
      setErr((e as Error).message),
    );
  };
  const open = (name: string) => {
    getJson<{ source: string }>(`/api/v1/playbooks/${encodeURIComponent(name)}`).then(
      (r) => {
        setSource(r.source);
        setIssues(null);
        setPlan(null);
      },
      (e: unknown) => setErr((e as Error).message),
    );
  };
  const toggle = (p: PlaybookRow) => {
    sendJson('PATCH', `/api/v1/playbooks/${encodeURIComponent(p.name)}`, { enabled: !p.enabled }).then(
      () => setTick((x) => x + 1),
      (e: unknown) => setErr((e as Error).message),
    );
  };

  return (
    <div className="page" data-testid="playbooks">
      <h1>Playbooks</h1>
      <Panel title="Playbooks" loading={list.loading} error={list.error} onRetry={list.reload}>
        {list.data && list.data.items.length === 0 && (
          <p className="empty">No playbooks yet: write one below.</p>
        )}
        {list.data && list.data.items.length > 0 && (
          <table className="kv">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Trigger</th>
                <th scope="col">Version</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((p) => (
                <tr key={p.name}>
                  <td>
                    <button type="button" className="link" onClick={() => open(p.name)}>
                      {p.name}
                    </button>
                  </td>
                  <td>
                    <code>{p.trigger}</code>
                  </td>
                  <td className="num">
                    {p.version} of {p.versions.length}
                  </td>
                  <td>
                    <button type="button" onClick={() => toggle(p)}>
                      {p.enabled ? 'Enabled: disable' : 'Disabled: enable'}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
      <Panel title="Editor">
        <label htmlFor={`${id}-src`}>Playbook (YAML or JSON)</label>
        <textarea
          id={`${id}-src`}
          data-testid="playbook-source"
          rows={18}
          spellCheck={false}
          value={source}
          onChange={(e) => setSource(e.target.value)}
          style={{ width: '100%', fontFamily: 'monospace' }}
        />
        <div className="actions">
          <button
            type="button"
            onClick={() => void validate().catch((e: unknown) => setErr((e as Error).message))}
          >
            Validate
          </button>
          <button type="button" onClick={save}>
            Save as new version
          </button>
        </div>
        <ErrorBox error={err} />
        {msg && <p aria-live="polite">{msg}</p>}
        {issues && issues.length === 0 && <p className="health-ok">Valid.</p>}
        {issues && issues.length > 0 && (
          <ul className="error-text" data-testid="playbook-issues">
            {issueLines(issues).map((l) => (
              <li key={l}>{l}</li>
            ))}
          </ul>
        )}
        <label htmlFor={`${id}-alert`}>Sample alert for a dry run (JSON, fields of an alert)</label>
        <input
          id={`${id}-alert`}
          value={sample}
          onChange={(e) => setSample(e.target.value)}
          style={{ width: '100%' }}
        />
        <div className="actions">
          <button type="button" onClick={dryRun}>
            Dry run (does nothing)
          </button>
        </div>
        {plan !== null && <pre data-testid="playbook-plan">{JSON.stringify(plan, null, 2)}</pre>}
      </Panel>
    </div>
  );
}
