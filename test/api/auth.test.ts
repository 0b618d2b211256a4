import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseHash } from '../../src/api/auth/password.js';
import { benign, T0 } from '../policy/tiers.js';
import { trafficPcap } from '../support/traffic.js';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
let adminPassword = '';

interface Res {
  status: number;
  json: Record<string, unknown>;
  text: string;
  headers: Headers;
}

/** One browser-like client: keeps the session cookie and sends the CSRF token it was given. */
class Client {
  cookie = '';
  csrf = '';
  constructor(readonly origin: string | null = null) {}

  async call(
    method: string,
    path: string,
    body?: unknown,
    extra: { csrf?: boolean; origin?: string | null; headers?: Record<string, string> } = {},
  ): Promise<Res> {
    const headers: Record<string, string> = { ...(extra.headers ?? {}) };
    if (this.cookie) headers.cookie = this.cookie;
    if (body !== undefined)
      headers['content-type'] = body instanceof Buffer ? 'application/octet-stream' : 'application/json';
    if ((extra.csrf ?? true) && this.csrf) headers['x-csrf-token'] = this.csrf;
    const origin = extra.origin === undefined ? (this.origin ?? h.base) : extra.origin;
    if (origin !== null && method !== 'GET') headers.origin = origin;
    const res = await fetch(h.base + path, {
      method,
      headers,
      ...(body === undefined ? {} : { body: body instanceof Buffer ? body : JSON.stringify(body) }),
    });
    const set = res.headers.getSetCookie().find((c) => c.startsWith('vantage_session='));
    if (set) this.cookie = set.split(';')[0]!;
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text);
    } catch {}
    if (typeof json.csrf_token === 'string') this.csrf = json.csrf_token;
    return { status: res.status, json, text, headers: res.headers };
  }

  signIn(name: string, password: string, headers: Record<string, string> = {}): Promise<Res> {
    return this.call('POST', '/api/v1/session', { name, password }, { headers });
  }
}

async function bearer(method: string, path: string, token: string, body?: unknown): Promise<Res> {
  const res = await fetch(h.base + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body instanceof Buffer
        ? { 'content-type': 'application/octet-stream' }
        : body !== undefined
          ? { 'content-type': 'application/json' }
          : {}),
    },
    ...(body === undefined ? {} : { body: body instanceof Buffer ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text, headers: res.headers };
}

const data = () => join(h.dir, 'data');
const auditLines = () =>
  readFileSync(join(data(), 'audit.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { action: string; actor: string | null; details: Record<string, unknown> });

before(async () => {
  h = await startHarness();
  adminPassword = readFileSync(join(data(), 'admin-password'), 'utf8').trim();
});
after(async () => {
  await h.close();
});

describe('first start and password storage', () => {
  it('creates user admin with a random password in a 0600 file, stored as a scrypt hash', () => {
    assert.match(adminPassword, /^[A-Za-z2-9]{20}$/);
    assert.equal(statSync(join(data(), 'admin-password')).mode & 0o777, 0o600);
    assert.equal(statSync(join(data(), 'users.json')).mode & 0o777, 0o600);
    const users = JSON.parse(readFileSync(join(data(), 'users.json'), 'utf8')).users as {
      name: string;
      roles: string[];
      password: string;
    }[];
    assert.deepEqual(
      users.map((u) => [u.name, u.roles]),
      [['admin', ['admin']]],
    );
    const p = parseHash(users[0]!.password)!;
    assert.deepEqual([p.N, p.r, p.p], [32768, 8, 1]);
    // Python's hashlib.scrypt (OpenSSL) is the independent oracle for the stored key.
    const py = execFileSync('python3', [
      '-c',
      'import hashlib,sys,base64;print(base64.urlsafe_b64encode(hashlib.scrypt(sys.argv[1].encode(),salt=base64.urlsafe_b64decode(sys.argv[2]+"=="),n=32768,r=8,p=1,maxmem=64*1024*1024,dklen=32)).decode().rstrip("="))',
      adminPassword,
      p.salt.toString('base64url'),
    ])
      .toString()
      .trim();
    assert.equal(py, p.key.toString('base64url'));
    assert.ok(!readFileSync(join(data(), 'users.json'), 'utf8').includes(adminPassword));
  });

  it('keeps the first-start admin token working, as user admin', async () => {
    const me = await bearer('GET', '/api/v1/me', h.admin);
    assert.equal(me.status, 200);
    assert.equal(me.json.name, 'admin');
    assert.equal(me.json.user, 'admin');
  });
});

describe('password sign-in and sessions', () => {
  it('sets an HttpOnly SameSite=Strict cookie, Secure only over TLS', async () => {
    const c = new Client();
    const r = await c.signIn('admin', adminPassword);
    assert.equal(r.status, 200, r.text);
    const set = r.headers.getSetCookie()[0]!;
    assert.match(
      set,
      /^vantage_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/,
    );
    assert.equal(r.json.user, 'admin');
    assert.equal(r.json.role, 'admin');
    assert.match(String(r.json.csrf_token), /^[A-Za-z0-9_-]{43}$/);
    const tls = await new Client().signIn('admin', adminPassword, { 'x-forwarded-proto': 'https' });
    assert.match(tls.headers.getSetCookie()[0]!, /; Secure$/);
    // The id is never stored as given: the server keeps its SHA-256 only.
    const id = c.cookie.split('=')[1]!;
    const other = `${id.slice(0, -1)}${id.endsWith('A') ? 'B' : 'A'}`;
    assert.equal(h.product.auth.sessions.get(other) === null, true);
  });

  it('answers who is signed in, and reads with the cookie alone', async () => {
    const c = new Client();
    assert.deepEqual((await c.call('GET', '/api/v1/session')).json.signed_in, false);
    await c.signIn('admin', adminPassword);
    const s = await c.call('GET', '/api/v1/session');
    assert.equal(s.json.signed_in, true);
    assert.equal(s.json.user, 'admin');
    assert.equal(s.json.method, 'password');
    const me = await c.call('GET', '/api/v1/me');
    assert.equal(me.status, 200);
    assert.equal(me.json.via, 'session');
    assert.equal((await c.call('GET', '/api/v1/flows?limit=1')).status, 200);
  });

  it('refuses a cookie-authenticated change without the CSRF token or from another origin', async () => {
    const c = new Client();
    await c.signIn('admin', adminPassword);
    const body = { name: 'csrf-probe', roles: ['viewer'] };
    const noToken = await c.call('POST', '/api/v1/users', body, { csrf: false });
    assert.equal(noToken.status, 403);
    assert.match(noToken.text, /X-CSRF-Token|x-csrf-token/i);
    const evil = await c.call('POST', '/api/v1/users', body, { origin: 'https://evil.example' });
    assert.equal(evil.status, 403);
    assert.match(evil.text, /cross-origin/);
    const site = await c.call('POST', '/api/v1/users', body, {
      origin: null,
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(site.status, 403);
    const wrong = await c.call('POST', '/api/v1/users', body, {
      headers: { 'x-csrf-token': 'x'.repeat(43) },
      csrf: false,
    });
    assert.equal(wrong.status, 403);
    assert.equal((await bearer('GET', '/api/v1/users/csrf-probe', h.admin)).status, 404);
    const ok = await c.call('POST', '/api/v1/users', body);
    assert.equal(ok.status, 201, ok.text);
    // Bearer tokens need no CSRF token: a browser cannot attach them by itself.
    const tok = await bearer('PATCH', '/api/v1/users/csrf-probe', h.admin, { disabled: true });
    assert.equal(tok.status, 200);
  });

  it('refuses a sign-in posted from another origin (login CSRF)', async () => {
    const c = new Client('https://evil.example');
    const r = await c.signIn('admin', adminPassword);
    assert.equal(r.status, 403);
    assert.equal(c.cookie, '');
  });

  it('signs out: the cookie stops working', async () => {
    const c = new Client();
    await c.signIn('admin', adminPassword);
    const saved = c.cookie;
    assert.equal((await c.call('DELETE', '/api/v1/session', undefined, { csrf: false })).status, 403);
    const out = await c.call('DELETE', '/api/v1/session');
    assert.equal(out.status, 204);
    assert.match(out.headers.getSetCookie()[0]!, /^vantage_session=; .*Max-Age=0/);
    c.cookie = saved;
    const me = await c.call('GET', '/api/v1/me');
    assert.equal(me.status, 401);
    assert.match(me.text, /session expired or signed out/);
  });
});

describe('users: admin API, roles, disable, reset, own password and tokens', () => {
  let alicePassword = '';

  it('an admin creates a user with a generated password shown once; a viewer cannot list users', async () => {
    const r = await bearer('POST', '/api/v1/users', h.admin, { name: 'alice', roles: ['analyst'] });
    assert.equal(r.status, 201, r.text);
    alicePassword = String(r.json.password);
    assert.match(alicePassword, /^[A-Za-z2-9]{20}$/);
    assert.equal((r.json.user as { has_password: boolean }).has_password, true);
    assert.equal(
      (await bearer('POST', '/api/v1/users', h.admin, { name: 'Alice', roles: ['viewer'] })).status,
      409,
    );
    assert.equal(
      (await bearer('POST', '/api/v1/users', h.admin, { name: 'bob', roles: ['viewer'], password: 'short' }))
        .status,
      400,
    );
    assert.equal((await bearer('GET', '/api/v1/users', h.viewer)).status, 403);
    assert.equal((await bearer('GET', '/api/v1/users', h.analyst)).status, 403);
    const list = await bearer('GET', '/api/v1/users', h.admin);
    const names = (list.json.items as { name: string }[]).map((u) => u.name);
    assert.ok(names.includes('alice') && names.includes('admin'));
    assert.ok(!list.text.includes('scrypt$'));
  });

  it('the user signs in with their roles; the console session cannot do more', async () => {
    const c = new Client();
    const r = await c.signIn('alice', alicePassword);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.roles, ['analyst']);
    assert.equal((await c.call('GET', '/api/v1/users')).status, 403);
    assert.equal((await c.call('GET', '/api/v1/alerts?limit=1')).status, 200);
  });

  it('own tokens: create at most one’s role, list, revoke; they act as the user', async () => {
    const c = new Client();
    await c.signIn('alice', alicePassword);
    assert.equal(
      (await c.call('POST', '/api/v1/me/tokens', { name: 'too much', role: 'admin' })).status,
      403,
    );
    const t = await c.call('POST', '/api/v1/me/tokens', { name: 'laptop', role: 'viewer' });
    assert.equal(t.status, 201, t.text);
    const token = String(t.json.token);
    assert.equal(t.json.user, 'alice');
    const me = await bearer('GET', '/api/v1/me', token);
    assert.equal(me.json.name, 'alice');
    assert.equal(me.json.role, 'viewer');
    const mine = await bearer('GET', '/api/v1/me/tokens', token);
    assert.deepEqual(
      (mine.json.items as { id: string }[]).map((x) => x.id),
      [t.json.id],
    );
    // Someone else's token id is not found among mine.
    const other = await bearer('POST', '/api/v1/tokens', h.admin, { role: 'viewer', name: 'x' });
    assert.equal((await c.call('DELETE', `/api/v1/me/tokens/${other.json.id}`)).status, 404);
    assert.equal((await c.call('DELETE', `/api/v1/me/tokens/${t.json.id}`)).status, 204);
    assert.equal((await bearer('GET', '/api/v1/me', token)).status, 401);
    // A token without a user has no "own" tokens.
    assert.equal((await bearer('GET', '/api/v1/me/tokens', h.viewer)).status, 409);
  });

  it('admin tokens for a user: the role is capped by the user', async () => {
    assert.equal(
      (await bearer('POST', '/api/v1/tokens', h.admin, { role: 'admin', user: 'alice' })).status,
      403,
    );
    assert.equal(
      (await bearer('POST', '/api/v1/tokens', h.admin, { role: 'viewer', user: 'nobody' })).status,
      404,
    );
    const t = await bearer('POST', '/api/v1/tokens', h.admin, { role: 'analyst', user: 'alice', name: 'ci' });
    assert.equal(t.status, 201);
    assert.equal(t.json.user, 'alice');
    // Roles lowered later: the token acts with what the user has now.
    assert.equal((await bearer('PATCH', '/api/v1/users/alice', h.admin, { roles: ['viewer'] })).status, 200);
    const me = await bearer('GET', '/api/v1/me', String(t.json.token));
    assert.equal(me.json.role, 'viewer');
    assert.equal((await bearer('PATCH', '/api/v1/users/alice', h.admin, { roles: ['analyst'] })).status, 200);
  });

  it('disabling a user ends their sessions and stops their tokens', async () => {
    const c = new Client();
    await c.signIn('alice', alicePassword);
    const t = await c.call('POST', '/api/v1/me/tokens', { name: 'd' });
    const token = String(t.json.token);
    assert.equal((await bearer('GET', '/api/v1/me', token)).status, 200);
    assert.equal((await bearer('PATCH', '/api/v1/users/alice', h.admin, { disabled: true })).status, 200);
    assert.equal((await c.call('GET', '/api/v1/me')).status, 401);
    const refused = await bearer('GET', '/api/v1/me', token);
    assert.equal(refused.status, 401);
    assert.match(refused.text, /disabled/);
    const again = await new Client().signIn('alice', alicePassword);
    assert.equal(again.status, 401);
    assert.equal(again.json.detail, 'user name or password not accepted');
    assert.equal((await bearer('PATCH', '/api/v1/users/alice', h.admin, { disabled: false })).status, 200);
    assert.equal((await bearer('GET', '/api/v1/me', token)).status, 200);
  });

  it('the last enabled admin cannot be disabled or demoted', async () => {
    const r = await bearer('PATCH', '/api/v1/users/admin', h.admin, { disabled: true });
    assert.equal(r.status, 409);
    assert.equal((await bearer('PATCH', '/api/v1/users/admin', h.admin, { roles: ['viewer'] })).status, 409);
  });

  it('an admin resets a password: the old one and the old sessions stop', async () => {
    const c = new Client();
    await c.signIn('alice', alicePassword);
    const r = await bearer('POST', '/api/v1/users/alice/password', h.admin, {});
    assert.equal(r.status, 200);
    const fresh = String(r.json.password);
    assert.notEqual(fresh, alicePassword);
    assert.equal((await c.call('GET', '/api/v1/me')).status, 401);
    assert.equal((await new Client().signIn('alice', alicePassword)).status, 401);
    assert.equal((await new Client().signIn('alice', fresh)).status, 200);
    alicePassword = fresh;
  });

  it('a user changes their own password with the current one; this session stays', async () => {
    const c = new Client();
    await c.signIn('alice', alicePassword);
    const other = new Client();
    await other.signIn('alice', alicePassword);
    const bad = await c.call('POST', '/api/v1/me/password', {
      current: 'wrong-password-1',
      password: 'a-new-long-password',
    });
    assert.equal(bad.status, 403);
    const ok = await c.call('POST', '/api/v1/me/password', {
      current: alicePassword,
      password: 'a-new-long-password',
    });
    assert.equal(ok.status, 204, ok.text);
    assert.equal((await c.call('GET', '/api/v1/me')).status, 200);
    assert.equal((await other.call('GET', '/api/v1/me')).status, 401);
    assert.equal((await new Client().signIn('alice', 'a-new-long-password')).status, 200);
    alicePassword = 'a-new-long-password';
  });

  it('the audit log names the user and the token for every change', () => {
    const lines = auditLines();
    const create = lines.find((l) => l.action === 'user.create' && l.details.user === 'alice')!;
    assert.equal(create.actor, 'admin');
    assert.equal(
      create.details.token_id,
      h.product.tokens.list().find((t) => t.name === 'first-start admin')!.id,
    );
    const tok = lines.find(
      (l) => l.action === 'token.create' && l.details.owner === 'alice' && l.actor === 'alice',
    )!;
    assert.equal(tok.details.actor_user, 'alice');
    assert.equal(tok.details.token_id, null);
    const change = lines.filter((l) => l.action === 'api.change');
    assert.ok(change.length > 5);
    for (const l of change)
      assert.ok(l.actor && 'actor_user' in l.details && 'token_id' in l.details, JSON.stringify(l));
    assert.ok(lines.some((l) => l.action === 'user.password_change' && l.actor === 'alice'));
    assert.ok(
      lines.some((l) => l.action === 'user.update' && l.details.disabled === true && l.actor === 'admin'),
    );
  });
});

describe('no self-approval compares people, whatever credential they use', () => {
  it('a proposal made with a user’s token cannot be approved by the same user’s session', async () => {
    const made = await bearer('POST', '/api/v1/users', h.admin, {
      name: 'carol',
      roles: ['admin'],
      password: 'carol-long-password',
    });
    assert.equal(made.status, 201);
    const token = (await bearer('POST', '/api/v1/tokens', h.admin, { role: 'admin', user: 'carol' })).json
      .token as string;
    const up = await bearer('POST', '/api/v1/captures?wait=true', token, trafficPcap(benign(1, T0, 2, true)));
    assert.equal(up.status, 201, up.text);
    const p = await bearer('POST', '/api/v1/policy/proposals', token, {
      after: new Date(T0 * 1000).toISOString(),
    });
    assert.equal(p.status, 201, p.text);
    assert.equal(p.json.created_by, 'carol');
    const c = new Client();
    await c.signIn('carol', 'carol-long-password');
    const self = await c.call('POST', `/api/v1/policy/proposals/${p.json.id}/approve`);
    assert.equal(self.status, 403);
    assert.match(self.text, /carol proposed .* cannot approve it/);
    // Another person (admin, through their session) may.
    const a = new Client();
    await a.signIn('admin', adminPassword);
    const ok = await a.call('POST', `/api/v1/policy/proposals/${p.json.id}/approve`);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.approved_by ?? 'admin', 'admin');
  });
});

describe('lockout', () => {
  it('locks a user name after 5 failures, the same way whether it exists or not; counted and audited', async () => {
    const made = await bearer('POST', '/api/v1/users', h.admin, {
      name: 'dave',
      roles: ['viewer'],
      password: 'dave-long-password',
    });
    assert.equal(made.status, 201);
    const answers = async (name: string, password: string) => {
      const out: [number, string][] = [];
      for (let i = 0; i < 7; i++) {
        const r = await new Client().signIn(name, i === 6 ? password : 'not-the-password');
        out.push([r.status, String(r.json.detail).replace(/\d+ s$/, 'N s')]);
      }
      return out;
    };
    const real = await answers('dave', 'dave-long-password');
    const ghost = await answers('ghost', 'whatever-password');
    const refused: [number, string] = [401, 'user name or password not accepted'];
    const locked: [number, string] = [429, 'too many failed sign-ins; try again in N s'];
    assert.deepEqual(real, [refused, refused, refused, refused, refused, locked, locked]);
    assert.deepEqual(ghost, real);
    const metrics = await (
      await fetch(`${h.base}/metrics`, { headers: { authorization: `Bearer ${h.admin}` } })
    ).text();
    assert.match(metrics, /vantage_auth_lockouts_total\{scope="user"\} 2/);
    assert.match(metrics, /vantage_auth_signins_total\{result="locked"\} [4-9]/);
    const lines = auditLines();
    assert.ok(
      lines.some(
        (l) => l.action === 'auth.lockout' && l.details.name === 'dave' && l.details.scope === 'user',
      ),
    );
    assert.ok(lines.some((l) => l.action === 'auth.lockout' && l.details.name === 'ghost'));
  });

  it('locks an address after 20 failures across names', async () => {
    let last = 0;
    for (let i = 0; i < 21; i++) last = (await new Client().signIn(`spray${i}`, 'not-the-password')).status;
    assert.equal(last, 429);
    // Everyone here is on 127.0.0.1: even a correct password waits.
    const r = await new Client().signIn('admin', adminPassword);
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    h.product.auth.unlockAll();
  });
});
