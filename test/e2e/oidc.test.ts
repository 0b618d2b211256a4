/**
 * OIDC sign-in against a real OpenID provider on loopback (panva's certified oidc-provider, its
 * development login and consent pages), in a real browser: "Sign in with SSO" on the console
 * runs the authorization code flow with PKCE, the provider's groups claim maps to a role, the
 * user appears as an OIDC user, and a user whose groups map to no role is refused with the reason.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Provider from 'oidc-provider';
import { type Browser, chromium, type Page } from 'playwright-core';
import { parseAuthConfig } from '../../src/api/auth/config.js';
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

/** The provider's accounts: login name → groups. */
const GROUPS: Record<string, string[]> = {
  olivia: ['staff', 'soc-analysts'],
  ned: ['staff'],
};

async function freePort(): Promise<number> {
  const s = netServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('OIDC sign-in (e2e, chromium, oidc-provider on loopback)', { skip }, () => {
  let dir = '';
  let product: Product;
  let browser: Browser;
  let op: Server;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'vantage-e2e-oidc-'));
    const samples = join(dir, 'samples');
    mkdirSync(samples);
    writeFileSync(join(samples, 'sample.pcap'), samplePcap().pcap);
    const vantagePort = await freePort();
    const redirect = `http://127.0.0.1:${vantagePort}/api/v1/session/oidc/callback`;
    op = createServer();
    await new Promise<void>((r) => op.listen(0, '127.0.0.1', r));
    const issuer = `http://127.0.0.1:${(op.address() as AddressInfo).port}`;
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: 'vantage',
          client_secret: 'a-client-secret-for-the-test',
          redirect_uris: [redirect],
          response_types: ['code'],
          grant_types: ['authorization_code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      claims: { openid: ['sub'], profile: ['preferred_username', 'groups'] },
      findAccount: (_ctx: unknown, id: string) => ({
        accountId: id,
        claims: () => ({ sub: `sub-${id}`, preferred_username: id, groups: GROUPS[id] ?? [] }),
      }),
      features: { devInteractions: { enabled: true } },
    });
    op.on('request', provider.callback());
    product = await startProduct({
      dataDir: join(dir, 'data'),
      host: '127.0.0.1',
      port: vantagePort,
      samplesDir: samples,
      log: silentLogger,
      print: () => undefined,
      auth: parseAuthConfig({
        oidc: {
          issuer,
          clientId: 'vantage',
          clientSecret: 'a-client-secret-for-the-test',
          redirectUrl: redirect,
          roleClaim: 'groups',
          roleMap: { 'soc-analysts': ['analyst'], 'soc-admins': ['admin'] },
          label: 'Sign in with Acme SSO',
        },
      }),
    });
    await product.samplesDone;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
    await product?.stop();
    op?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const ssoSignIn = async (login: string): Promise<Page> => {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
    await p.goto(product.url);
    await p.getByRole('link', { name: 'Sign in with Acme SSO' }).click();
    // The provider's own login page, then its consent page.
    await p.locator('input[name=login]').fill(login);
    await p.locator('input[name=password]').fill('any password the dev login accepts');
    await p.locator('button[type=submit]').click();
    await p.getByRole('button', { name: 'Continue' }).click();
    return p;
  };

  it('signs in through the provider with PKCE; the groups claim gives the role', async () => {
    const p = await ssoSignIn('olivia');
    await p.getByTestId('role').waitFor();
    assert.equal(await p.getByTestId('role').textContent(), 'analyst');
    assert.equal(await p.getByTestId('account-link').textContent(), 'olivia');
    await p.screenshot({ path: join(SHOTS, 'console-sso.png') });
    const session = (await p.evaluate(`fetch('/api/v1/session').then((r) => r.json())`)) as {
      user: string;
      method: string;
    };
    assert.deepEqual([session.user, session.method], ['olivia', 'oidc']);
    const u = product.auth.users.get('olivia');
    assert.ok(u);
    assert.deepEqual([u.source, u.roles, u.password], ['oidc', ['analyst'], null]);
    // An OIDC user cannot sign in with a password: there is none.
    const r = await fetch(`${product.url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'olivia', password: 'any password the dev login accepts' }),
    });
    assert.equal(r.status, 401);
  });

  it('refuses a user whose groups map to no role, and says why', async () => {
    const p = await ssoSignIn('ned');
    await p
      .getByRole('alert')
      .getByText(/Single sign-on did not complete: ned has no Vantage role/)
      .waitFor();
    assert.equal(product.auth.users.get('ned'), undefined);
  });

  it('refuses a callback that did not start in this browser', async () => {
    const r = await fetch(`${product.url}/api/v1/session/oidc/callback?code=x&state=forged`, {
      redirect: 'manual',
    });
    assert.equal(r.status, 302);
    assert.match(
      r.headers.get('location') ?? '',
      /sso_error=this%20sign-in%20did%20not%20start%20in%20this%20browser/,
    );
  });
});
