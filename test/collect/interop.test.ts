/**
 * Interop with real peers from Debian packages, on 127.0.0.1 only:
 *  - softflowd (package softflowd) exports a capture's flows as NetFlow v5, v9 and IPFIX to
 *    Vantage's collector and to nfcapd (package nfdump); Vantage's totals equal nfdump's.
 *  - Vantage's IPFIX exporter sends the sensor's flows to nfcapd; nfdump shows the same flows.
 * Without the binaries the tests skip (naming the package); with CI=true they fail instead.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createIpfixExporter } from '../../src/collect/exporter/ipfix-exporter.js';
import { createCollector } from '../../src/collect/receiver.js';
import type { CollectedRecord, ExportedFlowRecord } from '../../src/collect/types.js';
import type { FlowRecord } from '../../src/schema/records.js';
import { fixture, ingest } from '../support/fixtures.js';
import { totals } from './build.js';

const CI = process.env.CI === 'true';

function have(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
}

/** Skip message when a peer is missing; throws under CI=true. */
function missing(bins: [string, string][]): string | false {
  const gone = bins.filter(([b]) => !have(b));
  if (gone.length === 0) return false;
  const msg = `needs ${gone.map(([b, pkg]) => `${b} (Debian package ${pkg})`).join(', ')}`;
  if (CI) throw new Error(`CI=true and ${msg}`);
  return msg;
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Nfcapd {
  port: number;
  dir: string;
  proc: ChildProcess;
}

async function startNfcapd(): Promise<Nfcapd> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-nfcapd-'));
  dirs.push(dir);
  const port = await freeUdpPort();
  const proc = spawn('nfcapd', ['-B', '4194304', '-w', dir, '-b', '127.0.0.1', '-p', String(port)], {
    stdio: 'ignore',
  });
  // Ready when its socket shows in /proc/net/udp (local address column, port in hex).
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const t0 = Date.now();
  while (Date.now() - t0 < 5000) {
    const tab = readFileSync('/proc/net/udp', 'utf8');
    if (tab.split('\n').some((l) => l.trim().split(/\s+/)[1]?.endsWith(hex))) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 100));
  return { port, dir, proc };
}

/** Stop nfcapd (it writes its file on SIGTERM) and read its totals with nfdump. */
async function nfdumpTotals(
  n: Nfcapd,
): Promise<{ records: number; packets: number; bytes: number; rows: string[][] }> {
  // nfcapd reads its socket in its own time; SIGTERM right after the burst loses what is queued.
  await new Promise((r) => setTimeout(r, 1000));
  const exited = new Promise((r) => n.proc.once('exit', r));
  n.proc.kill('SIGTERM');
  await exited;
  const r = spawnSync('nfdump', ['-R', n.dir, '-o', 'csv'], { encoding: 'utf8' });
  const lines = r.stdout.trim().split('\n');
  const i = lines.indexOf('Summary');
  assert.ok(i > 0, `nfdump output without summary: ${r.stdout.slice(0, 300)} ${r.stderr}`);
  const [flows, bytes, packets] = lines[i + 2]!.split(',').map(Number);
  const rows = lines
    .slice(1, i)
    .filter((l) => /^\d{4}-/.test(l))
    .map((l) => l.split(','));
  return { records: flows!, packets: packets!, bytes: bytes!, rows };
}

function softflowd(capture: string, version: number, port: number): void {
  // softflowd 1.1: -c none or it never exits in -r mode; -m large so nothing is force-expired.
  const r = spawnSync(
    'softflowd',
    ['-r', capture, '-v', String(version), '-n', `127.0.0.1:${port}`, '-c', 'none', '-m', '1000000'],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(r.status, 0, r.stderr);
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond() && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 20));
}

describe('interop: softflowd → Vantage collector and nfcapd', () => {
  for (const [version, capture] of [
    [5, 'http-methods-many.pcap'],
    [9, 'http-methods-many.pcap'],
    [10, 'ipv6-mixed-tcp-udp-ssh-dns.pcap'],
    [10, 'dns-udp-many-types-nxdomain.pcap'],
  ] as const) {
    test(`NetFlow/IPFIX version ${version} of ${capture}: Vantage totals = nfdump totals`, async (t) => {
      const skip = missing([
        ['softflowd', 'softflowd'],
        ['nfcapd', 'nfdump'],
        ['nfdump', 'nfdump'],
      ]);
      if (skip) return t.skip(skip);
      const got: CollectedRecord[] = [];
      const c = createCollector(
        { host: '127.0.0.1', udpPorts: [0], tcpPorts: [] },
        { sink: (b) => got.push(...b) },
      );
      await c.start();
      t.after(() => c.stop());
      const nf = await startNfcapd();
      t.after(() => nf.proc.kill('SIGKILL'));
      softflowd(fixture(capture), version, c.addresses().udp[0]!);
      softflowd(fixture(capture), version, nf.port);
      const peer = await nfdumpTotals(nf);
      await until(() => totals(got).records >= peer.records);
      c.flush();
      const st = c.stats();
      await c.stop();
      assert.ok(peer.records > 0);
      const mine = totals(got);
      assert.deepEqual(mine, { records: peer.records, packets: peer.packets, bytes: peer.bytes });
      assert.equal(st.totals.drops + st.socketDrops + st.totals.decodeErrors, 0);
    });
  }
});

describe('interop: Vantage IPFIX exporter → nfcapd → nfdump', () => {
  test('nfdump shows the flows Vantage stored (per direction: 5-tuple, packets, bytes)', async (t) => {
    const skip = missing([
      ['nfcapd', 'nfdump'],
      ['nfdump', 'nfdump'],
    ]);
    if (skip) return t.skip(skip);
    const res = await ingest(fixture('http-methods-many.pcap'));
    const flows = res.records.filter((r): r is FlowRecord => r.type === 'flow');
    assert.ok(flows.length > 10);
    const nf = await startNfcapd();
    t.after(() => nf.proc.kill('SIGKILL'));
    // Our own collector on the same export, to check the enterprise elements round-trip too.
    const got: CollectedRecord[] = [];
    const c = createCollector(
      { host: '127.0.0.1', udpPorts: [0], tcpPorts: [] },
      { sink: (b) => got.push(...b) },
    );
    await c.start();
    t.after(() => c.stop());
    const ex = createIpfixExporter({
      targets: [
        { host: '127.0.0.1', port: nf.port },
        { host: '127.0.0.1', port: c.addresses().udp[0]! },
      ],
    });
    await ex.start();
    ex.export(flows);
    await ex.stop();
    const want: string[] = [];
    for (const f of flows) {
      want.push(
        `${f.client_ip} ${f.server_ip} ${f.client_port} ${f.server_port} ${f.client_packets} ${f.client_ip_bytes}`,
      );
      if (f.server_packets > 0)
        want.push(
          `${f.server_ip} ${f.client_ip} ${f.server_port} ${f.client_port} ${f.server_packets} ${f.server_ip_bytes}`,
        );
    }
    const peer = await nfdumpTotals(nf);
    const seen = peer.rows.map((r) => `${r[3]} ${r[4]} ${r[5]} ${r[6]} ${r[11]} ${r[12]}`);
    assert.deepEqual(seen.sort(), want.sort());
    assert.equal(
      peer.packets,
      flows.reduce((a, f) => a + f.client_packets + f.server_packets, 0),
    );
    await until(() => totals(got).records === want.length);
    c.flush();
    await c.stop();
    const back = got.filter((r): r is ExportedFlowRecord => r.type === 'exported_flow');
    assert.equal(back.length, want.length);
    const withRtt = back.filter(
      (r) => (r.extra as Record<string, string> | null)?.['32473:1'] !== 'ffffffff',
    );
    assert.ok(withRtt.length > 0, 'TCP performance elements arrive');
  });
});
