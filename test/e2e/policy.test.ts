/**
 * The policy console in a real browser (Debian's chromium through playwright-core) against a
 * real server: an analyst proposes a policy from a capture of three application tiers and
 * renames a group, a viewer sees it but cannot approve, an admin reviews its edges (filters,
 * bulk) and approves it, the second capture's two stray flows appear as violations linked to
 * the Alerts page, and nobody approves their own proposal (the server's words are shown; a
 * second admin approves it). Screenshots go to test-results/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { PolicyDoc } from '../../src/policy/model.js';
import type { PolicyDiff } from '../../src/policy/repo.js';
import { type Harness, startHarness } from '../api/harness.js';
import { benign, T0, violations } from '../policy/tiers.js';
import { trafficPcap } from '../support/traffic.js';

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

/** Browser-side code as strings: the test project is compiled without the DOM library. */
const go = (p: Page, hash: string) => p.evaluate(`location.hash = ${JSON.stringify(hash)}`);
/** The time picker's range as a link parameter: the first capture's two hours. */
const FIRST = `${T0 * 1000}-${(T0 + 2 * 3600) * 1000}`;
/** Both captures: the second is a day later. */
const BOTH = `${T0 * 1000}-${(T0 + 86_400 + 3600) * 1000}`;

describe('policy console (e2e, chromium)', { skip }, () => {
  let h: Harness;
  let browser: Browser;
  let secondAdmin = '';
  let proposal = '';

  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const r = await fetch(h.base + path, {
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
    const text = await r.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {}
    return { status: r.status, json, text };
  };
  const api = async <T>(path: string, token = h.admin): Promise<T> => {
    const r = await call('GET', path, token);
    assert.equal(r.status, 200, `${path}: ${r.status} ${r.text}`);
    return r.json as T;
  };
  const signIn = async (token: string, role: string): Promise<Page> => {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
    // Approving with pending edges asks first; the test means it.
    p.on('dialog', (d) => void d.accept());
    await p.goto(h.base);
    await p.click('button:has-text("Sign in with an API token instead")');
    await p.fill('#token', token);
    await p.click('button[type=submit]');
    assert.equal(await p.getByTestId('role').textContent(), role);
    return p;
  };
  const shot = (p: Page, name: string) =>
    p.screenshot({ path: join(SHOTS, `console-${name}.png`), fullPage: true });
  const rows = (p: Page) => p.locator('[data-testid=edge-table] tbody tr[data-edge-id]');
  /** Wait until every edge row shown has the status. */
  const allRows = (p: Page, status: string) =>
    p.waitForFunction(
      `(() => { const r = [...document.querySelectorAll('[data-testid=edge-table] tbody tr[data-edge-id]')];
        return r.length > 0 && r.every((x) => x.getAttribute('data-status') === ${JSON.stringify(status)}); })()`,
    );
  const groupOf = (doc: PolicyDoc, ip: string) => doc.groups.find((g) => g.members.includes(ip))!;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    h = await startHarness();
    const up = await call(
      'POST',
      '/api/v1/captures?wait=true',
      h.analyst,
      trafficPcap(benign(1, T0, 2, true)),
    );
    assert.equal(up.status, 201, up.text);
    secondAdmin = h.product.tokens.create('admin', 'second admin').token;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  it('an analyst proposes from a time range and renames a group, but cannot approve', async () => {
    const p = await signIn(h.analyst, 'analyst');
    await p.getByRole('navigation').getByRole('link', { name: 'Policy' }).click();
    await p.getByTestId('proposal-list').getByText('No proposal is waiting.').waitFor();
    await go(p, `#/policy?t=${FIRST}`);
    await p.getByRole('button', { name: 'Propose from this time range' }).click();
    const view = p.getByTestId('proposal');
    await view.waitFor();
    proposal = String(await view.getAttribute('data-proposal-id'));
    const doc = (await api<{ proposal: PolicyDoc }>(`/api/v1/policy/proposals/${proposal}`)).proposal;
    // Learned from the picked range only: the first capture's flows, not the harness sample's.
    assert.ok(doc.window.after! >= new Date(T0 * 1000).toISOString(), doc.window.after!);
    assert.ok(doc.window.before! <= new Date((T0 + 2 * 3600) * 1000).toISOString(), doc.window.before!);
    const first = await api<{ items: unknown[] }>(
      `/api/v1/flows?limit=10000&fields=flow_id&after=${new Date(T0 * 1000).toISOString()}&before=${new Date((T0 + 2 * 3600) * 1000).toISOString()}`,
    );
    assert.equal(doc.window.flows, first.items.length);
    assert.equal(doc.created_by, 'test');
    assert.equal(await p.getByTestId('proposed-by').textContent(), 'test');
    assert.equal(await rows(p).count(), doc.edges.length);
    assert.equal(
      await p.getByTestId('policy-graph').locator('[data-group]').count(),
      doc.groups.length,
      'one node per group',
    );
    // The database tier is one group of its two servers, drawn right of the web tier.
    const db = groupOf(doc, '10.0.3.1');
    assert.deepEqual([...db.members].sort(), ['10.0.3.1', '10.0.3.2']);
    const x = async (id: string) =>
      Number(
        /translate\(([\d.]+)/.exec(
          (await p.locator(`[data-testid=policy-graph] [data-group="${id}"]`).getAttribute('transform')) ??
            '',
        )?.[1],
      );
    assert.ok((await x(groupOf(doc, '10.0.1.1').id)) < (await x(db.id)), 'web left of db');

    const groups = p.getByTestId('policy-groups');
    await groups.getByLabel(`Name of ${db.name}`).fill('database');
    await groups.locator(`tr[data-group="${db.id}"]`).getByRole('button', { name: 'Rename' }).click();
    await groups.locator(`tr[data-group="${db.id}"][data-name=database]`).waitFor();
    await p.locator(`[data-testid=policy-graph] [data-group="${db.id}"][data-name=database]`).waitFor();
    const renamed = (await api<{ proposal: PolicyDoc }>(`/api/v1/policy/proposals/${proposal}`)).proposal;
    assert.equal(renamed.groups.find((g) => g.id === db.id)?.name, 'database');

    // Analysts propose and edit groups; reviewing and approving is for admins.
    assert.equal(await p.getByTestId('approve-proposal').count(), 0);
    assert.equal(await p.getByTestId('edge-bulk').count(), 0);
    await shot(p, 'policy-proposal-analyst');
    await p.context().close();
  });

  it('a viewer sees the proposal and its graph but cannot propose, review or approve', async () => {
    const v = await signIn(h.viewer, 'viewer');
    await go(v, `#/policy?t=${FIRST}&proposal=${proposal}`);
    await v.getByTestId('proposal').waitFor();
    await v.getByTestId('propose-denied').waitFor();
    assert.ok((await rows(v).count()) > 5);
    assert.ok((await v.getByTestId('policy-graph').locator('path[data-status=pending]').count()) > 0);
    assert.equal(await v.getByRole('button', { name: 'Propose from this time range' }).count(), 0);
    assert.equal(await v.getByTestId('approve-proposal').count(), 0);
    assert.equal(await v.getByTestId('edge-bulk').count(), 0);
    assert.equal(await rows(v).first().getByRole('combobox').count(), 0);
    assert.equal(await v.getByTestId('policy-groups').getByRole('textbox').count(), 0);
    await shot(v, 'policy-viewer');
    // Hidden buttons are a courtesy; the server is the guard.
    assert.equal((await call('POST', `/api/v1/policy/proposals/${proposal}/approve`, h.viewer)).status, 403);
    await v.context().close();
  });

  it('an admin rejects the incidental edges, approves the stable ones in bulk, and approves the proposal', async () => {
    const p = await signIn(h.admin, 'admin');
    await go(p, `#/policy?t=${FIRST}&proposal=${proposal}`);
    await p.getByTestId('proposal').waitFor();
    const doc = (await api<{ proposal: PolicyDoc }>(`/api/v1/policy/proposals/${proposal}`)).proposal;
    const incidental = doc.edges.filter((e) => !e.stable).map((e) => e.id);
    const stable = doc.edges.filter((e) => e.stable).map((e) => e.id);
    assert.ok(incidental.length > 0, "the admin's SSH round and the workstations' file shares are one-offs");
    assert.ok(stable.length > 5);

    await p.getByTestId('edge-filter-stability').selectOption('incidental');
    await p.waitForFunction(
      `document.querySelector('[data-testid=edge-table]')?.getAttribute('data-rows') === '${incidental.length}'`,
    );
    assert.deepEqual(
      (await rows(p).evaluateAll((r) => r.map((x) => x.getAttribute('data-edge-id')))).sort(),
      [...incidental].sort(),
    );
    await p.getByLabel('Select every edge shown').check();
    await p.getByRole('button', { name: 'Reject selected' }).click();
    await allRows(p, 'rejected');

    await p.getByTestId('edge-filter-stability').selectOption('stable');
    await p.getByTestId('edge-filter-status').selectOption('pending');
    await p.waitForFunction(
      `document.querySelector('[data-testid=edge-table]')?.getAttribute('data-rows') === '${stable.length}'`,
    );
    await p.getByLabel('Select every edge shown').check();
    await p.getByRole('button', { name: 'Approve selected' }).click();
    await p.getByTestId('edge-msg').getByText(`Approve: ${stable.length} edges.`).waitFor();
    // Pending and stable: none left.
    await p.getByText('No edge matches these filters.').waitFor();
    await p.getByTestId('edge-filter-status').selectOption('all');
    await allRows(p, 'approved');
    await p.getByTestId('policy-graph').locator('path[data-status=approved]').first().waitFor();
    assert.equal(await p.getByTestId('policy-graph').locator('path[data-status=pending]').count(), 0);
    await shot(p, 'policy-review');

    const reviewed = (await api<{ proposal: PolicyDoc }>(`/api/v1/policy/proposals/${proposal}`)).proposal;
    assert.deepEqual(
      reviewed.edges
        .filter((e) => e.status === 'rejected')
        .map((e) => e.id)
        .sort(),
      [...incidental].sort(),
    );
    assert.equal(reviewed.edges.filter((e) => e.status === 'approved').length, stable.length);
    assert.ok(reviewed.edges.every((e) => e.reviewed_by === 'admin'));

    await p.getByTestId('approve-proposal').click();
    await p.getByTestId('policy-approved').waitFor();
    await p.waitForFunction(`document.querySelector('[data-testid=policy-active]')?.dataset.version === '1'`);
    await p.getByTestId('policy-versions').locator('tr[data-version="1"][data-status=approved]').waitFor();
    const versions = await api<{ items: { version: number; approved_by: string }[] }>(
      '/api/v1/policy/versions',
    );
    assert.deepEqual(
      versions.items.map((x) => [x.version, x.approved_by]),
      [[1, 'admin']],
    );
    assert.equal((await call('GET', `/api/v1/policy/proposals/${proposal}`, h.admin)).status, 404);

    // The versions' exports download with the token.
    const [dl] = await Promise.all([
      p.waitForEvent('download'),
      p
        .getByTestId('policy-versions')
        .locator('tr[data-version="1"]')
        .getByRole('button', { name: 'nftables' })
        .click(),
    ]);
    const nft = readFileSync((await dl.path())!, 'utf8');
    assert.match(nft, /table inet vantage_policy/);
    assert.match(nft, /10\.0\.3\.1/);
    await p.context().close();
  });

  it('the second capture raises the two violations, counted per group and linked to the Alerts page', async () => {
    const v = await signIn(h.viewer, 'viewer');
    await go(v, `#/policy?t=${BOTH}`);
    const table = v.getByTestId('policy-violations');
    await table.getByText('No alerts match').waitFor();
    await v.getByTestId('compliance-totals').waitFor();
    assert.equal(await v.getByTestId('compliance-totals').getAttribute('data-escaped'), '0');

    const up = await call(
      'POST',
      '/api/v1/captures?wait=true',
      h.analyst,
      trafficPcap([...benign(2, T0 + 86_400, 1, false), ...violations(T0 + 86_400)]),
    );
    assert.equal(up.status, 201, up.text);
    h.product.alerts.flush();
    await h.product.alertHub.flush();

    // The refresh button of the time picker asks again.
    await v
      .getByRole('button', { name: /refresh/i })
      .first()
      .click();
    await v.waitForFunction(
      `document.querySelectorAll('[data-testid=policy-violations] tr[data-alert-id]').length === 2`,
    );
    const text = (await table.textContent()) ?? '';
    assert.match(text, /10\.0\.1\.2/);
    assert.match(text, /10\.0\.3\.1/);
    assert.match(text, /198\.51\.100\.7/);
    await v.waitForFunction(
      `document.querySelector('[data-testid=compliance-totals]')?.getAttribute('data-escaped') === '3'`,
    );
    const comp = await api<{ groups: { id: string; escaped: number }[] }>('/api/v1/policy/compliance');
    for (const g of comp.groups.filter((x) => x.escaped > 0))
      assert.equal(
        await v
          .locator(`[data-testid=policy-compliance] tr[data-group="${g.id}"]`)
          .getAttribute('data-escaped'),
        String(g.escaped),
      );
    await shot(v, 'policy-violations');

    await v.getByTestId('policy-violations-panel').getByRole('link', { name: 'Open in Alerts' }).click();
    await v.waitForURL(/#\/alerts\?category=policy/);
    await v.waitForFunction(
      `document.querySelectorAll('[data-testid=alerts-table] tr[data-alert-id]').length === 2`,
    );
    await v.context().close();
  });

  it('nobody approves their own proposal: the server says so, another admin approves it', async () => {
    const p = await signIn(h.admin, 'admin');
    // Learned over both captures: the diff shows what is new since version 1.
    await go(p, `#/policy?t=${BOTH}`);
    await p.getByRole('button', { name: 'Propose from this time range' }).click();
    const view = p.getByTestId('proposal');
    await view.waitFor();
    const mine = String(await view.getAttribute('data-proposal-id'));
    const got = await api<{ proposal: PolicyDoc; diff: PolicyDiff }>(`/api/v1/policy/proposals/${mine}`);
    assert.equal(got.proposal.created_by, 'admin');
    const web = groupOf(got.proposal, '10.0.1.2');
    const db = groupOf(got.proposal, '10.0.3.1');
    const stray = `${web.id}>${db.id}:6/5432`;
    assert.ok(
      got.diff.added.some((e) => e.id === stray),
      `web → db is new since version 1 (${got.diff.added.map((e) => e.id).join(' ')})`,
    );
    const diff = p.getByTestId('policy-diff');
    await diff.locator(`li[data-edge-id="${stray}"]`).waitFor();
    assert.equal(
      await diff.locator('[data-added]').getAttribute('data-added'),
      String(got.diff.added.length),
    );

    await p.getByTestId('approve-proposal').click();
    const refusal = p.getByTestId('approve-error').getByRole('alert');
    await refusal.waitFor();
    assert.match(
      (await refusal.textContent()) ?? '',
      new RegExp(`admin proposed ${mine} and cannot approve it; another admin must`),
    );
    assert.equal((await call('GET', `/api/v1/policy/proposals/${mine}`, h.admin)).status, 200);
    await shot(p, 'policy-self-approval');
    await p.context().close();

    const s = await signIn(secondAdmin, 'admin');
    await go(s, `#/policy?t=${BOTH}&proposal=${mine}`);
    await s.getByTestId('approve-proposal').click();
    await s.getByTestId('policy-approved').waitFor();
    await s.waitForFunction(`document.querySelector('[data-testid=policy-active]')?.dataset.version === '2'`);
    await s.getByTestId('policy-versions').locator('tr[data-version="1"][data-status=superseded]').waitFor();
    const versions = await api<{ items: { version: number; approved_by: string }[] }>(
      '/api/v1/policy/versions',
    );
    assert.deepEqual(
      versions.items.map((x) => [x.version, x.approved_by]),
      [
        [1, 'admin'],
        [2, 'second admin'],
      ],
    );
    await s.context().close();
  });
});
