/**
 * A real DNS tunnel: iodined is the authoritative server for a test domain in one network
 * namespace, the iodine client in another, joined by a veth pair (10.215.0.0/24, nothing leaves
 * the machine). The client is pointed straight at the server (no resolver), and 200 KB of
 * random bytes (incompressible, as exfiltrated files are) cross the tunnel over TCP between the
 * tunnel addresses. tcpdump captures the DNS on the server's side and `vantage ingest` reads the
 * capture: ground truth is the domain iodine was given and the client's address.
 * Needs root, /dev/net/tun and the Debian packages iodine, tcpdump, iproute2; skips without
 * them, fails under CI=true.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../support/fixtures.js';
import { capture, missingTools, nsPair, sleep } from './netns-kit.js';

const TOOLS: [string, string][] = [
  ['ip', 'iproute2'],
  ['iodine', 'iodine'],
  ['iodined', 'iodine'],
  ['tcpdump', 'tcpdump'],
];

test('iodine for real: a DNS tunnel between namespaces is a dns_tunnel alert naming the domain and the client', async (t) => {
  const skip = missingTools(TOOLS, { tun: true });
  if (skip) return t.skip(skip);
  const [client, server] = ['10.215.0.1', '10.215.0.2'];
  const domain = 'exfil-tunnel.test';
  const dir = mkdtempSync(join(tmpdir(), 'vantage-iodine-'));
  const pair = nsPair(`vi${process.pid % 100_000}`, client, server);
  const [C, S] = [pair.a, pair.b];
  const procs = pair.procs;
  t.after(() => {
    pair.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const pcap = join(dir, 'server.pcap');
  const dump = await capture(pair, S, pair.devB, pcap, ['udp port 53']);
  // -c: accept the client whatever its source address; the tunnel network is 10.53.7.0/27
  const iodined = spawn(
    'ip',
    ['netns', 'exec', S, 'iodined', '-f', '-c', '-l', server, '-P', 'vantage-test', '10.53.7.1/27', domain],
    { stdio: 'ignore' },
  );
  procs.push(iodined);
  await sleep(500);
  // -r: no raw UDP shortcut, every byte goes as DNS queries and answers
  let clientLog = '';
  const iodine = spawn(
    'ip',
    ['netns', 'exec', C, 'iodine', '-f', '-r', '-P', 'vantage-test', server, domain],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  procs.push(iodine);
  iodine.stdout?.on('data', (b) => {
    clientLog += String(b);
  });
  iodine.stderr?.on('data', (b) => {
    clientLog += String(b);
  });
  let up = false;
  for (let i = 0; i < 120 && !up; i++) {
    await sleep(250);
    const r = spawnSync('ip', ['-n', C, 'addr', 'show', 'dns0'], { encoding: 'utf8' });
    up = /inet 10\.53\.7\./.test(r.stdout);
  }
  assert.ok(up, `the iodine tunnel came up: ${clientLog.slice(-400)}`);

  // 200 KB of random bytes from the client to a TCP listener on the server's tunnel address
  const size = 200_000;
  const sink = spawn(
    'ip',
    [
      'netns',
      'exec',
      S,
      process.execPath,
      '-e',
      `let n=0;require('net').createServer(s=>{s.on('data',d=>n+=d.length);s.on('end',()=>{process.stdout.write(String(n));process.exit(0)})}).listen(9000,'10.53.7.1',()=>process.stdout.write('ready\\n'))`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  procs.push(sink);
  let got = '';
  sink.stdout?.on('data', (b) => {
    got += String(b);
  });
  for (let i = 0; i < 100 && !got.includes('ready'); i++) await sleep(50);
  const sent = spawnSync(
    'ip',
    [
      'netns',
      'exec',
      C,
      process.execPath,
      '-e',
      `const s=require('net').connect(9000,'10.53.7.1',()=>s.end(require('crypto').randomBytes(${size})));s.on('close',()=>process.exit(0))`,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(sent.status, 0, `sent through the tunnel: ${sent.stderr}`);
  const done = new Promise((r) => sink.once('exit', r));
  await Promise.race([done, sleep(30_000)]);
  assert.equal(got.replace('ready\n', ''), String(size), 'every byte crossed the tunnel');
  await sleep(300);
  await dump.stop();

  const out = spawnSync(
    process.execPath,
    [join(ROOT, 'bin/vantage.js'), 'ingest', pcap, '--format', 'ndjson'],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
      timeout: 120_000,
    },
  );
  assert.equal(out.status, 0, out.stderr);
  const recs = out.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const queries = recs.filter((r) => r.type === 'dns' && String(r.query).endsWith(`.${domain}`)).length;
  const alerts = recs.filter((r) => r.type === 'alert');
  process.stdout.write(
    `# iodine: ${queries} DNS queries under ${domain}; alerts: ${alerts.map((a) => `${a.detector} ${a.src_ip} ${(a.evidence as { domain?: string }).domain ?? ''}`).join('; ')}\n`,
  );
  assert.ok(queries >= 200, `${queries} tunnel queries captured`);
  const tunnel = alerts.find((a) => a.category === 'dns_tunnel');
  assert.ok(tunnel, 'a dns_tunnel alert');
  assert.equal(tunnel.src_ip, client);
  assert.equal((tunnel.evidence as { domain: string }).domain, domain);
  assert.deepEqual(tunnel.indicator, { type: 'domain', value: domain });
  assert.match(String(tunnel.title), new RegExp(domain.replace('.', '\\.')));
  // nothing else in the capture is called a tunnel
  assert.equal(alerts.filter((a) => a.category === 'dns_tunnel').length, 1);
});
