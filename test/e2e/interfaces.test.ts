/**
 * Interface utilisation from SNMP polls on a dashboard, in a real browser (Debian's chromium
 * through playwright-core): the busiest interfaces of the polled devices, named with ifName
 * and ifAlias, with their speed and the utilisation of the newest poll.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { type Harness, startHarness } from '../api/harness.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const WEB = join(ROOT, 'web', 'dist', 'index.html');
const missing = !existsSync(CHROMIUM);
if (missing && process.env.CI === 'true')
  throw new Error(
    `${CHROMIUM} is missing: install the Debian package chromium (CI must run the browser tests)`,
  );
if (!existsSync(WEB)) throw new Error(`${WEB} is missing: build the console with npm run build`);
const skip = missing ? 'install the Debian package chromium' : false;

describe('interface utilisation widget (e2e, chromium)', { skip }, () => {
  let h: Harness;
  let browser: Browser;
  const t = Date.now() - 10 * 60_000;

  before(async () => {
    h = await startHarness();
    const poll = (ts: number, idx: number, name: string, alias: string, inUtil: number) => ({
      ts: new Date(ts).toISOString(),
      device: '10.20.0.1',
      if_index: idx,
      if_name: name,
      if_alias: alias,
      if_descr: name,
      if_speed: 1e9,
      in_octets: 0,
      out_octets: 0,
      in_bps: inUtil * 1e9,
      out_bps: 0.01e9,
      in_util: inUtil,
      out_util: 0.01,
    });
    await h.product.store.append('snmp_interface', [
      poll(t - 60_000, 1, 'Gi0/0/1', 'uplink to ISP-A', 0.2),
      poll(t, 1, 'Gi0/0/1', 'uplink to ISP-A', 0.734),
      poll(t, 2, 'Gi0/0/2', 'office LAN', 0.05),
    ]);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  it('shows the busiest interface first, named, with the newest utilisation', async () => {
    const p = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    p.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
    await p.goto(h.base);
    await p.click('button:has-text("Sign in with an API token instead")');
    await p.fill('#token', h.analyst);
    await p.click('button[type=submit]');
    await p.getByTestId('role').waitFor();
    await p.evaluate(`location.hash = '#/dashboards?t=${t - 3_600_000}-${t + 600_000}'`);
    await p.getByLabel('New dashboard').fill('Links');
    await p.getByRole('button', { name: 'Create' }).click();
    await p.getByTestId('dashboard-widgets').waitFor();
    await p.getByRole('button', { name: 'Edit' }).click();
    await p.getByRole('button', { name: 'Add interface utilisation' }).click();
    await p.getByTestId('dashboard-save').click();
    const table = p.getByTestId('interfaces-widget');
    await table.waitFor();
    const rows = await table.locator('tbody tr').allInnerTexts();
    assert.equal(rows.length, 2);
    assert.match(rows[0]!, /Gi0\/0\/1\s+uplink to ISP-A/);
    assert.match(rows[0]!, /1,000 Mbit\/s/);
    assert.match(rows[0]!, /73\.4%/);
    assert.match(rows[1]!, /Gi0\/0\/2/);
    await p.close();
  });
});
