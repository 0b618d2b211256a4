/**
 * Sign-in in a real browser (Debian's chromium through playwright-core) against a real server:
 * the admin signs in with the password the first start printed, creates a viewer on the Users
 * page, the viewer signs in and cannot open Users, bad passwords lock the name, a page on
 * another origin posting with the session cookie is refused, and signing out ends the session.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type Product, startProduct } from '../../src/cli/start.js';
import { silentLogger } from '../../src/common/log.js';
import { samplePcap } from '../api/pcap.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SHOTS = join(ROOT, 'test-results');
const WEB = join(ROOT, 'web', 'dist', 'index.html');

const missing = !existsSync(CHROMIUM);
if (missing && process.env.CI === 'true') {
  throw new Error(
    `${CHROMIUM} is missing: install the Debian package chromium (CI must run the browser tests)`,
  );
}
if (!existsSync(WEB)) throw new Error(`${WEB} is missing: build the console with npm run build`);
const skip = missing ? 'install the Debian package chromium' : false;

const go = (p: Page, hash: string) => p.evaluate(`location.hash = ${JSON.stringify(hash)}`);

describe('sign-in, users and CSRF (e2e, chromium)', { skip }, () => {
  let dir = '';
  let product: Product;
  let printed = '';
  let browser: Browser;
  let attacker: Server;
  let viewerPassword = '';

  const newPage = async (): Promise<Page> => {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
    p.on('dialog', (d) => void d.accept());
    return p;
  };
  const passwordSignIn = async (p: Page, name: string, password: string) => {
    await p.goto(product.url);
    await p.getByLabel('User name').fill(name);
    await p.getByLabel('Password').fill(password);
    await p.getByRole('button', { name: 'Sign in', exact: true }).click();
  };
  const users = async () => {
    const admin = product.tokens.list().find((t) => t.name === 'first-start admin');
    assert.ok(admin);
    return product.auth.users.list().map((u) => u.name);
  };

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'vantage-e2e-auth-'));
    const samples = join(dir, 'samples');
    mkdirSync(samples);
    writeFileSync(join(samples, 'sample.pcap'), samplePcap().pcap);
    product = await startProduct({
      dataDir: join(dir, 'data'),
      host: '127.0.0.1',
      port: 0,
      samplesDir: samples,
      log: silentLogger,
      print: (s) => {
        printed += s;
      },
    });
    await product.samplesDone;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    // Another origin on the same host (another port is another origin but the same site, so
    // SameSite alone would let the cookie through): the Origin check and the CSRF token must stop it.
    const target = `${product.url}/api/v1/users`;
    attacker = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><form id="f" method="POST" action="${target}" enctype="text/plain">
<input name='{"name":"mallory","roles":["admin"],"x":"' value='"}'></form>
<script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    await browser?.close();
    attacker?.close();
    await product?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the admin signs in with the password printed at first start and creates a viewer', async () => {
    const m = /created user admin[^\n]*\n\n {2}([A-Za-z0-9]{20})\n/.exec(printed);
    assert.ok(m, printed);
    const p = await newPage();
    await passwordSignIn(p, 'admin', m[1]!);
    assert.equal(await p.getByTestId('role').textContent(), 'admin');
    assert.equal(await p.getByTestId('account-link').textContent(), 'admin');
    await p.getByRole('navigation').getByRole('link', { name: 'Users' }).click();
    const table = p.getByTestId('user-table');
    await table.locator('tr[data-user=admin]').waitFor();
    await p.getByLabel('User name').fill('vera');
    await p.getByLabel('Role', { exact: true }).selectOption('viewer');
    await p.getByRole('button', { name: 'Create user' }).click();
    viewerPassword = (await p.getByTestId('new-password').textContent()) ?? '';
    assert.match(viewerPassword, /^[A-Za-z0-9]{20}$/);
    await table.locator('tr[data-user=vera]').waitFor();
    await p.screenshot({ path: join(SHOTS, 'console-users.png'), fullPage: true });
    assert.deepEqual((await users()).sort(), ['admin', 'vera']);
    // The session cookie is HttpOnly: the page's script cannot read it.
    assert.equal(await p.evaluate('document.cookie'), '');

    // Signing out ends the session: a reload shows the sign-in page again.
    await p.getByRole('button', { name: 'Sign out' }).click();
    await p.getByLabel('User name').waitFor();
    await p.reload();
    await p.getByLabel('User name').waitFor();
    assert.equal(product.auth.sessions.size, 0);
  });

  it('a viewer signs in and cannot open Users (the page and the API refuse)', async () => {
    const p = await newPage();
    await passwordSignIn(p, 'vera', viewerPassword);
    assert.equal(await p.getByTestId('role').textContent(), 'viewer');
    assert.equal(await p.getByRole('navigation').getByRole('link', { name: 'Users' }).count(), 0);
    await go(p, '#/users');
    await p.getByTestId('users-denied').waitFor();
    const status = await p.evaluate(`fetch('/api/v1/users').then((r) => r.status)`);
    assert.equal(status, 403);
    // The viewer's own page works with the session: change the password.
    await p.getByTestId('account-link').click();
    await p.getByLabel('Current password').fill(viewerPassword);
    await p.getByLabel('New password').fill('vera-new-long-password');
    await p.getByRole('button', { name: 'Change password' }).click();
    await p.getByText('Password changed').waitFor();
    viewerPassword = 'vera-new-long-password';
  });

  it('locks the name after five bad passwords; even the right one then waits', async () => {
    const p = await newPage();
    await p.goto(product.url);
    for (let i = 0; i < 5; i++) {
      await p.getByLabel('User name').fill('vera');
      await p.getByLabel('Password').fill(`wrong-password-${i}`);
      await p.getByRole('button', { name: 'Sign in', exact: true }).click();
      await p.getByRole('alert').getByText('user name or password not accepted').waitFor();
    }
    await p.getByLabel('Password').fill(viewerPassword);
    await p.getByRole('button', { name: 'Sign in', exact: true }).click();
    await p
      .getByRole('alert')
      .getByText(/too many failed sign-ins; try again in \d+ s/)
      .waitFor();
    await p.screenshot({ path: join(SHOTS, 'console-lockout.png') });
    assert.equal(await p.getByTestId('role').count(), 0);
    product.auth.unlockAll();
  });

  it('refuses a cross-origin POST that carries the session cookie', async () => {
    const p = await newPage();
    await passwordSignIn(p, 'vera', viewerPassword);
    await p.getByTestId('role').waitFor();
    // vera is a viewer: make her an admin so only CSRF protection can stop the forged request.
    const admin = product.auth.users.update('vera', (u) => {
      u.roles = ['admin'];
    });
    assert.ok(admin);
    const before = await users();
    const { port } = attacker.address() as AddressInfo;
    await p.goto(`http://127.0.0.1:${port}/`);
    await p.waitForURL(`${product.url}/api/v1/users`);
    const body = await p.locator('body').textContent();
    assert.match(
      body ?? '',
      /cross-origin request refused: origin http:\/\/127\.0\.0\.1:\d+ is not this server's/,
    );
    assert.deepEqual(await users(), before);
    assert.ok(!before.includes('mallory'));
    // The same session, from the console itself, may create users.
    await p.goto(product.url);
    await p.getByTestId('role').waitFor();
    const created = await p.evaluate(`(async () => {
      const s = await (await fetch('/api/v1/session')).json();
      const r = await fetch('/api/v1/users', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf_token }, body: JSON.stringify({ name: 'walt', roles: ['viewer'] }) });
      return r.status;
    })()`);
    assert.equal(created, 201);
  });
});
