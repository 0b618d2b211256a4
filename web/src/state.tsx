import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import { ApiError, getJson, type Me, type Page, qs, request, type TypeInfo } from './api';
import { setParam, useRoute } from './router';
import {
  type DataSpan,
  defaultSpec,
  isoRangeToSpec,
  paramToSpec,
  type RangeSpec,
  type Resolved,
  resolve,
  specToParam,
} from './time';

/** Whether packets can be downloaded, and if not, why in plain words. */
export interface PcapState {
  available: boolean;
  reason: string | null;
}

export interface Session {
  me: Me;
  types: TypeInfo[];
  span: DataSpan | null;
  pcap: PcapState;
}

const SessionCtx = createContext<Session | null>(null);
export const SessionProvider = SessionCtx.Provider;
export function useSession(): Session {
  const s = useContext(SessionCtx);
  if (!s) throw new Error('useSession outside a session');
  return s;
}
export function useType(type: string): TypeInfo | undefined {
  return useSession().types.find((t) => t.type === type);
}

/** Ask the server what it knows and what this token may do. */
export async function loadSession(token?: string): Promise<Session> {
  const opt = token ? { token } : {};
  const me = (await (await request('/api/v1/me', opt)).json()) as Me;
  const [fields, first, last, pcap] = await Promise.all([
    request('/api/v1/fields', opt).then((r) => r.json() as Promise<{ types: TypeInfo[] }>),
    request(`/api/v1/flows${qs({ limit: 1, sort: 'first_ts', order: 'asc', fields: 'first_ts' })}`, opt)
      .then((r) => r.json() as Promise<Page>)
      .catch(() => null),
    request(`/api/v1/flows${qs({ limit: 1, sort: 'last_ts', order: 'desc', fields: 'last_ts' })}`, opt)
      .then((r) => r.json() as Promise<Page>)
      .catch(() => null),
    probePcap(opt),
  ]);
  const f = first?.items[0]?.first_ts;
  const l = last?.items[0]?.last_ts;
  const span =
    typeof f === 'string' && typeof l === 'string' ? { first: Date.parse(f), last: Date.parse(l) } : null;
  return { me, types: fields.types, span, pcap };
}

export async function probePcap(opt: { token?: string } = {}): Promise<PcapState> {
  try {
    await request('/api/v1/flows/0/pcap?count=true', opt);
    return { available: true, reason: null };
  } catch (e) {
    if (!(e instanceof ApiError)) return { available: false, reason: String(e) };
    if (e.status === 404 && /^no route/.test(e.message)) {
      return {
        available: false,
        reason: 'Packet download is unavailable: this server has no packet store (no /api/v1/pcap route).',
      };
    }
    if (e.status === 403)
      return { available: false, reason: `Packet download is not allowed: ${e.message}.` };
    if (e.status === 503 || e.status >= 500)
      return { available: false, reason: `Packet download is unavailable: ${e.message}` };
    // 400/404 about flow 0 itself: the route exists.
    return { available: true, reason: null };
  }
}

// ---- The shared time range and auto-refresh ----

export interface TimeState {
  spec: RangeSpec;
  resolved: Resolved;
  setSpec(spec: RangeSpec): void;
  /** Changes on every refresh (manual or automatic); queries depend on it. */
  tick: number;
  refresh(): void;
  autoRefresh: number;
  setAutoRefresh(seconds: number): void;
}

const TimeCtx = createContext<TimeState | null>(null);
export function useTime(): TimeState {
  const t = useContext(TimeCtx);
  if (!t) throw new Error('useTime outside TimeProvider');
  return t;
}

export function TimeProvider({ span, children }: { span: DataSpan | null; children: ReactNode }) {
  const route = useRoute();
  const spec = useMemo(
    () =>
      paramToSpec(route.params.get('t')) ??
      isoRangeToSpec(route.params.get('from'), route.params.get('to')) ??
      defaultSpec(span),
    [route.params, span],
  );
  const [tick, setTick] = useState(0);
  const [autoRefresh, setAutoRefresh] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: tick re-resolves relative ranges against now
  const resolved = useMemo(() => resolve(spec, span), [spec, span, tick]);
  const setSpec = useCallback((s: RangeSpec) => setParam('t', specToParam(s)), []);
  const refresh = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    if (!autoRefresh) return;
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') setTick((t) => t + 1);
    }, autoRefresh * 1000);
    return () => clearInterval(id);
  }, [autoRefresh]);
  const value = useMemo(
    () => ({ spec, resolved, setSpec, tick, refresh, autoRefresh, setAutoRefresh }),
    [spec, resolved, setSpec, tick, refresh, autoRefresh],
  );
  return <TimeCtx.Provider value={value}>{children}</TimeCtx.Provider>;
}

// ---- Data loading ----

export interface Loaded<T> {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  reload(): void;
}

/**
 * Load data for a view. The previous answer stays on screen while the next one loads (no
 * layout jump); a newer request aborts the older one.
 */
export function useLoad<T>(key: string | null, fn: (signal: AbortSignal) => Promise<T>): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: string | null; loading: boolean }>({
    data: undefined,
    error: null,
    loading: key !== null,
  });
  const [n, setN] = useState(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  // biome-ignore lint/correctness/useExhaustiveDependencies: n forces a reload of the same key
  useEffect(() => {
    if (key === null) {
      setState({ data: undefined, error: null, loading: false });
      return;
    }
    const ac = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    fnRef.current(ac.signal).then(
      (data) => {
        if (!ac.signal.aborted) setState({ data, error: null, loading: false });
      },
      (e: unknown) => {
        if (ac.signal.aborted) return;
        setState((s) => ({
          data: s.data,
          error: e instanceof Error ? e.message : String(e),
          loading: false,
        }));
      },
    );
    return () => ac.abort();
  }, [key, n]);
  const reload = useCallback(() => setN((x) => x + 1), []);
  return { ...state, reload };
}

/** GET a JSON path; the path (and the refresh tick) is the cache key. */
export function useJson<T>(path: string | null, tick = 0): Loaded<T> {
  return useLoad<T>(path === null ? null : `${path}\u0000${tick}`, (signal) => getJson<T>(path!, signal));
}
