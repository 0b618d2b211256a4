/**
 * The console in a real browser (Debian's chromium through playwright-core) against a real
 * server on the bundled sample captures: login, overview numbers against the API, search →
 * host page, top talker → flows → flow → packets → pcap download, a saved dashboard, and a
 * viewer kept out of settings. Screenshots of each page go to test-results/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { type Product, startProduct } from '../../src/cli/start.js';
import { silentLogger } from '../../src/common/log.js';

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
const attrSet = (p: Page, sel: string, attr: string) =>
  p.waitForFunction(
    `(document.querySelector(${JSON.stringify(sel)})?.getAttribute(${JSON.stringify(attr)}) ?? '') !== ''`,
  );

interface Top {
  items: { key: string | number | null; bytes: number; packets: number; flows: number }[];
}

describe('console (e2e, chromium)', { skip }, () => {
  let product: Product;
  let dir: string;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let admin = '';
  const api = async <T>(path: string, token = admin): Promise<T> => {
    const r = await fetch(product.url + path, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200, `${path}: ${r.status}`);
    return (await r.json()) as T;
  };
  const shot = (name: string) =>
    page.screenshot({ path: join(SHOTS, `console-${name}.png`), fullPage: true });
  const pcapRoute = async () =>
    (await fetch(`${product.url}/api/v1/pcap?count=true`, { headers: { authorization: `Bearer ${admin}` } }))
      .status !== 404;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'vantage-e2e-'));
    product = await startProduct({
      dataDir: join(dir, 'data'),
      host: '127.0.0.1',
      port: 0,
      log: silentLogger,
      print: (s) => {
        admin = /vt_[A-Za-z0-9_-]+/.exec(s)?.[0] ?? admin;
      },
    });
    await product.samplesDone;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
    page = await ctx.newPage();
    page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
  });
  after(async () => {
    await browser?.close();
    await product?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs in with a token and shows the role; reports first paint', async () => {
    await page.goto(product.url);
    await page.click('button:has-text("Sign in with an API token instead")');
    await page.fill('#token', 'vt_wrong-token-for-the-test');
    await page.click('button[type=submit]');
    await page
      .getByRole('alert')
      .getByText(/token not recognised/)
      .waitFor();
    await shot('login');
    await page.fill('#token', admin);
    await page.click('button[type=submit]');
    assert.equal(await page.getByTestId('role').textContent(), 'admin');
    // First paint of a signed-in load (the token is kept for the tab's session).
    await page.reload();
    await page.getByTestId('role').waitFor();
    const paint = await page.evaluate(() => {
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      const fp = performance.getEntriesByName('first-paint')[0];
      return { fp: fp?.startTime ?? null, fcp: fcp?.startTime ?? null };
    });
    process.stdout.write(
      `# console first paint: ${paint.fp?.toFixed(0)} ms, first contentful paint: ${paint.fcp?.toFixed(0)} ms\n`,
    );
  });

  it('overview: the default range shows the sample data and every number equals the API', async () => {
    await go(page, '#/sensors');
    await page.getByTestId('store-stats').waitFor();
    const kpi = page.waitForResponse(
      (r) => r.url().includes('/api/v1/kpis?') && r.url().includes('metric=bps'),
    );
    await go(page, '#/overview');
    const kpiUrl = (await kpi).url();
    const flowsTile = page.getByTestId('total-flows');
    await attrSet(page, '[data-testid=total-flows]', 'data-value');
    const totals = await api<Top>('/api/v1/top?dim=proto&by=bytes&limit=1000');
    const sum = (k: 'bytes' | 'packets' | 'flows') => totals.items.reduce((a, i) => a + i[k], 0);
    assert.ok(sum('flows') > 0, 'the sample data is there');
    assert.equal(Number(await flowsTile.getAttribute('data-value')), sum('flows'));
    assert.equal(Number(await page.getByTestId('total-bytes').getAttribute('data-value')), sum('bytes'));
    assert.equal(Number(await page.getByTestId('total-packets').getAttribute('data-value')), sum('packets'));

    // Top talkers: the same keys and values, in the same order.
    const top = await api<Top>('/api/v1/top?dim=client_ip&by=bytes&limit=10');
    const bars = page.getByTestId('top-talkers').locator('li');
    await bars.first().waitFor();
    const shown = await bars.evaluateAll((els) =>
      els.map((e) => [e.getAttribute('data-key'), Number(e.getAttribute('data-value'))]),
    );
    assert.deepEqual(
      shown,
      top.items.map((i) => [String(i.key), i.bytes]),
    );

    // The traffic chart draws exactly what the API answers for the same query.
    const series = await api<{ series: { points: [string, number | null][] }[] }>(
      new URL(kpiUrl).pathname + new URL(kpiUrl).search,
    );
    const apiSum = series.series.reduce((a, s) => a + s.points.reduce((b, p) => b + (p[1] ?? 0), 0), 0);
    const data = page.getByTestId('kpi-bps-data');
    await page.waitForFunction(
      `Number(document.querySelector('[data-testid=kpi-bps-data]')?.getAttribute('data-points')) > 0`,
    );
    assert.ok(Math.abs(Number(await data.getAttribute('data-sum')) - apiSum) < 1e-6 * Math.max(1, apiSum));
    assert.equal(
      (await page.locator('[data-testid=kpi-bps] canvas').count()) > 0,
      true,
      'uPlot drew a canvas',
    );
    await page.getByTestId('top-countries').locator('li').first().waitFor();
    await shot('overview');
    // The other theme, for the record (both are tested by eye from these screenshots).
    await page.getByRole('button', { name: /Switch to the/ }).click();
    await page.waitForTimeout(200);
    await shot('overview-other-theme');
    await page.getByRole('button', { name: /Switch to the/ }).click();
  });

  it('search an IP, then open its host page', async () => {
    const top = await api<Top>('/api/v1/top?dim=client_ip&by=bytes&limit=1');
    const ip = String(top.items[0]!.key);
    await page.fill('#global-search', ip);
    await page.press('#global-search', 'Enter');
    await page.getByRole('tab', { name: /flow/ }).waitFor();
    await page.getByTestId('records-flow').locator('tbody tr').first().waitFor();
    await shot('search');
    await page.getByTestId('open-host').click();
    await attrSet(page, '[data-testid=host-flows]', 'data-value');
    assert.equal(await page.getByTestId('host-ip').textContent(), ip);
    const host = await api<{ flows: number }>(`/api/v1/hosts/${ip}`);
    assert.equal(Number(await page.getByTestId('host-flows').getAttribute('data-value')), host.flows);
    await page.waitForTimeout(300);
    await shot('host');
  });

  it('drills from a top-talker bar to its flows, one flow, its packets and its pcap', async () => {
    await go(page, '#/overview');
    const bar = page.getByTestId('top-talkers').locator('a.bar').first();
    await bar.waitFor();
    const ip = await page.getByTestId('top-talkers').locator('li').first().getAttribute('data-key');
    await bar.click();
    await page.waitForURL(/#\/records\/flow\?filter=/);
    const row = page.getByTestId('records-flow').locator('tbody tr[data-flow-id]').first();
    await row.waitFor();
    const ids = await page
      .getByTestId('records-flow')
      .locator('tbody tr[data-flow-id]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-flow-id')));
    // Every flow listed under the bar is the talker's.
    const listed = await api<{ items: { client_ip: string }[] }>(
      `/api/v1/flows?filter=${encodeURIComponent(`client_ip = ${ip}`)}&limit=100`,
    );
    assert.equal(ids.length, Math.min(50, listed.items.length));
    await shot('flows');
    const flowId = ids[0]!;
    await row.getByRole('link', { name: /Flow/ }).click();
    await page.waitForURL(new RegExp(`#/flow/${flowId}`));
    await page.locator('[data-field=client_ip]').waitFor();
    assert.equal(await page.locator('[data-field=client_ip]').textContent(), ip);
    const flow = (
      await api<{
        items: { client_ip: string; server_ip: string; client_packets: number; server_packets: number }[];
      }>(`/api/v1/flows?filter=flow_id%20%3D%20${flowId}`)
    ).items[0]!;
    const button = page.getByTestId('flow-pcap');
    if (!(await pcapRoute())) {
      assert.equal(await button.isDisabled(), true);
      assert.match((await page.getByTestId('flow-pcap-why').textContent()) ?? '', /no packet store/);
      await shot('flow');
      return;
    }
    const list = page.getByTestId('flow-packets').locator('ol.packets');
    await list.waitFor();
    const shownPackets = Number(await list.getAttribute('data-count'));
    assert.equal(shownPackets, flow.client_packets + flow.server_packets);
    await shot('flow');
    const [dl] = await Promise.all([page.waitForEvent('download'), button.click()]);
    const file = join(dir, 'flow.pcap');
    await dl.saveAs(file);
    const octets = (ipText: string) => Buffer.from(ipText.split('.').map(Number));
    const a = octets(flow.client_ip);
    const b = octets(flow.server_ip);
    let packets = 0;
    let foreign = 0;
    await readCaptureFile(file, (f) => {
      packets++;
      const bytes = f.buf.subarray(f.off, f.off + f.caplen);
      if (bytes.indexOf(a) < 0 || bytes.indexOf(b) < 0) foreign++;
    });
    assert.equal(packets, flow.client_packets + flow.server_packets, 'the pcap holds the flow’s packets');
    assert.equal(foreign, 0, 'every packet is between the flow’s two addresses');
  });

  it('builds a custom dashboard, saves it and finds it after a reload', async () => {
    await go(page, '#/dashboards');
    await page.getByLabel('New dashboard').fill('E2E traffic');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(/#\/dashboards\/[0-9a-f]{12}/);
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('button', { name: 'Add single number' }).click();
    await page.getByRole('button', { name: 'Add top-N table' }).click();
    const editors = page.getByTestId('widget-editor');
    assert.equal(await editors.count(), 4);
    // Arrange: the number first.
    await editors
      .nth(2)
      .getByRole('button', { name: /earlier/ })
      .click();
    await editors
      .nth(1)
      .getByRole('button', { name: /earlier/ })
      .click();
    await page.getByTestId('dashboard-name-input').fill('E2E traffic board');
    await page.getByTestId('dashboard-save').click();
    await page.getByText(/^Saved at/).waitFor();
    const url = page.url();
    await page.reload();
    await page.getByTestId('role').waitFor();
    await go(page, '#/dashboards');
    await page.getByTestId('dashboard-list').getByRole('link', { name: 'E2E traffic board' }).click();
    assert.equal(page.url(), url);
    await page.getByTestId('dashboard-widgets').waitFor();
    const kinds = await page
      .locator('.widget')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));
    assert.deepEqual(kinds, ['number', 'timeseries', 'bar', 'top']);
    const total = await api<Top>('/api/v1/top?dim=proto&by=bytes&limit=1000');
    await attrSet(page, '.big-number', 'data-value');
    assert.equal(
      Number(await page.locator('.big-number').getAttribute('data-value')),
      total.items.reduce((s, i) => s + i.bytes, 0),
    );
    await page.waitForTimeout(300);
    await shot('dashboard');
  });

  it('sensors and settings pages render for an admin', async () => {
    await go(page, '#/sensors');
    await page.getByTestId('store-stats').locator('table').waitFor();
    await shot('sensors');
    await go(page, '#/settings');
    await page.getByTestId('settings').locator('tbody tr').first().waitFor();
    await shot('settings');
  });

  it('a viewer sees no admin actions and cannot reach settings', async () => {
    const r = await fetch(`${product.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'viewer', name: 'e2e viewer' }),
    });
    const { token } = (await r.json()) as { token: string };
    const vctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const v = await vctx.newPage();
    await v.goto(product.url);
    await v.click('button:has-text("Sign in with an API token instead")');
    await v.fill('#token', token);
    await v.click('button[type=submit]');
    assert.equal(await v.getByTestId('role').textContent(), 'viewer');
    assert.equal(await v.getByRole('navigation').getByRole('link', { name: 'Settings' }).count(), 0);
    await go(v, '#/settings');
    await v.getByTestId('settings-denied').waitFor();
    assert.match((await v.getByRole('alert').textContent()) ?? '', /admins/);
    assert.equal(await v.getByText('Create token').count(), 0);
    await v.screenshot({ path: join(SHOTS, 'console-viewer-settings.png'), fullPage: true });
    // Packets need the analyst role: the flow page says why its button is disabled.
    const first = await api<{ items: { flow_id: number }[] }>('/api/v1/flows?limit=1');
    await go(v, `#/flow/${first.items[0]!.flow_id}`);
    await v.getByTestId('flow-pcap').waitFor();
    assert.equal(await v.getByTestId('flow-pcap').isDisabled(), true);
    assert.match((await v.getByTestId('flow-pcap-why').textContent()) ?? '', /analyst role/);
    await vctx.close();
  });
});
