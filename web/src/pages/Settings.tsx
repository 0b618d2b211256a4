import { useId, useState } from 'react';
import { can, type Role, sendJson } from '../api';
import { ErrorBox, Panel } from '../components/Status';
import { time } from '../format';
import { useJson, useSession } from '../state';

interface TokenRow {
  id: string;
  name: string;
  role: Role;
  created: string;
}

/** Tokens (admin only): list, create (the secret is shown once), revoke. */
export function Settings() {
  const { me } = useSession();
  if (!can(me.role, 'admin')) {
    return (
      <div className="page" data-testid="settings-denied">
        <h1>Settings</h1>
        <ErrorBox
          error={`Settings are for admins; your token has the ${me.role} role. Ask an admin for access.`}
        />
      </div>
    );
  }
  return <TokenSettings />;
}

function TokenSettings() {
  const { me } = useSession();
  const q = useJson<{ items: TokenRow[] }>('/api/v1/tokens');
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [created, setCreated] = useState<{ token: string; name: string } | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const id = useId();
  return (
    <div className="page" data-testid="settings">
      <h1>Settings</h1>
      <Panel title="API tokens" loading={q.loading} error={q.error} onRetry={q.reload}>
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            setErr(null);
            sendJson<{ token: string; name: string }>('POST', '/api/v1/tokens', {
              role,
              name: name.trim(),
            }).then(
              (r) => {
                setCreated(r);
                setName('');
                q.reload();
              },
              (e: unknown) => setErr(`Could not create the token: ${(e as Error).message}`),
            );
          }}
        >
          <label htmlFor={`${id}-n`}>Name</label>
          <input
            id={`${id}-n`}
            value={name}
            onChange={(e) => setName(e.target.value)}
            pattern="[\w .@\-]*"
            maxLength={128}
            placeholder="alice"
          />
          <label htmlFor={`${id}-r`}>Role</label>
          <select id={`${id}-r`} value={role} onChange={(e) => setRole(e.target.value as Role)}>
            <option value="viewer">viewer (read)</option>
            <option value="analyst">analyst (read, packets, uploads)</option>
            <option value="admin">admin (everything)</option>
          </select>
          <button type="submit" className="primary">
            Create token
          </button>
        </form>
        <ErrorBox error={err} />
        {created && (
          <div className="notice" role="status">
            <p>
              Token for <strong>{created.name || 'unnamed'}</strong>, shown once. Copy it now:
            </p>
            <code className="secret" data-testid="new-token">
              {created.token}
            </code>
          </div>
        )}
        {q.data && (
          <table className="grid-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {q.data.items.map((t) => (
                <tr key={t.id}>
                  <td>{t.name || <span className="muted">(unnamed)</span>}</td>
                  <td>{t.role}</td>
                  <td>{time(t.created)}</td>
                  <td>
                    {t.id === me.id ? (
                      <span className="muted">this session</span>
                    ) : (
                      <button
                        type="button"
                        className="danger"
                        onClick={() => {
                          if (!confirm(`Revoke the token "${t.name || t.id}"? Anyone using it loses access.`))
                            return;
                          sendJson('DELETE', `/api/v1/tokens/${t.id}`).then(q.reload, (e: unknown) =>
                            setErr(`Could not revoke: ${(e as Error).message}`),
                          );
                        }}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
      <p className="hint">
        People sign in with a password under Users; tokens here are for systems. A token made for a user (
        <code>vantage token create --user NAME</code>, or Account) acts as that user.
      </p>
    </div>
  );
}
