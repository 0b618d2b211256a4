import { useCallback, useEffect, useState } from 'react';
import {
  ApiError,
  authFailed,
  getSessionInfo,
  getToken,
  request,
  type SessionInfo,
  setCsrf,
  setToken,
} from './api';
import { Layout } from './components/Layout';
import { ErrorBox } from './components/Status';
import { Account } from './pages/Account';
import { AlertPage } from './pages/Alert';
import { AlertsPage } from './pages/Alerts';
import { Approvals } from './pages/Approvals';
import { Dashboards } from './pages/Dashboards';
import { FlowPage } from './pages/Flow';
import { HostPage } from './pages/Host';
import { IntelPage } from './pages/Intel';
import { Login } from './pages/Login';
import { MonitorsPage } from './pages/Monitors';
import { Overview } from './pages/Overview';
import { PivotPage } from './pages/Pivot';
import { Playbooks } from './pages/Playbooks';
import { PolicyPage } from './pages/Policy';
import { Records } from './pages/Records';
import { RunsPage } from './pages/Runs';
import { SearchPage } from './pages/Search';
import { Sensors } from './pages/Sensors';
import { Settings } from './pages/Settings';
import { Sinks } from './pages/Sinks';
import { Uploads } from './pages/Uploads';
import { Users } from './pages/Users';
import { useRoute } from './router';
import { loadSession, type Session, SessionProvider, TimeProvider } from './state';

function Page() {
  const r = useRoute();
  const [p, a] = r.path;
  switch (p) {
    case undefined:
    case 'overview':
      return <Overview />;
    case 'search':
      return <SearchPage q={r.params.get('q') ?? ''} />;
    case 'records':
      return <Records type={a ?? 'flow'} filter={r.params.get('filter') ?? ''} />;
    case 'alerts':
      return a ? <AlertPage id={a} /> : <AlertsPage />;
    case 'pivot':
      return <PivotPage params={r.params} />;
    case 'sinks':
      return <Sinks />;
    case 'uploads':
      return <Uploads />;
    case 'playbooks':
      return <Playbooks />;
    case 'runs':
      return <RunsPage id={a ?? null} />;
    case 'approvals':
      return <Approvals />;
    case 'host':
      return <HostPage ip={a ?? ''} />;
    case 'flow':
      return <FlowPage id={a ?? ''} />;
    case 'dashboards':
      return <Dashboards id={a ?? null} />;
    case 'intel':
      return <IntelPage />;
    case 'sensors':
      return <Sensors />;
    case 'policy':
      return <PolicyPage />;
    case 'monitors':
      return <MonitorsPage />;
    case 'settings':
      return <Settings />;
    case 'users':
      return <Users />;
    case 'account':
      return <Account />;
    default:
      return <ErrorBox error={`There is no page "${p}". Use the menu above.`} />;
  }
}

/** Why the identity provider sent the browser back without a session (?sso_error=...). */
function ssoError(): string | null {
  const e = new URLSearchParams(location.search).get('sso_error');
  if (e) history.replaceState(null, '', location.pathname + location.hash);
  return e ? `Single sign-on did not complete: ${e}` : null;
}

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [booting, setBooting] = useState(true);
  const [bootError, setBootError] = useState<string | null>(ssoError);
  const [info, setInfo] = useState<SessionInfo | null>(null);

  const logout = useCallback(() => {
    const viaSession = getToken() === null;
    setToken(null);
    setSession(null);
    if (viaSession) {
      request('/api/v1/session', { method: 'DELETE', token: null }).then(
        () => setCsrf(null),
        () => setCsrf(null),
      );
    }
  }, []);

  useEffect(() => {
    const f = () => {
      setToken(null);
      setCsrf(null);
      setSession(null);
      setBootError('You were signed out (session ended, or the token was revoked). Sign in again.');
    };
    authFailed.add(f);
    return () => {
      authFailed.delete(f);
    };
  }, []);

  useEffect(() => {
    const fail = (e: unknown) => {
      if (e instanceof ApiError && e.status === 401) setToken(null);
      setBootError(e instanceof Error ? e.message : String(e));
      setBooting(false);
    };
    const load = () =>
      loadSession().then((s) => {
        setSession(s);
        setBooting(false);
      }, fail);
    // A saved token wins; otherwise the session cookie, if there is a live one.
    if (getToken()) {
      load();
      getSessionInfo().then(setInfo, () => undefined);
      return;
    }
    getSessionInfo().then((i) => {
      setInfo(i);
      if (i.signed_in) {
        setCsrf(i.csrf_token);
        load();
      } else setBooting(false);
    }, fail);
  }, []);

  if (booting) {
    return (
      <p className="boot" role="status">
        Loading Vantage…
      </p>
    );
  }
  if (!session) {
    return (
      <Login
        initialError={bootError}
        sso={info?.sso ?? null}
        onLogin={(s, token, remember) => {
          setToken(token, remember);
          setBootError(null);
          setSession(s);
        }}
      />
    );
  }
  return (
    <SessionProvider value={session}>
      <TimeProvider span={session.span}>
        <Layout onLogout={logout}>
          <Page />
        </Layout>
      </TimeProvider>
    </SessionProvider>
  );
}
