import { useState } from 'react';
import { ThemeToggle } from '../components/Layout';
import { ErrorBox } from '../components/Status';
import { loadSession, type Session } from '../state';

/** Sign in with an API token (the first start wrote an admin token to DATA_DIR/admin-token). */
export function Login({
  onLogin,
  initialError,
}: {
  onLogin: (s: Session, token: string, remember: boolean) => void;
  initialError: string | null;
}) {
  const [token, setTokenText] = useState('');
  const [remember, setRemember] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(initialError);
  return (
    <main className="login" id="main">
      <div className="login-card">
        <div className="row spread">
          <h1>Vantage</h1>
          <ThemeToggle />
        </div>
        <p className="muted">Sign in with an API token.</p>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const t = token.trim();
            if (!t) return setError('Paste a token first.');
            setBusy(true);
            setError(null);
            loadSession(t).then(
              (s) => onLogin(s, t, remember),
              (err: unknown) => {
                setBusy(false);
                setError(err instanceof Error ? err.message : String(err));
              },
            );
          }}
        >
          <label htmlFor="token">Token</label>
          <input
            id="token"
            name="token"
            type="password"
            autoComplete="current-password"
            value={token}
            onChange={(e) => setTokenText(e.target.value)}
            placeholder="vt_…"
            aria-describedby="token-help"
          />
          <p id="token-help" className="hint">
            The first start wrote an admin token to <code>DATA_DIR/admin-token</code>; admins create more
            under Settings or with <code>vantage token create</code>.
          </p>
          <label className="check">
            <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} />{' '}
            Remember on this device
          </label>
          <ErrorBox error={error} />
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
      </div>
    </main>
  );
}
