/**
 * Alerts in a real browser (Debian's chromium through playwright-core) against a real server
 * on the bundled sample captures: an alert about one of the sample's TCP connections is listed,
 * its PCAP downloads exactly that connection's packets (read back with tcpdump), an analyst
 * changes its status and a viewer cannot, the pivot links land on the host and on the flow,
 * the overview counts it, and the Sinks page answers. Screenshots go to test-results/.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
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
const tcpdump = spawnSync('tcpdump', ['--version']).status === 0;
if (!tcpdump && process.env.CI === 'true')
  throw new Error('tcpdump is missing: install the Debian package tcpdump');

/** Browser-side code as strings: the test project is compiled without the DOM library. */
const go = (p: Page, hash: string) => p.evaluate(`location.hash = ${JSON.stringify(hash)}`);

interface Flow {
  flow_id: number;
  first_ts: string;
  client_ip: string;
  client_port: number;
  server_ip: string;
  server_port: number;
  community_id: string | null;
  client_packets: number;
  server_packets: number;
}
interface AlertRow {
  alert_id: string;
  title: string;
  status: string;
  assignee: string | null;
  src_ip: string;
  dst_ip: string;
}

const TITLE = 'E2E: ET POLICY suspicious connection';

/**
 * Raise the alert the test is about the way a Suricata sensor does: one EVE "alert" line for
 * a connection of the sample data, posted to the events route with an ingest-only token.
 */
async function raiseAlert(product: Product, f: Flow): Promise<void> {
  const ingest = product.tokens.create('ingest', 'suricata').token;
  const eve = {
    timestamp: new Date(Date.parse(f.first_ts)).toISOString().replace('Z', '+0000'),
    flow_id: 1_234_567,
    event_type: 'alert',
    src_ip: f.client_ip,
    src_port: f.client_port,
    dest_ip: f.server_ip,
    dest_port: f.server_port,
    proto: 'TCP',
    alert: {
      action: 'allowed',
      gid: 1,
      signature_id: 2_013_028,
      rev: 7,
      signature: TITLE,
      category: 'Misc activity',
      severity: 1,
      metadata: { mitre_technique_id: ['T1071.001'] },
    },
  };
  const res = await fetch(`${product.url}/api/v1/events?format=eve`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ingest}`, 'content-type': 'application/x-ndjson' },
    body: `${JSON.stringify(eve)}\n`,
  });
  assert.equal(res.status, 202, await res.text());
  // The ingest token posts events and reads nothing.
  const read = await fetch(`${product.url}/api/v1/alerts`, {
    headers: { authorization: `Bearer ${ingest}` },
  });
  assert.equal(read.status, 403);
  await product.alertHub.flush();
}

describe('alerts console (e2e, chromium)', { skip }, () => {
  let product: Product;
  let dir: string;
  let browser: Browser;
  const tokens = { admin: '', analyst: '', viewer: '' };
  let flow: Flow;
  let alert: AlertRow;

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
    assert.equal(r.status, 200, `${path}: ${r.status}`);
    return r.json as T;
  };
  const signIn = async (token: string, role: string): Promise<Page> => {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
    await p.goto(product.url);
    await p.click('button:has-text("Sign in with an API token instead")');
    await p.fill('#token', token);
    await p.click('button[type=submit]');
    assert.equal(await p.getByTestId('role').textContent(), role);
    return p;
  };
  const rowOf = (p: Page) => p.locator(`[data-testid=alerts-table] tr[data-alert-id="${alert.alert_id}"]`);

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'vantage-e2e-alerts-'));
    product = await startProduct({
      dataDir: join(dir, 'data'),
      host: '127.0.0.1',
      port: 0,
      log: silentLogger,
      print: (s) => {
        tokens.admin = /vt_[A-Za-z0-9_-]+/.exec(s)?.[0] ?? tokens.admin;
      },
    });
    await product.samplesDone;
    for (const role of ['analyst', 'viewer'] as const) {
      const r = await call('POST', '/api/v1/tokens', tokens.admin, { role, name: `e2e ${role}` });
      tokens[role] = String(r.json?.token);
    }
    // A short IPv4 TCP connection with packets both ways, so the alert's pcap window holds all of it.
    const flows = await api<{ items: Flow[] }>(
      `/api/v1/flows?after=2000-01-01&limit=100&filter=${encodeURIComponent('proto = 6 and duration_ms < 20000 and client_packets > 2 and server_packets > 2')}`,
    );
    const f = flows.items.find((x) => x.client_ip.includes('.') && x.community_id);
    assert.ok(f, 'the sample data has a short TCP connection');
    flow = f;
    await raiseAlert(product, flow);
    const list = await api<{ items: AlertRow[] }>(
      `/api/v1/alerts?after=2000-01-01&filter=${encodeURIComponent(`title = "${TITLE}"`)}`,
    );
    assert.equal(list.items.length, 1);
    alert = list.items[0]!;
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

  it('lists the alert; its detail shows the connection, evidence and technique; its PCAP is the connection', async () => {
    const p = await signIn(tokens.analyst, 'analyst');
    await p.getByRole('navigation').getByRole('link', { name: 'Alerts' }).click();
    const row = rowOf(p);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-status'), 'new');
    assert.match((await row.textContent()) ?? '', new RegExp(flow.server_ip.replaceAll('.', '\\.')));
    // The quick filters narrow on the server: a band above the alert's hides it.
    await p.getByLabel('Severity').selectOption('90');
    await p.getByText('No alerts match').waitFor();
    await p.getByLabel('Severity').selectOption('70');
    await row.waitFor();
    await p.getByLabel('Group by').selectOption('category');
    await p.getByTestId('alert-groups').locator('li[data-key=ids]').waitFor();
    assert.equal(
      await p.getByTestId('alert-groups').locator('li[data-key=ids]').getAttribute('data-value'),
      '1',
    );
    await p.screenshot({ path: join(SHOTS, 'console-alerts.png'), fullPage: true });

    await row.getByRole('link', { name: TITLE }).click();
    await p.getByTestId('alert-detail').waitFor();
    assert.equal(await p.locator('[data-field=src_ip] a').textContent(), flow.client_ip);
    assert.equal(await p.locator('[data-field=dst_ip] a').textContent(), flow.server_ip);
    // The EVE event's own fields are the evidence: its rule and classification.
    await p.getByTestId('evidence-table').waitFor();
    assert.match((await p.getByTestId('evidence-table').textContent()) ?? '', /signature_id2,013,028/);
    assert.equal(
      await p.getByRole('link', { name: 'T1071.001' }).getAttribute('href'),
      'https://attack.mitre.org/techniques/T1071/001/',
    );
    await p.screenshot({ path: join(SHOTS, 'console-alert.png'), fullPage: true });

    const button = p.getByTestId('alert-pcap');
    const pcapRoute =
      (await call('GET', `/api/v1/alerts/${alert.alert_id}/pcap`, tokens.analyst)).status !== 404;
    if (!pcapRoute) {
      assert.equal(await button.isDisabled(), true, 'no packet store: the button says why');
      return;
    }
    const [dl] = await Promise.all([p.waitForEvent('download'), button.click()]);
    const file = join(dir, 'alert.pcap');
    await dl.saveAs(file);
    if (!tcpdump) return;
    const out = spawnSync('tcpdump', ['-nn', '-r', file], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    const lines = out.stdout.split('\n').filter(Boolean);
    // Every flow of that 5-tuple (Community ID) around the alert: normally the one connection.
    const same = await api<{ items: Flow[] }>(
      `/api/v1/flows?after=2000-01-01&limit=100&filter=${encodeURIComponent(`community_id = "${flow.community_id}"`)}`,
    );
    const expected = same.items.reduce((s, x) => s + x.client_packets + x.server_packets, 0);
    assert.ok(expected >= flow.client_packets + flow.server_packets);
    assert.equal(lines.length, expected, 'tcpdump reads every packet of the connection');
    process.stdout.write(`# alert pcap: ${lines.length} packets of ${flow.community_id}\n`);
    const ends = [`${flow.client_ip}.${flow.client_port}`, `${flow.server_ip}.${flow.server_port}`];
    const foreign = lines.filter((l) => !ends.every((e) => l.includes(e)));
    assert.deepEqual(foreign, [], 'every packet is between the two ends of the connection');
    await p.context().close();
  });

  it('an analyst acknowledges it from the list and closes it from its page', async () => {
    const p = await signIn(tokens.analyst, 'analyst');
    await go(p, '#/alerts');
    const row = rowOf(p);
    await row.getByRole('checkbox').check();
    await p.getByTestId('alert-bulk').getByRole('button', { name: 'Acknowledge' }).click();
    await p.locator(`tr[data-alert-id="${alert.alert_id}"][data-status=acknowledged]`).waitFor();
    let now = await api<{ alert: AlertRow }>(`/api/v1/alerts/${alert.alert_id}`);
    assert.equal(now.alert.status, 'acknowledged');

    await go(p, `#/alerts/${alert.alert_id}`);
    const triage = p.getByTestId('alert-triage');
    await triage.getByRole('button', { name: 'Assign to me' }).click();
    await triage.getByText('Assign to me: saved.').waitFor();
    await triage.getByLabel('Notes').fill('Checked with the owner: backup job.');
    await triage.getByRole('button', { name: 'Save notes' }).click();
    await triage.getByText('Notes: saved.').waitFor();
    await triage.getByRole('button', { name: 'Close' }).click();
    await p.waitForFunction(`document.querySelector('[data-testid=alert-status]')?.textContent === 'Closed'`);
    now = await api<{ alert: AlertRow & { notes: string } }>(`/api/v1/alerts/${alert.alert_id}`);
    assert.equal(now.alert.status, 'closed');
    assert.equal(now.alert.assignee, 'e2e analyst');
    assert.equal((now.alert as AlertRow & { notes: string }).notes, 'Checked with the owner: backup job.');

    // "Still talking?" answers from the alert's time: the connection was seen since then.
    const presence = p.getByTestId('presence');
    await presence.getByLabel('Since').selectOption({ index: 3 });
    await presence.getByRole('button', { name: 'Still talking?' }).click();
    await p.getByTestId('presence-answer').waitFor();
    assert.ok(Number(await p.getByTestId('presence-answer').getAttribute('data-flows')) >= 1);
    await p.screenshot({ path: join(SHOTS, 'console-alert-closed.png'), fullPage: true });
    await p.context().close();
  });

  it('a viewer sees the alert but no way to change it, and the server refuses the change', async () => {
    const v = await signIn(tokens.viewer, 'viewer');
    await go(v, '#/alerts');
    await rowOf(v).waitFor();
    assert.equal(await v.getByTestId('alert-bulk').count(), 0);
    assert.equal(await rowOf(v).getByRole('checkbox').count(), 0);
    assert.equal(await rowOf(v).getByRole('combobox').count(), 0);
    await go(v, `#/alerts/${alert.alert_id}`);
    await v.getByTestId('alert-readonly').waitFor();
    assert.equal(await v.getByTestId('alert-triage').getByRole('button').count(), 0);
    assert.equal(await v.getByTestId('alert-pcap').isDisabled(), true);
    assert.match((await v.getByTestId('alert-pcap-msg').textContent()) ?? '', /analyst role/);
    await v.screenshot({ path: join(SHOTS, 'console-alert-viewer.png'), fullPage: true });
    // The hidden buttons are a courtesy; the server is the guard.
    const refused = await call('PATCH', `/api/v1/alerts/${alert.alert_id}`, tokens.viewer, { status: 'new' });
    assert.equal(refused.status, 403);
    await v.context().close();
  });

  it('cross-launch links open the host and the flow around the alert; the overview counts open alerts', async () => {
    const p = await signIn(tokens.admin, 'admin');
    const { links } = await api<{ links: Record<string, string> }>(`/api/v1/alerts/${alert.alert_id}`);
    // As a SIEM would: a full URL, not a click inside the console.
    await p.goto(product.url + links.src!);
    await p.waitForURL(/#\/host\//);
    assert.equal(await p.getByTestId('host-ip').textContent(), flow.client_ip);
    await p.getByTestId('host-alerts-table').locator(`tr[data-alert-id="${alert.alert_id}"]`).waitFor();
    await p.goto(product.url + links.flow!);
    await p.waitForURL(/#\/records\/flow\?filter=community_id/);
    await p.getByTestId('records-flow').locator(`tr[data-flow-id="${flow.flow_id}"]`).waitFor();

    // "Open dashboards at this time": the overview queries the context's window.
    const ctx = await api<{ window: { after: string; before: string } }>(
      `/api/v1/alerts/${alert.alert_id}/context`,
    );
    await go(p, `#/alerts/${alert.alert_id}`);
    // The overview's own chart (no filter): the host page's charts may still answer late.
    const kpi = p.waitForResponse(
      (r) =>
        r.url().includes('/api/v1/kpis?') && r.url().includes('metric=bps') && !r.url().includes('filter='),
    );
    await p.getByTestId('alert-dashboards').click();
    await p.waitForURL(/#\/overview\?from=/);
    const q = new URL((await kpi).url()).searchParams;
    assert.equal(q.get('after'), ctx.window.after);
    assert.equal(q.get('before'), ctx.window.before);

    // The alert is closed: the overview's open count is the server's. The panel may still show
    // the previous window's count while its new query runs: wait for the answer, then compare.
    const open = await api<{ items: unknown[] }>(
      `/api/v1/alerts?after=2000-01-01&limit=1000&fields=alert_id&filter=${encodeURIComponent('status in ("new", "acknowledged")')}`,
    );
    await go(p, '#/overview');
    const total = p.getByTestId('open-alerts-total');
    await total.waitFor();
    await p
      .waitForFunction(
        `document.querySelector('[data-testid=open-alerts-total]')?.getAttribute('data-value') === '${open.items.length}'`,
        undefined,
        { timeout: 10_000 },
      )
      .catch(() => undefined);
    assert.equal(Number(await total.getAttribute('data-value')), open.items.length);

    // Sinks: the list when the server has the alert bus, a plain message while it has not.
    await go(p, '#/sinks');
    const bus = (await call('GET', '/api/v1/sinks', tokens.admin)).status !== 404;
    if (bus) await p.getByText('Add a sink').waitFor();
    else await p.getByTestId('sinks-unavailable').waitFor();
    await p.screenshot({ path: join(SHOTS, 'console-sinks.png'), fullPage: true });
    await p.context().close();
  });
});
