import { type ReactNode, useEffect, useRef, useState } from 'react';
import { can, onProgress } from '../api';
import { href, navigate, useRoute } from '../router';
import { useSession } from '../state';
import { TimePicker } from './TimePicker';

function Progress() {
  const [n, setN] = useState(0);
  useEffect(() => onProgress(setN), []);
  return <div className={`progress ${n > 0 ? 'on' : ''}`} aria-hidden="true" />;
}

export function ThemeToggle() {
  const [theme, setTheme] = useState(() => document.documentElement.dataset.theme ?? 'dark');
  const next = theme === 'dark' ? 'light' : 'dark';
  return (
    <button
      type="button"
      onClick={() => {
        document.documentElement.dataset.theme = next;
        try {
          localStorage.setItem('vantage.theme', next);
        } catch {}
        setTheme(next);
      }}
      title={`Switch to the ${next} theme`}
    >
      {theme === 'dark' ? '☀' : '☾'}
      <span className="sr-only">Switch to the {next} theme</span>
    </button>
  );
}

function SearchBox() {
  const route = useRoute();
  const current = route.path[0] === 'search' ? (route.params.get('q') ?? '') : '';
  const [q, setQ] = useState(current);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => setQ(current), [current]);
  useEffect(() => {
    // "/" focuses the search box from anywhere but a text field.
    const f = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.key === '/' && !/^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName) && !t.isContentEditable) {
        e.preventDefault();
        input.current?.focus();
      }
    };
    window.addEventListener('keydown', f);
    return () => window.removeEventListener('keydown', f);
  }, []);
  return (
    <search className="searchbox">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (q.trim()) navigate('/search', { q: q.trim() });
        }}
      >
        <label htmlFor="global-search" className="sr-only">
          Search IP, CIDR, port, domain, MAC, JA3/JA4, Community ID or text
        </label>
        <input
          id="global-search"
          ref={input}
          type="search"
          value={q}
          onChange={(e) => setQ(e.target.value)}
          placeholder="Search IP, CIDR, port, domain, MAC, JA3… (press /)"
          autoComplete="off"
          maxLength={256}
        />
      </form>
    </search>
  );
}

export function Layout({ children, onLogout }: { children: ReactNode; onLogout: () => void }) {
  const s = useSession();
  const route = useRoute();
  const here = route.path[0] ?? 'overview';
  const nav: [string, string, boolean][] = [
    ['overview', 'Overview', true],
    ['alerts', 'Alerts', true],
    ['records', 'Flows', true],
    ['dashboards', 'Dashboards', true],
    ['intel', 'Intel', true],
    ['monitors', 'Monitors', true],
    ['policy', 'Policy', true],
    ['sensors', 'Sensors', true],
    ['uploads', 'Uploads', can(s.me.role, 'analyst')],
    ['approvals', 'Approvals', true],
    ['runs', 'Runs', true],
    ['playbooks', 'Playbooks', can(s.me.role, 'admin')],
    ['sinks', 'Sinks', can(s.me.role, 'admin')],
    ['users', 'Users', can(s.me.role, 'admin')],
    ['settings', 'Settings', can(s.me.role, 'admin')],
  ];
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <Progress />
      <header className="top">
        <a className="brand" href={href('/overview')}>
          Vantage
        </a>
        <nav aria-label="Main">
          <ul>
            {nav
              .filter(([, , show]) => show)
              .map(([id, label]) => (
                <li key={id}>
                  <a href={href(`/${id}`)} aria-current={here === id ? 'page' : undefined}>
                    {label}
                  </a>
                </li>
              ))}
          </ul>
        </nav>
        <SearchBox />
        <div className="who">
          <span
            className={`role role-${s.me.role}`}
            data-testid="role"
            title={`Signed in as ${s.me.name || s.me.id}`}
          >
            {s.me.role}
          </span>
          {s.me.user && (
            <a href={href('/account')} data-testid="account-link">
              {s.me.user}
            </a>
          )}
          <ThemeToggle />
          <button type="button" onClick={onLogout}>
            Sign out
          </button>
        </div>
      </header>
      <div className="subbar">
        <TimePicker />
      </div>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
