import { useId, useState } from 'react';
import { type Role, sendJson } from '../api';
import { ErrorBox, Panel } from '../components/Status';
import { time } from '../format';
import { useJson, useSession } from '../state';

interface TokenRow {
  id: string;
  name: string;
  role: Role;
  created: string;
}

/** What every user manages for themselves: their password and their own API tokens. */
export function Account() {
  const { me } = useSession();
  if (!me.user) {
    return (
      <div className="page" data-testid="account">
        <h1>Account</h1>
        <p>You signed in with a token that belongs to no user; there is no account to manage.</p>
      </div>
    );
  }
  return (
    <div className="page" data-testid="account">
      <h1>Account: {me.user}</h1>
      <PasswordPanel />
      <TokenPanel />
    </div>
  );
}

function PasswordPanel() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [msg, setMsg] = useState<string | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const id = useId();
  return (
    <Panel title="Password">
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          setErr(null);
          setMsg(null);
          sendJson('POST', '/api/v1/me/password', { current, password: next }).then(
            () => {
              setCurrent('');
              setNext('');
              setMsg('Password changed; your other sessions have ended.');
            },
            (e: unknown) => setErr(`Could not change the password: ${(e as Error).message}`),
          );
        }}
      >
        <label htmlFor={`${id}-c`}>Current password</label>
        <input
          id={`${id}-c`}
          type="password"
          autoComplete="current-password"
          value={current}
          onChange={(e) => setCurrent(e.target.value)}
        />
        <label htmlFor={`${id}-n`}>New password</label>
        <input
          id={`${id}-n`}
          type="password"
          autoComplete="new-password"
          value={next}
          onChange={(e) => setNext(e.target.value)}
        />
        <button type="submit" className="primary">
          Change password
        </button>
      </form>
      <ErrorBox error={err} />
      {msg && <p role="status">{msg}</p>}
    </Panel>
  );
}

function TokenPanel() {
  const q = useJson<{ items: TokenRow[] }>('/api/v1/me/tokens');
  const [name, setName] = useState('');
  const [created, setCreated] = useState<string | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const id = useId();
  return (
    <Panel title="Your API tokens" loading={q.loading} error={q.error} onRetry={q.reload}>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          setErr(null);
          sendJson<{ token: string }>('POST', '/api/v1/me/tokens', { name: name.trim() }).then(
            (r) => {
              setCreated(r.token);
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
          placeholder="laptop"
        />
        <button type="submit" className="primary">
          Create token
        </button>
      </form>
      <ErrorBox error={err} />
      {created && (
        <div className="notice" role="status">
          <p>Your new token, shown once. It acts as you, and stops when your account is disabled:</p>
          <code className="secret">{created}</code>
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
                  <button
                    type="button"
                    className="danger"
                    onClick={() =>
                      sendJson('DELETE', `/api/v1/me/tokens/${t.id}`).then(q.reload, (e: unknown) =>
                        setErr(`Could not revoke: ${(e as Error).message}`),
                      )
                    }
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}
