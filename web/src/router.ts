import { useMemo, useSyncExternalStore } from 'react';

/**
 * Hash routing (#/host/10.0.0.5?t=24h): the server serves one index.html and needs no
 * fallback route, and every view is a link that can be shared.
 */
export interface Route {
  path: string[];
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#/, '') || '/';
  const [p = '/', q = ''] = h.split('?', 2);
  return {
    path: p
      .split('/')
      .filter(Boolean)
      .map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      }),
    params: new URLSearchParams(q),
  };
}

/** A console link; the shared time range (t) is carried along unless the caller sets it. */
export function href(path: string, params: Record<string, string | undefined> = {}): string {
  const cur = parseHash(location.hash).params;
  const u = new URLSearchParams();
  const t = params.t ?? cur.get('t');
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '' && k !== 't') u.set(k, v);
  if (t) u.set('t', t);
  const s = u.toString();
  return `#${path}${s ? `?${s}` : ''}`;
}

export function navigate(path: string, params: Record<string, string | undefined> = {}): void {
  location.hash = href(path, params);
}

/** Replace one query parameter of the current view without adding a history entry. */
export function setParam(name: string, value: string | null): void {
  const r = parseHash(location.hash);
  if (value === null) r.params.delete(name);
  else r.params.set(name, value);
  const s = r.params.toString();
  const next = `#/${r.path.map(encodeURIComponent).join('/')}${s ? `?${s}` : ''}`;
  if (next !== location.hash) {
    history.replaceState(null, '', next);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  }
}

/**
 * One hashchange listener tells every component at once. With one listener per component the
 * browser runs React's microtask between them, so a page rendered with the new route while the
 * time range (read by an ancestor) still had the old one, and queried the old range first.
 */
const routeListeners = new Set<() => void>();
function subscribe(f: () => void): () => void {
  if (routeListeners.size === 0) window.addEventListener('hashchange', notify);
  routeListeners.add(f);
  return () => {
    routeListeners.delete(f);
    if (routeListeners.size === 0) window.removeEventListener('hashchange', notify);
  };
}
function notify() {
  for (const f of routeListeners) f();
}

export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, () => location.hash);
  return useMemo(() => parseHash(hash), [hash]);
}
