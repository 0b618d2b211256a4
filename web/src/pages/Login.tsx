import { useState } from 'react';
import { request, type SessionInfo, setCsrf } from '../api';
import { ThemeToggle } from '../components/Layout';
import { ErrorBox } from '../components/Status';
import { loadSession, type Session } from '../state';

/**
 * Sign in: a user name and password (the first start wrote the admin's to DATA_DIR/admin-password),
 * the organisation's identity provider when configured, or an API token.
 */
export function Login({
  onLogin,
  initialError,
  sso = null,
}: {
  onLogin: (s: Session, token: string | null, remember: boolean) => void;
  initialError: string | null;
  sso?: { label: string; url: string } | null;
}) {
  const [mode, setMode] = useState<'password' | 'token'>('password');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(initialError);
  const fail = (err: unknown) => {
    setBusy(false);
    setError(err instanceof Error ? err.message : String(err));
  };
  return (
    <main className="login" id="main">
      <div className="login-card">
        <div className="row spread">
          <h1>Vantage</h1>
          <ThemeToggle />
        </div>
        {mode === 'password' ? (
          <PasswordForm busy={busy} setBusy={setBusy} setError={setError} fail={fail} onLogin={onLogin} />
        ) : (
          <TokenForm busy={busy} setBusy={setBusy} setError={setError} fail={fail} onLogin={onLogin} />
        )}
        <ErrorBox error={error} />
        {sso && (
          <p>
            <a className="button" href={sso.url} data-testid="sso">
              {sso.label}
            </a>
          </p>
        )}
        <p className="hint">
          <button
            type="button"
            className="link"
            onClick={() => {
              setError(null);
              setMode(mode === 'password' ? 'token' : 'password');
            }}
          >
            {mode === 'password'
              ? 'Sign in with an API token instead'
              : 'Sign in with a user name and password'}
          </button>
        </p>
      </div>
    </main>
  );
}

interface FormProps {
  busy: boolean;
  setBusy: (b: boolean) => void;
  setError: (e: string | null) => void;
  fail: (e: unknown) => void;
  onLogin: (s: Session, token: string | null, remember: boolean) => void;
}

function PasswordForm({ busy, setBusy, setError, fail, onLogin }: FormProps) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        if (!name.trim() || !password) return setError('Enter your user name and password.');
        setBusy(true);
        setError(null);
        request('/api/v1/session', {
          method: 'POST',
          token: null,
          body: JSON.stringify({ name: name.trim(), password }),
          headers: { 'content-type': 'application/json' },
        })
          .then((r) => r.json() as Promise<SessionInfo>)
          .then((info) => {
            setCsrf(info.csrf_token);
            return loadSession();
          })
          .then((s) => onLogin(s, null, false), fail);
      }}
    >
      <p className="muted">Sign in with your user name and password.</p>
      <label htmlFor="user">User name</label>
      <input
        id="user"
        name="username"
        autoComplete="username"
        value={name}
        onChange={(e) => setName(e.target.value)}
      />
      <label htmlFor="password">Password</label>
      <input
        id="password"
        name="password"
        type="password"
        autoComplete="current-password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        aria-describedby="password-help"
      />
      <p id="password-help" className="hint">
        The first start created the user <code>admin</code> and wrote its password to{' '}
        <code>DATA_DIR/admin-password</code>.
      </p>
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}

function TokenForm({ busy, setBusy, setError, fail, onLogin }: FormProps) {
  const [token, setTokenText] = useState('');
  const [remember, setRemember] = useState(false);
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        const t = token.trim();
        if (!t) return setError('Paste a token first.');
        setBusy(true);
        setError(null);
        loadSession(t).then((s) => onLogin(s, t, remember), fail);
      }}
    >
      <p className="muted">Sign in with an API token.</p>
      <label htmlFor="token">Token</label>
      <input
        id="token"
        name="token"
        type="password"
        autoComplete="off"
        value={token}
        onChange={(e) => setTokenText(e.target.value)}
        placeholder="vt_…"
        aria-describedby="token-help"
      />
      <p id="token-help" className="hint">
        The first start wrote an admin token to <code>DATA_DIR/admin-token</code>; each user creates their own
        under Account, admins with <code>vantage token create --user NAME</code>.
      </p>
      <label className="check">
        <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} /> Remember
        on this device
      </label>
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}
