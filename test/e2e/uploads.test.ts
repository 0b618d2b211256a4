/**
 * The Uploads page in a real browser (Debian's chromium through playwright-core) against a real
 * server: an analyst uploads a capture and the page follows its job to `done` with what it
 * stored; a decompression bomb ends `failed` with the limit that stopped it and what was kept;
 * the job list shows both; a viewer is told uploads need the analyst role.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type Harness, startHarness } from '../api/harness.js';
import { samplePcap } from '../api/pcap.js';
import { pcapFile } from '../support/pcap-writer.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
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

describe('uploads console (e2e, chromium)', { skip }, () => {
  let h: Harness;
  let browser: Browser;
  const signIn = async (token: string, role: string): Promise<Page> => {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
    await p.goto(h.base);
    await p.click('button:has-text("Sign in with an API token instead")');
    await p.fill('#token', token);
    await p.click('button[type=submit]');
    assert.equal(await p.getByTestId('role').textContent(), role);
    return p;
  };

  before(async () => {
    h = await startHarness();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  it('an analyst uploads, follows the job to its end, and sees a bomb stopped', async () => {
    const p = await signIn(h.analyst, 'analyst');
    await go(p, '#/uploads');
    await p.getByTestId('uploads').waitFor();
    await p.setInputFiles('input[type=file]', {
      name: 'small.pcap',
      mimeType: 'application/octet-stream',
      buffer: samplePcap(3, 1_732_000_000).pcap,
    });
    await p.click('form button[type=submit]');
    const job = p.getByTestId('upload-job');
    await p.locator('[data-testid=upload-job][data-state=done]').waitFor({ timeout: 60_000 });
    assert.match((await job.textContent()) ?? '', /small\.pcap: Done: \d+ packets, \d+ records stored\./);

    const rec = Buffer.alloc(16 + 65535);
    rec.writeUInt32LE(65535, 8);
    rec.writeUInt32LE(65535, 12);
    const m = gzipSync(rec);
    const bomb = Buffer.concat([gzipSync(pcapFile([])), ...Array.from({ length: 4096 }, () => m)]);
    await p.setInputFiles('input[type=file]', {
      name: 'bomb.pcap.gz',
      mimeType: 'application/gzip',
      buffer: bomb,
    });
    await p.click('form button[type=submit]');
    await p.locator('[data-testid=upload-job][data-state=failed]').waitFor({ timeout: 120_000 });
    assert.match(
      (await job.textContent()) ?? '',
      /bomb\.pcap\.gz: Failed: .*stopped at the inflation-ratio limit \(uploads\.maxInflationRatio = 100\).* \([\d,]+ packets kept\)\./,
    );
    await p.getByRole('cell', { name: 'failed', exact: true }).waitFor();
    await p.getByRole('cell', { name: 'done', exact: true }).waitFor();
  });

  it('a viewer is told uploads need the analyst role', async () => {
    const p = await signIn(h.viewer, 'viewer');
    await go(p, '#/uploads');
    await p.getByTestId('uploads-denied').waitFor();
    assert.match((await p.getByTestId('uploads-denied').textContent()) ?? '', /analyst role/);
  });
});
