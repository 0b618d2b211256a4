/**
 * Attacks by the real tools, in two network namespaces joined by a veth pair (10.213.0.0/24,
 * nothing leaves the machine): nmap SYN-scans the victim, hping3 SYN-floods it from random
 * sources, hydra guesses passwords against a real sshd. tcpdump captures on the victim's side;
 * the capture goes through the sensor and the detectors like `vantage ingest`. Ground truth:
 * the attacker's address, the victim's address and what each tool was told to do.
 * Needs root and the Debian packages nmap, hping3, hydra, openssh-server, tcpdump, iproute2;
 * skips without them, fails under CI=true.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { detectCapture } from './harness.js';
import { capture, missingTools, nsPair, sh, sleep } from './netns-kit.js';

const TOOLS: [string, string][] = [
  ['ip', 'iproute2'],
  ['nmap', 'nmap'],
  ['hping3', 'hping3'],
  ['hydra', 'hydra'],
  ['/usr/sbin/sshd', 'openssh-server'],
  ['ssh-keygen', 'openssh-client'],
  ['tcpdump', 'tcpdump'],
];

test('real tools in network namespaces: nmap scan, hping3 SYN flood, hydra against sshd', async (t) => {
  const skip = missingTools(TOOLS);
  if (skip) return t.skip(skip);
  const [attacker, victim] = ['10.213.0.1', '10.213.0.2'];
  const dir = mkdtempSync(join(tmpdir(), 'vantage-realtools-'));
  const pair = nsPair(`vd${process.pid % 100_000}`, attacker, victim);
  const [A, V] = [pair.a, pair.b];
  const procs = pair.procs;
  t.after(() => {
    pair.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // sshd with its own keys and config, password logins without PAM delays.
  sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'hostkey')]);
  spawnSync('mkdir', ['-p', '/run/sshd']);
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `HostKey ${join(dir, 'hostkey')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'ListenAddress 0.0.0.0:22',
      'PasswordAuthentication yes',
      'UsePAM no',
      'MaxStartups 100',
      'LoginGraceTime 20',
      '',
    ].join('\n'),
  );
  const sshd = spawn(
    'ip',
    ['netns', 'exec', V, '/usr/sbin/sshd', '-D', '-e', '-f', join(dir, 'sshd_config')],
    { stdio: 'ignore' },
  );
  procs.push(sshd);
  const pcap = join(dir, 'victim.pcap');
  const dump = await capture(pair, V, pair.devB, pcap, ['-s', '128', '-B', '16384']);
  await sleep(500);

  const t0 = Date.now();
  sh(['ip', 'netns', 'exec', A, 'nmap', '-sS', '-n', '-Pn', '-T4', '-p', '1-1000', victim], 120_000);
  const t1 = Date.now();
  writeFileSync(join(dir, 'words'), `${Array.from({ length: 40 }, (_, i) => `guess${i}`).join('\n')}\n`);
  // hydra writes its restore file in its working directory: keep it in ours.
  const hy = spawnSync(
    'ip',
    [
      'netns',
      'exec',
      A,
      'hydra',
      '-l',
      'alice',
      '-P',
      join(dir, 'words'),
      '-t',
      '4',
      // Without a short wait hydra lingers ~60 s on its last connections.
      '-w',
      '5',
      '-I',
      `ssh://${victim}`,
    ],
    {
      cwd: dir,
      encoding: 'utf8',
      timeout: 90_000,
    },
  );
  assert.match(hy.stdout, /0 valid password/);
  const t2 = Date.now();
  // 40,000 SYNs at ~10,000/s from random sources; hping3 exits 1 when nothing answers, which is the case for spoofed sources.
  const hp = spawnSync(
    'ip',
    [
      'netns',
      'exec',
      A,
      'hping3',
      '-q',
      '-S',
      '-p',
      '80',
      '--rand-source',
      '-i',
      'u100',
      '-c',
      '40000',
      victim,
    ],
    {
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  assert.match(hp.stdout + hp.stderr, /40000 packets transmitted/);
  process.stdout.write(`# nmap ${t1 - t0} ms, hydra ${t2 - t1} ms, hping3 ${Date.now() - t2} ms\n`);
  await sleep(500);
  await dump.stop();

  const { alerts, flows } = await detectCapture(readFileSync(pcap));
  const summary = alerts.map((a) => `${a.detector} ${a.src_ip ?? ''}→${a.dst_ip ?? ''}`).join('; ');
  process.stdout.write(`# real tools: ${flows} flows, alerts: ${summary}\n`);
  assert.ok(
    alerts.some((a) => a.detector === 'scan.vertical' && a.src_ip === attacker && a.dst_ip === victim),
    'nmap scan',
  );
  assert.ok(
    alerts.some((a) => a.detector === 'ddos.syn_flood' && a.dst_ip === victim),
    'hping3 SYN flood',
  );
  assert.ok(
    alerts.some((a) => a.detector === 'bruteforce.ssh' && a.src_ip === attacker && a.dst_ip === victim),
    'hydra',
  );
});
