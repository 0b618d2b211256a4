import { useCallback, useEffect, useState } from 'react';
import { ApiError, authFailed, getToken, setToken } from './api';
import { Layout } from './components/Layout';
import { ErrorBox } from './components/Status';
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
    default:
      return <ErrorBox error={`There is no page "${p}". Use the menu above.`} />;
  }
}

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [booting, setBooting] = useState(() => getToken() !== null);
  const [bootError, setBootError] = useState<string | null>(null);

  const logout = useCallback(() => {
    setToken(null);
    setSession(null);
  }, []);

  useEffect(() => {
    const f = () => {
      setToken(null);
      setSession(null);
      setBootError('Your token was not accepted any more (revoked or expired). Sign in again.');
    };
    authFailed.add(f);
    return () => {
      authFailed.delete(f);
    };
  }, []);

  useEffect(() => {
    if (!getToken()) return;
    loadSession().then(
      (s) => {
        setSession(s);
        setBooting(false);
      },
      (e: unknown) => {
        if (e instanceof ApiError && e.status === 401) setToken(null);
        setBootError(e instanceof Error ? e.message : String(e));
        setBooting(false);
      },
    );
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
