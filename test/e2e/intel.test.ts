/**
 * Threat intel in a real browser (Debian's chromium through playwright-core) against a real
 * server, as issue 11 puts it: add a CSV feed in the console, ingest a capture with a planted
 * indicator, see the hit on the Alerts and host pages, run a retro-hunt.
 *
 * Two captures are built here. The "old" one talks to OLD_IOC two days ago and is uploaded
 * before any feed lists it, so nothing can match it live; the "new" one talks to LIVE_IOC an
 * hour ago and is uploaded after the feed is added in the console. The automatic hunt a feed
 * starts for its new indicators is turned off (retro_on_new: false), so the only thing that can
 * find the old sighting is the hunt the test starts from the Intel page.
 * Screenshots go to test-results/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type Product, startProduct } from '../../src/cli/start.js';
import { silentLogger } from '../../src/common/log.js';
import { parseIntelConfig } from '../../src/intel/config.js';
import { type Conversation, trafficPcap } from '../support/traffic.js';

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

const OLD_IOC = '198.51.100.77';
const LIVE_IOC = '203.0.113.66';
const OLD_HOST = '10.9.8.6';
const LIVE_HOST = '10.9.8.7';
const BYSTANDER = '10.9.8.8';
const FEED = 'e2e-csv';

const NOW = Date.now();
/** Two conversations an hour apart, two days ago: the old indicator "has been here" an hour. */
const OLD_T = Math.floor((NOW - 2 * 86_400_000) / 1000);
const LIVE_T = Math.floor((NOW - 3600_000) / 1000);
/** The console's shared range for every page: the last three days, as a link would carry it. */
const RANGE = `${NOW - 3 * 86_400_000}-${NOW + 60_000}`;

const conv = (client: string, server: string, sport: number, t: number, cport: number): Conversation => ({
  client,
  server,
  proto: 6,
  cport,
  sport,
  t,
});

interface AlertRow {
  alert_id: string;
  title: string;
  category: string;
  src_ip: string;
  dst_ip: string;
}
interface FlowRow {
  flow_id: number;
  client_ip: string;
  server_ip: string;
}

describe('threat intel console (e2e, chromium)', { skip }, () => {
  let product: Product;
  let dir: string;
  let browser: Browser;
  const tokens = { admin: '', analyst: '' };
  const csvPath = () => join(dir, 'iocs.csv');

  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const r = await fetch(product.url + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: r.status, json: (await r.json().catch(() => null)) as Record<string, unknown> | null };
  };
  const api = async <T>(path: string, token = tokens.admin): Promise<T> => {
    const r = await call('GET', path, token);
    assert.equal(r.status, 200, `${path}: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json as T;
  };
  const upload = async (convs: Conversation[]) => {
    const r = await fetch(`${product.url}/api/v1/captures?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.analyst}`, 'content-type': 'application/octet-stream' },
      body: trafficPcap(convs),
    });
    assert.equal(r.status, 201, await r.text());
  };
  const sightingsOf = (value: string) =>
    api<{ items: { host: string; retro: boolean; record_id: string }[] }>(
      `/api/v1/records/sighting?after=2000-01-01&filter=${encodeURIComponent(`indicator_value = "${value}"`)}`,
    );
  const signIn = async (token: string, role: string): Promise<Page> => {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
    p.on('dialog', (d) => void d.accept());
    await p.goto(product.url);
    await p.click('button:has-text("Sign in with an API token instead")');
    await p.fill('#token', token);
    await p.click('button[type=submit]');
    assert.equal(await p.getByTestId('role').textContent(), role);
    return p;
  };

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'vantage-e2e-intel-'));
    writeFileSync(
      csvPath(),
      [
        'indicator,type,confidence,severity,description',
        `${OLD_IOC},ip,90,85,E2E old command and control`,
        `${LIVE_IOC},ip,80,75,E2E live command and control`,
        '',
      ].join('\n'),
    );
    product = await startProduct({
      dataDir: join(dir, 'data'),
      host: '127.0.0.1',
      port: 0,
      log: silentLogger,
      samples: false,
      intel: parseIntelConfig({ retro_on_new: false }),
      print: (s) => {
        tokens.admin = /vt_[A-Za-z0-9_-]+/.exec(s)?.[0] ?? tokens.admin;
      },
    });
    const r = await call('POST', '/api/v1/tokens', tokens.admin, { role: 'analyst', name: 'e2e analyst' });
    tokens.analyst = String(r.json?.token);
    // The old traffic, stored before any feed names OLD_IOC.
    await upload([
      conv(OLD_HOST, OLD_IOC, 443, OLD_T, 40_001),
      conv(OLD_HOST, OLD_IOC, 443, OLD_T + 3600, 40_002),
      conv(BYSTANDER, '192.0.2.10', 80, OLD_T + 60, 40_003),
    ]);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  after(async () => {
    await browser?.close();
    await product?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an admin adds a CSV feed in the console; its status shows what it loaded', async () => {
    const p = await signIn(tokens.admin, 'admin');
    await p.getByRole('navigation').getByRole('link', { name: 'Intel' }).click();
    await p.getByTestId('intel-feeds').getByText('No feeds yet').waitFor();
    const form = p.getByTestId('intel-add-feed');
    await form.getByLabel('Name', { exact: true }).fill(FEED);
    await form.getByLabel('Kind', { exact: true }).selectOption('csv');
    await form.getByLabel('From', { exact: true }).selectOption('file');
    await form.getByLabel('File path', { exact: true }).fill(csvPath());
    await form.getByLabel('Schedule', { exact: true }).fill('0');
    const map = form.getByTestId('csv-mapping');
    await map.getByLabel('Value', { exact: true }).fill('indicator');
    await map.getByLabel('Type column', { exact: true }).fill('type');
    await map.getByLabel('Confidence column', { exact: true }).fill('confidence');
    await map.getByLabel('Severity column', { exact: true }).fill('severity');
    await map.getByLabel('Description column', { exact: true }).fill('description');
    await form.getByRole('button', { name: 'Add feed' }).click();
    await form.getByText(`Added ${FEED}: 2 indicators.`).waitFor();
    const row = p.locator(`[data-testid=intel-feeds-table] tr[data-feed="${FEED}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-state'), 'ok');
    assert.equal(await row.getAttribute('data-indicators'), '2');
    assert.equal(await p.getByTestId('intel-indicator-total').getAttribute('data-value'), '2');

    // The server holds what the form meant: the column mapping read confidence and severity.
    const { feeds } = await api<{ feeds: { name: string; indicators: number; error: string | null }[] }>(
      '/api/v1/intel/feeds',
    );
    assert.deepEqual(
      feeds.map((f) => [f.name, f.indicators, f.error]),
      [[FEED, 2, null]],
    );
    const look = await api<{ indicator: { severity: number; confidence: number; sources: string[] } }>(
      `/api/v1/intel/lookup?value=${LIVE_IOC}`,
    );
    assert.deepEqual(
      [look.indicator.severity, look.indicator.confidence, look.indicator.sources],
      [75, 80, [FEED]],
    );

    // Indicator search lists the feed's values.
    const ind = p.getByTestId('intel-indicators');
    await ind.getByLabel('Value contains', { exact: true }).fill('198.51');
    await ind.getByRole('button', { name: 'Search' }).click();
    await ind.locator(`tr[data-value="${OLD_IOC}"]`).waitFor();
    assert.equal(await ind.locator(`tr[data-value="${LIVE_IOC}"]`).count(), 0);

    // A feed whose file is missing says so in its status, and the console removes it.
    await form.getByLabel('Name', { exact: true }).fill('e2e-broken');
    await form.getByLabel('From', { exact: true }).selectOption('file');
    await form.getByLabel('File path', { exact: true }).fill(join(dir, 'no-such.csv'));
    await form.getByLabel('Schedule', { exact: true }).fill('0');
    await form.getByRole('button', { name: 'Add feed' }).click();
    const broken = p.locator('[data-testid=intel-feeds-table] tr[data-feed="e2e-broken"]');
    const refused = form.getByRole('alert');
    await Promise.race([broken.waitFor(), refused.waitFor()]);
    if ((await broken.count()) > 0) {
      assert.equal(await broken.getAttribute('data-state'), 'failing');
      assert.match((await broken.locator('[data-field=error]').textContent()) ?? '', /no-such\.csv|ENOENT/);
      await p.screenshot({ path: join(SHOTS, 'console-intel-feeds.png'), fullPage: true });
      await broken.getByRole('button', { name: 'Remove' }).click();
      await broken.waitFor({ state: 'detached' });
    } else {
      // The server may refuse a feed it cannot pull at all; the form says why.
      assert.match((await refused.textContent()) ?? '', /refused/);
    }
    const after = await api<{ feeds: { name: string }[] }>('/api/v1/intel/feeds');
    assert.deepEqual(
      after.feeds.map((f) => f.name),
      [FEED],
    );
    await p.context().close();
  });

  it('a capture with the planted indicator raises an intel alert, seen on the Alerts, host and flow pages', async () => {
    await upload([
      conv(LIVE_HOST, LIVE_IOC, 8443, LIVE_T, 41_001),
      conv(LIVE_HOST, '192.0.2.10', 80, LIVE_T, 41_002),
    ]);
    // Intel alerts are folded per indicator and host, and sightings batched: both are written
    // every few seconds, so wait for them.
    const until = async <T>(what: string, f: () => Promise<T | undefined>): Promise<T> => {
      for (let i = 0; i < 60; i++) {
        const v = await f();
        if (v !== undefined) return v;
        await new Promise((r) => setTimeout(r, 500));
      }
      throw new Error(`${what} did not appear within 30 s`);
    };
    const alert = await until('an intel alert naming the planted indicator', async () => {
      const list = await api<{ items: AlertRow[] }>(
        `/api/v1/alerts?after=2000-01-01&filter=${encodeURIComponent('category = "intel"')}`,
      );
      return list.items.find((a) => a.dst_ip === LIVE_IOC);
    });
    assert.equal(alert.src_ip, LIVE_HOST);
    const live = await until('the sighting of the planted indicator', async () => {
      const r = await sightingsOf(LIVE_IOC);
      return r.items.length > 0 ? r : undefined;
    });
    assert.equal(live.items.length, 1);
    assert.equal(live.items[0]!.host, LIVE_HOST);
    // Nothing matched the old traffic: the feed came after it.
    assert.equal((await sightingsOf(OLD_IOC)).items.length, 0);

    const p = await signIn(tokens.analyst, 'analyst');
    await go(p, `#/alerts?t=${RANGE}&filter=${encodeURIComponent('category = "intel"')}`);
    const row = p.locator(`[data-testid=alerts-table] tr[data-alert-id="${alert.alert_id}"]`);
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', new RegExp(LIVE_IOC.replaceAll('.', '\\.')));
    assert.equal(await p.locator('[data-testid=alerts-table] tbody tr[data-alert-id]').count(), 1);
    await p.screenshot({ path: join(SHOTS, 'console-intel-alerts.png'), fullPage: true });

    // The host page: its intel alert and the sighting behind it.
    await row.getByRole('link', { name: LIVE_HOST, exact: true }).click();
    await p.waitForFunction(`location.hash.startsWith('#/host/${LIVE_HOST}')`);
    assert.equal(await p.getByTestId('host-ip').textContent(), LIVE_HOST);
    const hits = p.getByTestId('host-intel');
    await hits.locator(`[data-testid=host-intel-alerts] tr[data-alert-id="${alert.alert_id}"]`).waitFor();
    const s = hits.locator(`[data-testid=host-intel-sightings] tr[data-indicator="${LIVE_IOC}"]`);
    await s.waitFor();
    assert.equal(await s.getAttribute('data-host'), LIVE_HOST);
    assert.match((await s.textContent()) ?? '', new RegExp(FEED));
    await hits.scrollIntoViewIfNeeded();
    await p.screenshot({ path: join(SHOTS, 'console-intel-host.png'), fullPage: true });

    // A bystander's host page has none.
    await go(p, `#/host/${BYSTANDER}?t=${RANGE}`);
    await p.getByTestId('host-intel').getByText('No sightings.').waitFor();

    // The flow page of the matching connection shows the same hit.
    const flows = await api<{ items: FlowRow[] }>(
      `/api/v1/flows?after=2000-01-01&filter=${encodeURIComponent(`server_ip = ${LIVE_IOC}`)}`,
    );
    assert.equal(flows.items.length, 1);
    assert.equal(live.items[0]!.record_id, String(flows.items[0]!.flow_id));
    await go(p, `#/flow/${flows.items[0]!.flow_id}?t=${RANGE}`);
    await p.locator(`[data-testid=flow-intel-sightings] tr[data-indicator="${LIVE_IOC}"]`).waitFor();
    await p.locator(`[data-testid=flow-intel-alerts] tr[data-alert-id="${alert.alert_id}"]`).waitFor();
    await p.context().close();
  });

  it('the search box answers what we know about a value', async () => {
    const p = await signIn(tokens.analyst, 'analyst');
    await go(p, `#/overview?t=${RANGE}`);
    await p.fill('#global-search', LIVE_IOC);
    await p.press('#global-search', 'Enter');
    const panel = p.getByTestId('intel-lookup');
    await panel.getByTestId('intel-known').waitFor();
    assert.equal(await panel.locator('[data-field=sources]').textContent(), FEED);
    assert.equal(await panel.locator('[data-field=confidence]').textContent(), '80');
    assert.match((await panel.locator('[data-field=severity]').textContent()) ?? '', /high.*75/);
    assert.equal(await panel.getByTestId('intel-lookup-sightings').getAttribute('data-value'), '1');
    await panel.locator(`tr[data-indicator="${LIVE_IOC}"][data-host="${LIVE_HOST}"]`).waitFor();
    await p.screenshot({ path: join(SHOTS, 'console-intel-lookup.png'), fullPage: true });

    // Listed but never seen yet (the retro-hunt has not run).
    await p.fill('#global-search', OLD_IOC);
    await p.press('#global-search', 'Enter');
    await p.waitForFunction(
      `document.querySelector('[data-testid=intel-lookup-sightings]')?.textContent === 'Never seen in this network'`,
    );
    // An address no feed lists; and a port, which no indicator can be, gets no panel.
    await p.fill('#global-search', '192.0.2.10');
    await p.press('#global-search', 'Enter');
    await panel.getByTestId('intel-unknown').waitFor();
    await p.fill('#global-search', '8443');
    await p.press('#global-search', 'Enter');
    await p.getByText(/Searched for a port/).waitFor();
    assert.equal(await panel.count(), 0);
    await p.context().close();
  });

  it('a retro-hunt started in the console finds the old traffic: since when, which hosts, how long', async () => {
    const p = await signIn(tokens.analyst, 'analyst');
    await go(p, `#/intel?t=${RANGE}`);
    const hunts = p.getByTestId('intel-hunts');
    await hunts.getByLabel('For', { exact: true }).fill(OLD_IOC);
    await hunts.getByLabel('From', { exact: true }).fill('-7d');
    await hunts.getByRole('button', { name: 'Start hunt' }).click();
    const current = hunts.getByTestId('hunt-current');
    await p.waitForFunction(
      `document.querySelector('[data-testid=hunt-current]')?.dataset.state === 'done'`,
      undefined,
      { timeout: 60_000 },
    );
    const f = current.locator(`[data-testid=hunt-findings] tr[data-value="${OLD_IOC}"]`);
    await f.waitFor();
    assert.equal(await f.getAttribute('data-flows'), '2');
    assert.equal(
      await f.locator('[data-field=first_seen]').textContent(),
      new Date(OLD_T * 1000).toISOString().slice(0, 19).replace('T', ' '),
    );
    assert.equal(await f.locator('[data-field=dwell]').textContent(), '1 h');
    assert.equal(
      await f
        .locator('[data-field=hosts] li')
        .allTextContents()
        .then((x) => x.join(',')),
      OLD_HOST,
    );
    assert.equal(await current.locator('[data-testid=hunt-findings] tbody tr').count(), 1);
    await p.screenshot({ path: join(SHOTS, 'console-intel-hunt.png'), fullPage: true });

    // The hunt recorded what it found: retro sightings on the old host's page.
    const old = await sightingsOf(OLD_IOC);
    assert.equal(old.items.length, 2);
    assert.ok(old.items.every((s) => s.retro && s.host === OLD_HOST));
    await f.locator('[data-field=hosts]').getByRole('link', { name: OLD_HOST, exact: true }).click();
    await p.waitForFunction(`location.hash.startsWith('#/host/${OLD_HOST}')`);
    await p
      .locator(`[data-testid=host-intel-sightings] tr[data-indicator="${OLD_IOC}"][data-retro=true]`)
      .first()
      .waitFor();

    // The chart counts every sighting in the range: the live one and the two found by the hunt.
    await go(p, `#/intel?t=${RANGE}`);
    await p.waitForFunction(
      `document.querySelector('[data-testid=intel-sightings-count]')?.dataset.value === '3'`,
    );
    await p.context().close();
  });
});
