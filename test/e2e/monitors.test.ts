/**
 * Monitors in a real browser (Debian's chromium through playwright-core) against a real server
 * holding the three-tier capture: an analyst writes a monitor (the rule help catches a broken
 * rule before the server does), an evaluation fires one of its rules, the page shows the state,
 * the alert and the KPI chart with its threshold, a dashboard widget shows the monitor, a
 * viewer cannot change it, and deleting it closes its alert. Screenshots go to test-results/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { get, type Harness, startHarness } from '../api/harness.js';
import { benign, T0 } from '../policy/tiers.js';
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

const go = (p: Page, hash: string) => p.evaluate(`location.hash = ${JSON.stringify(hash)}`);
const RANGE = `${T0 * 1000}-${(T0 + 2 * 3600) * 1000}`;
const NAME = 'web-tls';
const FIRES = 'flows > 0.01 for 10m';
const QUIET = 'rtt_ms p95 > 5000 for 5m';

interface MonitorView {
  state: { rule: string; state: string; alert_id: string | null }[];
}

describe('monitors console (e2e, chromium)', { skip }, () => {
  let h: Harness;
  let browser: Browser;

  const signIn = async (token: string, role: string): Promise<Page> => {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
    p.on('dialog', (d) => void d.accept());
    await p.goto(h.base);
    await p.click('button:has-text("Sign in with an API token instead")');
    await p.fill('#token', token);
    await p.click('button[type=submit]');
    assert.equal(await p.getByTestId('role').textContent(), role);
    return p;
  };
  const card = (p: Page) => p.getByTestId(`monitor-${NAME}`);

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    h = await startHarness();
    // Only the test's evaluations at the capture's time count: the timer would evaluate "now",
    // where the 2024 capture has no data, and change the state under the assertions.
    await h.product.monitors.stop();
    const up = await fetch(`${h.base}/api/v1/captures?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.analyst}`, 'content-type': 'application/octet-stream' },
      body: trafficPcap(benign(1, T0, 2, false)),
    });
    assert.equal(up.status, 201);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  it('an analyst writes a monitor with the rule help; an evaluation fires it; the chart draws the threshold', async () => {
    const p = await signIn(h.analyst, 'analyst');
    await p.getByRole('navigation').getByRole('link', { name: 'Monitors' }).click();
    await p.getByText('No monitors yet').waitFor();
    await go(p, `#/monitors?t=${RANGE}`);
    await p.getByRole('button', { name: 'New monitor' }).click();
    const ed = p.getByTestId('monitor-editor');
    await ed.getByLabel('Name').fill(NAME);
    await ed.getByLabel(/Traffic watched/).fill('server_port = 443');
    await ed.getByLabel('Rules, one per line').fill(`${FIRES}\nbps p95 > 5`);
    const help = ed.getByTestId('rule-help');
    await help.getByText('p95 applies to rtt_ms and srt_ms, not to bps').waitFor();
    assert.equal(await ed.getByRole('button', { name: 'Save monitor' }).isDisabled(), true);
    await ed.getByLabel('Rules, one per line').fill(`${FIRES}\n${QUIET}`);
    await help.getByText('Fires when the p95 of handshake RTT (ms) stays above 5000 for 5 min.').waitFor();
    assert.equal(await help.locator('li[data-ok=false]').count(), 0);
    await ed.getByRole('button', { name: 'Save monitor' }).click();
    await card(p).waitFor();
    const saved = await get(h, `/api/v1/monitors/${NAME}`, h.viewer);
    assert.equal(saved.status, 200);
    assert.deepEqual(saved.json.rules, [FIRES, QUIET]);
    assert.equal(saved.json.filter, 'server_port = 443');

    await h.product.monitors.evaluate((T0 + 3600) * 1000);
    await h.product.alertHub.flush();
    const m = (await get(h, `/api/v1/monitors/${NAME}`, h.viewer)).json as unknown as MonitorView;
    assert.equal(m.state[0]?.state, 'firing');
    assert.notEqual(m.state[1]?.state, 'firing');
    await p.getByRole('button', { name: 'Refresh' }).click();
    await card(p).locator(`tr[data-rule="${FIRES}"][data-state=firing]`).waitFor();
    assert.equal(
      await card(p).locator(`tr[data-rule="${QUIET}"]`).getAttribute('data-state'),
      m.state[1]?.state,
    );
    assert.equal(await card(p).locator('.panel-head [data-state]').getAttribute('data-state'), 'firing');
    assert.equal(
      await card(p).getByRole('link', { name: 'open alert' }).getAttribute('href'),
      `#/alerts/${m.state[0]?.alert_id}?t=${RANGE}`,
    );
    const chart = card(p).locator(`[data-testid=monitor-chart][data-rule="${FIRES}"]`);
    await p.waitForFunction(
      `Number(document.querySelector('[data-testid=monitor-chart][data-rule="${FIRES}"]')?.dataset.points) > 0`,
    );
    assert.equal(await chart.getAttribute('data-threshold'), '0.01');
    assert.match(
      (await chart.locator('[role=img]').getAttribute('aria-label')) ?? '',
      /threshold 0\.01 \/s$/,
    );
    await p.screenshot({ path: join(SHOTS, 'console-monitors.png'), fullPage: true });

    // The dashboard widget: the monitor's state and its main KPI.
    await go(p, `#/dashboards?t=${RANGE}`);
    await p.getByLabel('New dashboard').fill('Ops');
    await p.getByRole('button', { name: 'Create' }).click();
    await p.getByTestId('dashboard-widgets').waitFor();
    await p.getByRole('button', { name: 'Edit' }).click();
    await p.getByRole('button', { name: 'Add monitor' }).click();
    const w = p.getByTestId('widget-editor').last();
    await w.getByLabel('Monitor shown').selectOption(NAME);
    await p.getByTestId('dashboard-save').click();
    const widget = p.getByTestId(`monitor-widget-${NAME}`);
    await widget.locator('.panel-head [data-state=firing]').waitFor();
    await widget.locator(`[data-testid=monitor-chart][data-rule="${FIRES}"]`).waitFor();
    await p.screenshot({ path: join(SHOTS, 'console-monitor-widget.png'), fullPage: true });
    await p.context().close();
  });

  it('a viewer sees the monitor but cannot change it; the analyst deletes it and its alert closes', async () => {
    const v = await signIn(h.viewer, 'viewer');
    await go(v, `#/monitors?t=${RANGE}`);
    await card(v).locator(`tr[data-rule="${FIRES}"][data-state=firing]`).waitFor();
    assert.equal(await v.getByRole('button', { name: 'New monitor' }).count(), 0);
    assert.equal(await card(v).getByRole('button', { name: 'Edit' }).count(), 0);
    assert.equal(await card(v).getByRole('button', { name: 'Delete' }).count(), 0);
    await v.context().close();

    const alertId = ((await get(h, `/api/v1/monitors/${NAME}`, h.viewer)).json as unknown as MonitorView)
      .state[0]?.alert_id;
    assert.ok(alertId);
    const p = await signIn(h.analyst, 'analyst');
    await go(p, `#/monitors?t=${RANGE}`);
    await card(p).getByRole('button', { name: 'Delete' }).click();
    await p.getByText('No monitors yet').waitFor();
    assert.equal((await get(h, `/api/v1/monitors/${NAME}`, h.viewer)).status, 404);
    await h.product.alertHub.flush();
    const a = await get(h, `/api/v1/alerts/${alertId}`, h.viewer);
    assert.equal((a.json.alert as { status: string }).status, 'closed');
    await p.context().close();
  });
});
