import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../../test/support/fuzz.js';
import { ConfigError } from '../../common/errors.js';
import { DEFAULT_AUTH, parseAuthConfig } from './config.js';
import { Lockout } from './lockout.js';
import { hashPassword, needsRehash, parseHash, randomPassword, verifyPassword } from './password.js';
import { csrfMatches, SessionStore } from './sessions.js';

describe('password hashes', () => {
  it('verify the right password only, and carry their parameters', async () => {
    const h = await hashPassword('correct horse battery', { N: 1 << 15, r: 8, p: 1 });
    assert.match(h, /^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.equal(await verifyPassword('correct horse battery', h), true);
    assert.equal(await verifyPassword('correct horse batterY', h), false);
    // Same password, another salt: another hash.
    assert.notEqual(await hashPassword('correct horse battery'), h);
  });

  it('RFC 7914 §12 test vector: scrypt("password", "NaCl", N=1024, r=8, p=16, 64 bytes)', async () => {
    const key =
      'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640';
    const stored = `scrypt$1024$8$16$${Buffer.from('NaCl').toString('base64url')}$${Buffer.from(key, 'hex').toString('base64url')}`;
    assert.equal(await verifyPassword('password', stored), true);
    assert.equal(await verifyPassword('passwore', stored), false);
  });

  it('raise: a hash with weaker parameters needs re-hashing', async () => {
    const weak = await hashPassword('pw', { N: 1 << 14, r: 8, p: 1 });
    assert.equal(await verifyPassword('pw', weak), true);
    assert.equal(needsRehash(weak, { N: 1 << 15, r: 8, p: 1 }), true);
    assert.equal(needsRehash(await hashPassword('pw'), { N: 1 << 15, r: 8, p: 1 }), false);
  });

  it('random passwords: 20 characters of the unambiguous alphabet', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = randomPassword();
      assert.match(p, /^[A-HJ-NP-Za-km-z2-9]{20}$/);
      seen.add(p);
    }
    assert.equal(seen.size, 200);
  });

  it('a malformed stored hash never matches and never throws (fuzz)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), async (s) => {
        const p = parseHash(s);
        if (p === null) assert.equal(await verifyPassword('x', s), false);
      }),
      { numRuns: runs(500) },
    );
    for (const bad of [
      'scrypt$3$8$1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA',
      'scrypt$0$8$1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA',
      'md5$x',
    ])
      assert.equal(parseHash(bad), null);
  });
});

describe('lockout', () => {
  const limits = { threshold: 3, baseMs: 2000, maxMs: 60_000, windowMs: 900_000, maxKeys: 4 };

  it('locks at the threshold and doubles the wait with each further failure, up to the maximum', () => {
    const l = new Lockout(limits);
    let t = 0;
    assert.equal(l.fail('u:a', t), false);
    assert.equal(l.fail('u:a', t), false);
    assert.equal(l.remaining('u:a', t), 0);
    assert.equal(l.fail('u:a', t), true);
    const waits: number[] = [l.remaining('u:a', t)];
    for (let i = 0; i < 7; i++) {
      t += waits.at(-1)!; // wait out the lock, then fail again
      assert.equal(l.remaining('u:a', t), 0);
      l.fail('u:a', t);
      waits.push(l.remaining('u:a', t));
    }
    assert.deepEqual(waits, [2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });

  it('forgets failures older than the window', () => {
    const l = new Lockout(limits);
    l.fail('u:a', 0);
    l.fail('u:a', 0);
    l.fail('u:a', 900_001);
    assert.equal(l.remaining('u:a', 900_001), 0);
  });

  it('stays bounded: beyond maxKeys the least recently failed key is forgotten and counted', () => {
    const l = new Lockout(limits);
    for (let i = 0; i < 10; i++) l.fail(`a:${i}`, i);
    assert.equal(l.size, 4);
    assert.equal(l.evicted, 6);
  });
});

describe('sessions', () => {
  const limits = { idleMs: 30 * 60_000, absoluteMs: 12 * 3_600_000, max: 3 };

  it('end when idle, and at the absolute limit however busy', () => {
    const s = new SessionStore(limits);
    const { id, session } = s.create('alice', 'password', 0);
    assert.match(id, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(session.hash, id);
    assert.equal(s.get(id, 29 * 60_000), session);
    s.touch(session, 29 * 60_000);
    assert.equal(s.get(id, 58 * 60_000), session);
    assert.equal(s.get(id, 59 * 60_000 + 1), null);
    assert.equal(s.counters.expired, 1);
    const busy = s.create('bob', 'password', 0);
    for (let t = 0; t < 12 * 3_600_000; t += 20 * 60_000) {
      assert.ok(s.get(busy.id, t));
      s.touch(busy.session, t);
    }
    assert.equal(s.get(busy.id, 12 * 3_600_000), null);
  });

  it('keeps at most max sessions (oldest ended and counted); ends all of a user', () => {
    const s = new SessionStore(limits);
    const first = s.create('a', 'password', 0);
    s.create('A', 'password', 1);
    s.create('b', 'oidc', 2);
    s.create('c', 'password', 3);
    assert.equal(s.size, 3);
    assert.equal(s.counters.evicted, 1);
    assert.equal(s.get(first.id, 4), null);
    assert.equal(s.endUser('a'), 1);
    assert.equal(s.size, 2);
  });

  it('CSRF tokens match exactly', () => {
    const s = new SessionStore(limits);
    const { session } = s.create('a', 'password', 0);
    assert.equal(csrfMatches(session, session.csrf), true);
    assert.equal(csrfMatches(session, `${session.csrf.slice(0, -1)}x`), session.csrf.endsWith('x'));
    assert.equal(csrfMatches(session, undefined), false);
    assert.equal(csrfMatches(session, ''), false);
  });
});

describe('auth config', () => {
  it('has defaults and names the exact key at fault', () => {
    assert.deepEqual(parseAuthConfig({}), DEFAULT_AUTH);
    const cases: [unknown, string][] = [
      [{ sesion: {} }, 'auth.sesion'],
      [{ session: { idleMinutes: 0 } }, 'auth.session.idleMinutes'],
      [{ session: { secureCookie: 'yes' } }, 'auth.session.secureCookie'],
      [{ lockout: { baseSeconds: 10, maxSeconds: 5 } }, 'auth.lockout.maxSeconds'],
      [{ password: { scryptN: 40000 } }, 'auth.password.scryptN'],
      [{ password: { scryptN: 1024 } }, 'auth.password.scryptN'],
      [{ origins: ['https://a.example/path'] }, 'auth.origins[0]'],
      [{ oidc: { issuer: 'x' } }, 'auth.oidc.roleMap'],
      [{ oidc: { roleMap: { g: ['root'] } } }, 'auth.oidc.roleMap.g[0]'],
      [{ oidc: { roleMap: { g: ['admin'] }, issuer: 'ftp://x' } }, 'auth.oidc.issuer'],
      [
        {
          oidc: {
            roleMap: { g: 'admin' },
            issuer: 'https://id.example',
            clientId: 'v',
            redirectUrl: 'https://v.example/cb',
            scopes: ['profile'],
          },
        },
        'auth.oidc.scopes',
      ],
    ];
    for (const [v, key] of cases) {
      assert.throws(
        () => parseAuthConfig(v),
        (e: unknown) => e instanceof ConfigError && e.key === key,
        `${JSON.stringify(v)} → ${key}`,
      );
    }
    const ok = parseAuthConfig({
      oidc: {
        issuer: 'https://id.example',
        clientId: 'v',
        redirectUrl: 'https://v.example/cb',
        roleMap: { soc: 'analyst' },
      },
    });
    assert.deepEqual(ok.oidc?.roleMap, { soc: ['analyst'] });
    assert.deepEqual(ok.oidc?.scopes, ['openid', 'profile', 'email']);
  });
});
