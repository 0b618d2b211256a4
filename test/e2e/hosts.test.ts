/**
 * Host operating system and names end to end: a scapy-built capture of announcing hosts
 * (test/devices/gen_hosts.py) is loaded by a real server; the host API gives the OS verdict
 * with its evidence and the names with first/last seen, and the console's host page in
 * Chromium shows the same.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { HostName, HostOs } from '../../src/api/host-profile.js';
import { type Product, startProduct } from '../../src/cli/start.js';
import { silentLogger } from '../../src/common/log.js';
import { ROOT } from '../support/fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const PY = '/usr/bin/python3';
const WEB = join(ROOT, 'web', 'dist', 'index.html');
const need: string[] = [];
if (!existsSync(CHROMIUM)) need.push('chromium');
if (spawnSync(PY, ['-c', 'import scapy.all']).status !== 0) need.push('python3-scapy');
if (need.length > 0 && process.env.CI === 'true') throw new Error(`missing peers: ${need.join(', ')}`);
if (!existsSync(WEB)) throw new Error(`${WEB} is missing: build the console with npm run build`);
const skip = need.length > 0 ? `install the Debian packages ${need.join(', ')}` : false;

interface HostAnswer {
  os: HostOs | null;
  host_names: HostName[];
}

describe('host OS and names (API and console, chromium)', { skip }, () => {
  let dir: string;
  let product: Product;
  let browser: Browser;
  let page: Page;
  let admin = '';
  const api = async (ip: string): Promise<HostAnswer> => {
    const r = await fetch(`${product.url}/api/v1/hosts/${ip}?after=2000-01-01T00:00:00Z`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    assert.equal(r.status, 200);
    return (await r.json()) as HostAnswer;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vantage-e2e-hosts-'));
    const samples = join(dir, 'samples');
    mkdirSync(samples);
    const g = spawnSync(
      PY,
      [join(ROOT, 'test/devices/gen_hosts.py'), join(samples, 'hosts.pcap'), join(dir, 'labels.json')],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(g.status, 0, g.stderr);
    product = await startProduct({
      dataDir: join(dir, 'data'),
      host: '127.0.0.1',
      port: 0,
      samplesDir: samples,
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
    page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
  });
  after(async () => {
    await browser?.close();
    await product?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('API: the Windows client is Windows 10/11 from DHCP, SYN and User-Agent; its names merge across sources', async () => {
    const h = await api('10.2.0.101');
    assert.equal(h.os?.name, 'Windows 10/11');
    assert.deepEqual(h.os?.agreeing, ['dhcp', 'http', 'syn']);
    assert.deepEqual(h.os?.evidence.map((e) => e.source).sort(), ['dhcp', 'http', 'syn']);
    const dhcp = h.os!.evidence.find((e) => e.source === 'dhcp')!;
    assert.equal(dhcp.evidence, 'option 55 1,3,6,15,31,33,43,44,46,47,119,121,249,252; option 60 "MSFT 5.0"');
    assert.equal(dhcp.observations, 2);
    assert.ok(dhcp.first < dhcp.last);
    const names = Object.fromEntries(h.host_names.map((n) => [n.name, n.sources]));
    assert.deepEqual(names, {
      'DESKTOP-7QK2M1': ['dhcp'],
      'desktop-7qk2m1.corp.example': ['dhcp_fqdn', 'dns_ptr'],
    });
    const mac = await api('10.3.0.20');
    assert.deepEqual(
      mac.host_names.map((n) => n.name),
      ['alices-macbook.local'],
    );
    assert.equal(mac.os, null);
  });

  it('console: the host page shows the OS with its evidence and the names with first/last seen', async () => {
    const h = await api('10.2.0.101');
    await page.goto(product.url);
    await page.click('button:has-text("Sign in with an API token instead")');
    await page.fill('#token', admin);
    await page.click('button[type=submit]');
    await page.getByTestId('role').waitFor();
    await page.evaluate(
      `location.hash = '#/host/10.2.0.101?from=2023-11-14T00:00:00Z&to=2023-11-15T00:00:00Z'`,
    );
    await page.getByTestId('host-os-name').waitFor();
    assert.equal(await page.getByTestId('host-os-name').textContent(), h.os!.name);
    assert.equal(
      Number(await page.getByTestId('host-os-confidence').getAttribute('data-value')),
      h.os!.confidence,
    );
    assert.equal(
      await page.getByTestId('host-os-evidence').locator('tbody tr').count(),
      h.os!.evidence.length,
    );
    const syn = page.getByTestId('host-os-evidence').locator('tr[data-source=syn]');
    assert.match((await syn.textContent()) ?? '', /mss,nop,ws,nop,nop,sok/);
    const rows = page.getByTestId('host-names-table').locator('tbody tr');
    assert.equal(await rows.count(), h.host_names.length);
    const fqdn = page.getByTestId('host-names-table').locator('tr[data-name="desktop-7qk2m1.corp.example"]');
    assert.match((await fqdn.textContent()) ?? '', /DHCP FQDN, DNS PTR/);
    await page
      .screenshot({ path: join(ROOT, 'test-results', 'console-host-os.png'), fullPage: true })
      .catch(() => {});
  });
});
