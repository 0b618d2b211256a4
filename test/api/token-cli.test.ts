import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../../src/api/auth/password.js';
import { UserStore } from '../../src/api/auth/users.js';
import { TokenStore } from '../../src/api/auth.js';
import { tokenCommand } from '../../src/cli/token.js';

/** `vantage token create --user NAME`: the token belongs to the user, at most the user's role. */
describe('vantage token create --user', () => {
  let dir = '';
  const out: string[] = [];
  const err: string[] = [];
  const run = async (args: string[]) => {
    const w = process.stdout.write.bind(process.stdout);
    const e = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
    process.stderr.write = ((s: string) => err.push(s) > 0) as typeof process.stderr.write;
    try {
      return await tokenCommand([...args, '--data', dir]);
    } finally {
      process.stdout.write = w;
      process.stderr.write = e;
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vantage-token-cli-'));
    new UserStore(dir).add({
      name: 'alice',
      roles: ['analyst'],
      password: await hashPassword('alice-long-password'),
      disabled: false,
      source: 'local',
      created: new Date().toISOString(),
      last_login: null,
    });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('makes a token that belongs to the user', async () => {
    assert.equal(await run(['create', '--role', 'analyst', '--user', 'alice', '--name', 'ci']), 0);
    const secret = out.at(-1)!.trim();
    const e = new TokenStore(dir).verify(secret);
    assert.equal(e?.user, 'alice');
    assert.equal(e?.role, 'analyst');
    await run(['list']);
    assert.match(out.at(-1)!, /analyst\s+\S+\s+alice\s+ci/);
  });

  it('refuses an unknown user and a role above the user’s', async () => {
    assert.equal(await run(['create', '--role', 'viewer', '--user', 'nobody']), 1);
    assert.match(err.at(-1)!, /no user named 'nobody'/);
    assert.equal(await run(['create', '--role', 'admin', '--user', 'alice']), 1);
    assert.match(err.at(-1)!, /a token cannot do more than its user/);
    assert.equal(new TokenStore(dir).list().length, 1);
  });
});
