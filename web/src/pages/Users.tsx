import { useId, useState } from 'react';
import { can, type Role, sendJson } from '../api';
import { ErrorBox, Panel } from '../components/Status';
import { time } from '../format';
import { useJson, useSession } from '../state';

interface UserRow {
  name: string;
  roles: Role[];
  disabled: boolean;
  source: 'local' | 'oidc';
  created: string;
  last_login: string | null;
  has_password: boolean;
}

const ROLE_TEXT: Record<string, string> = {
  viewer: 'viewer (read)',
  analyst: 'analyst (read, packets, uploads, alerts)',
  admin: 'admin (everything)',
};

/** Users (admin only): create, set the role, disable, reset the password. */
export function Users() {
  const { me } = useSession();
  if (!can(me.role, 'admin')) {
    return (
      <div className="page" data-testid="users-denied">
        <h1>Users</h1>
        <ErrorBox error={`Users are managed by admins; you have the ${me.role} role.`} />
      </div>
    );
  }
  return <UserAdmin />;
}

function UserAdmin() {
  const { me } = useSession();
  const q = useJson<{ items: UserRow[] }>('/api/v1/users');
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [secret, setSecret] = useState<{ user: string; password: string } | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const id = useId();
  const act = (p: Promise<unknown>, what: string) =>
    p.then(q.reload, (e: unknown) => setErr(`Could not ${what}: ${(e as Error).message}`));
  return (
    <div className="page" data-testid="users">
      <h1>Users</h1>
      <Panel title="People who sign in" loading={q.loading} error={q.error} onRetry={q.reload}>
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            setErr(null);
            const n = name.trim();
            sendJson<{ password?: string }>('POST', '/api/v1/users', { name: n, roles: [role] }).then(
              (r) => {
                if (r.password) setSecret({ user: n, password: r.password });
                setName('');
                q.reload();
              },
              (e: unknown) => setErr(`Could not create the user: ${(e as Error).message}`),
            );
          }}
        >
          <label htmlFor={`${id}-n`}>User name</label>
          <input
            id={`${id}-n`}
            value={name}
            onChange={(e) => setName(e.target.value)}
            pattern="[A-Za-z0-9][A-Za-z0-9._@\-]{0,63}"
            required
            placeholder="alice"
          />
          <label htmlFor={`${id}-r`}>Role</label>
          <select id={`${id}-r`} value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {Object.entries(ROLE_TEXT).map(([r, t]) => (
              <option key={r} value={r}>
                {t}
              </option>
            ))}
          </select>
          <button type="submit" className="primary">
            Create user
          </button>
        </form>
        <ErrorBox error={err} />
        {secret && (
          <div className="notice" role="status">
            <p>
              Password of <strong>{secret.user}</strong>, shown once. Give it to them; they can change it
              under Account:
            </p>
            <code className="secret" data-testid="new-password">
              {secret.password}
            </code>
          </div>
        )}
        {q.data && (
          <table className="grid-table" data-testid="user-table">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Role</th>
                <th scope="col">Sign-in</th>
                <th scope="col">Created</th>
                <th scope="col">Last sign-in</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {q.data.items.map((u) => (
                <tr key={u.name} data-user={u.name} className={u.disabled ? 'muted' : ''}>
                  <td>
                    {u.name}
                    {u.disabled && <span className="muted"> (disabled)</span>}
                  </td>
                  <td>
                    <select
                      aria-label={`Role of ${u.name}`}
                      value={u.roles.find((r) => r in ROLE_TEXT) ?? u.roles[0]}
                      disabled={u.source === 'oidc'}
                      onChange={(e) =>
                        act(
                          sendJson('PATCH', `/api/v1/users/${encodeURIComponent(u.name)}`, {
                            roles: [e.target.value],
                          }),
                          'change the role',
                        )
                      }
                    >
                      {Object.keys(ROLE_TEXT).map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                      {u.roles.includes('ingest' as Role) && <option value="ingest">ingest</option>}
                    </select>
                  </td>
                  <td>{u.source === 'oidc' ? 'identity provider' : 'password'}</td>
                  <td>{time(u.created)}</td>
                  <td>{u.last_login ? time(u.last_login) : <span className="muted">never</span>}</td>
                  <td className="row">
                    <button
                      type="button"
                      onClick={() =>
                        act(
                          sendJson('PATCH', `/api/v1/users/${encodeURIComponent(u.name)}`, {
                            disabled: !u.disabled,
                          }),
                          u.disabled ? 'enable' : 'disable',
                        )
                      }
                      disabled={u.name === me.user && !u.disabled}
                    >
                      {u.disabled ? 'Enable' : 'Disable'}
                    </button>
                    {u.source === 'local' && (
                      <button
                        type="button"
                        onClick={() => {
                          if (!confirm(`Reset the password of ${u.name}? Their sessions end.`)) return;
                          sendJson<{ password: string }>(
                            'POST',
                            `/api/v1/users/${encodeURIComponent(u.name)}/password`,
                            {},
                          ).then(
                            (r) => setSecret({ user: u.name, password: r.password }),
                            (e: unknown) => setErr(`Could not reset: ${(e as Error).message}`),
                          );
                        }}
                      >
                        Reset password
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
    </div>
  );
}
