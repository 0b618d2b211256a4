/** The API client: every request carries the token, shows progress and fails in plain words. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TOKEN_KEY = 'vantage.token';

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null, remember = false): void {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(TOKEN_KEY);
    if (token) (remember ? localStorage : sessionStorage).setItem(TOKEN_KEY, token);
  } catch {
    // Storage refused (private mode): the token lives as long as the page.
  }
}

// The CSRF token of the console session (signed in with a password or SSO): sent with every
// change, because the session cookie alone would also be sent by a page of another site.
let csrf: string | null = null;
export function setCsrf(token: string | null): void {
  csrf = token;
}
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

type Listener = (inflight: number) => void;
let inflight = 0;
const listeners = new Set<Listener>();
export function onProgress(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}
function bump(d: number) {
  inflight += d;
  for (const l of listeners) l(inflight);
}

/** Handlers for a rejected token (the console goes back to the login page). */
export const authFailed = new Set<() => void>();

export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

export async function request(
  path: string,
  init: RequestInit & { token?: string | null; signal?: AbortSignal } = {},
): Promise<Response> {
  const token = init.token === undefined ? getToken() : init.token;
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  else if (csrf && !SAFE.has((init.method ?? 'GET').toUpperCase())) headers.set('x-csrf-token', csrf);
  bump(1);
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'The server did not answer. Check that Vantage is running and the network is up.');
  } finally {
    bump(-1);
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      // RFC 9457 problem document: `detail` says what to fix; `error.message` is the pre-problem shape.
      const body = (await res.json()) as {
        detail?: string;
        request_id?: string;
        error?: { message?: string };
      };
      const detail = body.detail ?? body.error?.message;
      if (detail) message = detail;
      if (res.status >= 500 && body.request_id) message += ` (request id ${body.request_id})`;
    } catch {}
    if (res.status === 401 && init.token === undefined) for (const f of authFailed) f();
    if (res.status === 429) message = `Too many requests: ${message}`;
    if (res.status >= 500)
      message = `The server failed (${res.status}): ${message}. Try again; if it persists, check the server log.`;
    throw new ApiError(res.status, message);
  }
  return res;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await request(path, signal ? { signal } : {});
  return (await res.json()) as T;
}

export async function sendJson<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(path, {
    method,
    ...(body !== undefined
      ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
      : {}),
  });
  return (res.status === 204 ? null : await res.json()) as T;
}

/** Fetch with the token and save the answer as a file (a plain link cannot send the header). */
export async function download(path: string, fallbackName: string): Promise<{ bytes: number; name: string }> {
  const res = await request(path);
  const blob = await res.blob();
  const cd = res.headers.get('content-disposition') ?? '';
  const name = /filename="([^"]+)"/.exec(cd)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return { bytes: blob.size, name };
}

// ---- Shapes the console reads ----

export type Role = 'viewer' | 'analyst' | 'admin';
export interface Me {
  id: string;
  name: string;
  role: Role;
  /** The person behind the token or session; null for a token that belongs to no user. */
  user?: string | null;
  via?: 'token' | 'session';
}
/** GET /api/v1/session: the console session of the cookie, and whether SSO is offered. */
export interface SessionInfo {
  signed_in: boolean;
  user: string | null;
  role: Role | null;
  csrf_token: string | null;
  sso: { label: string; url: string } | null;
}
export async function getSessionInfo(): Promise<SessionInfo> {
  return (await (await request('/api/v1/session', { token: null })).json()) as SessionInfo;
}
export interface FieldInfo {
  name: string;
  type: string;
  label: string;
  doc: string;
  unit: string | null;
  nullable: boolean;
}
export interface TypeInfo {
  type: string;
  doc: string;
  time_field: string;
  path: string;
  fields: FieldInfo[];
}
export type Rec = Record<string, unknown>;
export interface TopItem {
  key: string | number | boolean | null;
  bytes: number;
  packets: number;
  flows: number;
}
export interface Series {
  metric: string;
  step: number;
  unit: string;
  series: { group: string | null; points: [string, number | null][] }[];
}
export interface Page {
  type: string;
  items: Rec[];
  next: string | null;
}

export const roleRank: Record<Role, number> = { viewer: 1, analyst: 2, admin: 3 };
export const can = (have: Role | undefined, need: Role): boolean =>
  !!have && roleRank[have] >= roleRank[need];
