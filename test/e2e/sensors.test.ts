/**
 * The Sensors page of a central in a real browser (Debian's chromium through playwright-core):
 * two real sensor processes (`vantage start`), each with a capture, and a central over them.
 * One sensor is stopped: the page shows it down, the other up with the version and lag it
 * reports itself, and a note that answers are partial without the stopped one. A sensor is
 * then added through the join-token form (a wrong token is refused). Screenshots go to
 * test-results/.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type Product, startProduct } from '../../src/cli/start.js';
import { silentLogger } from '../../src/common/log.js';
import { freePort } from '../support/peers.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SHOTS = join(ROOT, 'test-results');
const WEB = join(ROOT, 'web', 'dist', 'index.html');
const PCAPS = join(ROOT, 'test', 'fixtures', 'pcaps');
const BIN = join(ROOT, 'bin', 'vantage.js');

const missing = !existsSync(CHROMIUM);
if (missing && process.env.CI === 'true') {
  throw new Error(
    `${CHROMIUM} is missing: install the Debian package chromium (CI must run the browser tests)`,
  );
}
if (!existsSync(WEB)) throw new Error(`${WEB} is missing: build the console with npm run build`);
const skip = missing ? 'install the Debian package chromium' : false;

const JOIN = 'e2e-join-secret-0123456789';

interface Sensor {
  name: string;
  url: string;
  admin: string;
  analyst: string;
  proc: ChildProcess;
  exited: Promise<unknown>;
}

/** A sensor: its own `vantage start` process on a loopback port, with one capture uploaded. */
async function sensor(root: string, name: string, capture: string): Promise<Sensor> {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const cfg = join(dir, 'config.json');
  // No collector sockets: the test runs beside others.
  writeFileSync(cfg, JSON.stringify({ collect: { udp: [] }, sensor: name }));
  const proc = spawn(
    process.execPath,
    [
      BIN,
      'start',
      '--config',
      cfg,
      '--data',
      join(dir, 'data'),
      '--listen',
      `127.0.0.1:${port}`,
      '--no-samples',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise((r) => proc.once('exit', r));
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const url = `http://127.0.0.1:${port}`;
  // A sensor that fails to come up must not outlive the test (the runner would wait for it).
  try {
    return await ready();
  } catch (e) {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
    throw e;
  }
  async function ready() {
    const deadline = Date.now() + 60_000;
    let admin = '';
    for (;;) {
      admin = /vt_[A-Za-z0-9_-]+/.exec(out)?.[0] ?? '';
      if (admin) {
        const ok = await fetch(`${url}/api/v1/health`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
      }
      if (proc.exitCode !== null || Date.now() > deadline)
        throw new Error(`sensor ${name} did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const auth = { authorization: `Bearer ${admin}` };
    const t = await fetch(`${url}/api/v1/tokens`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'analyst', name: 'central' }),
    });
    const tb = await t.text();
    assert.equal(t.status, 201, tb);
    const analyst = String((JSON.parse(tb) as { token: string }).token);
    const up = await fetch(`${url}/api/v1/captures?wait=true`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: readFileSync(join(PCAPS, capture)),
    });
    assert.equal(up.status, 201, await up.text());
    return { name, url, admin, analyst, proc, exited };
  }
}

describe('sensors page of a central (e2e, chromium)', { skip }, () => {
  let root: string;
  let central: Product;
  let admin = '';
  let browser: Browser;
  const sensors: Sensor[] = [];

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    root = mkdtempSync(join(tmpdir(), 'vantage-e2e-sensors-'));
    sensors.push(await sensor(root, 's1', 'tcp-retransmissions-http.pcap'));
    sensors.push(await sensor(root, 's2', 'dns-udp-many-types-nxdomain.pcap'));
    central = await startProduct({
      dataDir: join(root, 'central'),
      host: '127.0.0.1',
      port: 0,
      samples: false,
      log: silentLogger,
      print: (s) => {
        admin = /vt_[A-Za-z0-9_-]+/.exec(s)?.[0] ?? admin;
      },
      central: {
        sensors: sensors.map((s) => ({ name: s.name, url: s.url, token: s.analyst })),
        timeoutMs: 3000,
        joinToken: JOIN,
      },
    });
    // s2 goes down: the central must say so rather than answer as if it had everything.
    const s2 = sensors[1]!;
    s2.proc.kill('SIGTERM');
    await s2.exited;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  after(async () => {
    await browser?.close();
    await central?.stop();
    for (const s of sensors) {
      if (s.proc.exitCode === null && s.proc.signalCode === null) {
        s.proc.kill('SIGTERM');
        await s.exited;
      }
    }
    rmSync(root, { recursive: true, force: true });
  });

  const signIn = async (token: string): Promise<Page> => {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
    await p.goto(central.url);
    await p.click('button:has-text("Sign in with an API token instead")');
    await p.fill('#token', token);
    await p.click('button[type=submit]');
    assert.equal(await p.getByTestId('role').textContent(), 'admin');
    return p;
  };

  it('shows each sensor up or down with its version, lag and rates, and the partial-answer note', async () => {
    const s1 = sensors[0]!;
    // What s1 says of itself, asked directly: the page must show the same version.
    const info = (await (
      await fetch(`${s1.url}/api/v1/federation/info`, { headers: { authorization: `Bearer ${s1.analyst}` } })
    ).json()) as { version: string; newest: string };
    assert.ok(info.newest, 's1 holds flows');
    const p = await signIn(admin);
    await p.getByRole('navigation').getByRole('link', { name: 'Sensors' }).click();
    const up = p.locator('[data-testid=sensor-s1]');
    const down = p.locator('[data-testid=sensor-s2]');
    await up.waitFor();
    await down.waitFor();
    assert.equal(await up.getAttribute('data-status'), 'up');
    assert.equal(await down.getAttribute('data-status'), 'down');
    const upText = (await up.textContent()) ?? '';
    assert.ok(upText.includes(info.version), `s1 row shows version ${info.version}: ${upText}`);
    assert.ok(upText.includes(s1.url), upText);
    // The capture's flows are from years ago: the lag is in days.
    assert.match(upText, /\d+ d/);
    const downText = (await down.textContent()) ?? '';
    assert.match(downText, /down/);
    assert.match(downText, /never|\d/);
    const note = p.getByTestId('partial-note');
    await note.waitFor();
    assert.match((await note.textContent()) ?? '', /s2/);
    assert.doesNotMatch((await note.textContent()) ?? '', /s1/);
    // A later look computes rates from two probes at least a second apart (records/s of s1:
    // 0 now, nothing new); a reload sooner than that keeps showing none.
    let row = '';
    for (let i = 0; i < 10 && !/\/s/.test(row); i++) {
      await new Promise((r) => setTimeout(r, 1100));
      await p.reload();
      await p.locator('[data-testid=sensor-s1][data-status=up]').waitFor();
      row = (await p.locator('[data-testid=sensor-s1]').textContent()) ?? '';
    }
    assert.match(row, /\/s/);
    await p.screenshot({ path: join(SHOTS, 'sensors-central.png'), fullPage: true });
  });

  it('adds a sensor with the join token and refuses a wrong one', async () => {
    const s1 = sensors[0]!;
    const p = await signIn(admin);
    await p.getByRole('navigation').getByRole('link', { name: 'Sensors' }).click();
    assert.match((await p.getByTestId('join-command').textContent()) ?? '', /\/api\/v1\/federation\/join/);
    const fill = async (joinToken: string) => {
      await p.getByTestId('join-name').fill('s3');
      await p.getByTestId('join-url').fill(s1.url);
      await p.getByTestId('join-token').fill(s1.analyst);
      await p.getByTestId('join-joinToken').fill(joinToken);
      await p.getByTestId('join-submit').click();
    };
    await fill('not-the-join-secret-at-all');
    await p.locator('[data-testid=join] [role=alert]').waitFor();
    assert.match((await p.locator('[data-testid=join] [role=alert]').textContent()) ?? '', /join token/);
    assert.equal(await p.locator('[data-testid=sensor-s3]').count(), 0);
    await fill(JOIN);
    await p.getByTestId('join-done').waitFor();
    const s3 = p.locator('[data-testid=sensor-s3][data-status=up]');
    await s3.waitFor();
    // The central's own list agrees with the page.
    const r = (await (
      await fetch(`${central.url}/api/v1/sensors`, { headers: { authorization: `Bearer ${admin}` } })
    ).json()) as { sensors: { name: string; status: string }[] };
    assert.deepEqual(r.sensors.map((s) => [s.name, s.status]).sort(), [
      ['s1', 'up'],
      ['s2', 'down'],
      ['s3', 'up'],
    ]);
    await p.screenshot({ path: join(SHOTS, 'sensors-joined.png'), fullPage: true });
  });
});
