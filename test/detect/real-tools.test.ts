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
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { detectCapture } from './harness.js';

const CI = process.env.CI === 'true';
const TOOLS: [string, string][] = [
  ['ip', 'iproute2'],
  ['nmap', 'nmap'],
  ['hping3', 'hping3'],
  ['hydra', 'hydra'],
  ['/usr/sbin/sshd', 'openssh-server'],
  ['ssh-keygen', 'openssh-client'],
  ['tcpdump', 'tcpdump'],
];

function missing(): string | false {
  const gone = TOOLS.filter(([b]) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
  const why = [
    ...(process.getuid?.() === 0 ? [] : ['root (network namespaces)']),
    ...gone.map(([b, p]) => `${b} (Debian package ${p})`),
  ];
  if (why.length === 0) return false;
  const msg = `needs ${why.join(', ')}`;
  if (CI) throw new Error(`CI=true and ${msg}`);
  return msg;
}

const sh = (cmd: string[]): void => {
  const r = spawnSync(cmd[0] ?? '', cmd.slice(1), { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr || r.error?.message}`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('real tools in network namespaces: nmap scan, hping3 SYN flood, hydra against sshd', async (t) => {
  const skip = missing();
  if (skip) return t.skip(skip);
  const id = `vd${process.pid % 100_000}`;
  const [A, V] = [`${id}a`, `${id}v`];
  const [attacker, victim] = ['10.213.0.1', '10.213.0.2'];
  const dir = mkdtempSync(join(tmpdir(), 'vantage-realtools-'));
  const procs: ChildProcess[] = [];
  t.after(() => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', A]);
    spawnSync('ip', ['netns', 'del', V]);
    rmSync(dir, { recursive: true, force: true });
  });
  sh(['ip', 'netns', 'add', A]);
  sh(['ip', 'netns', 'add', V]);
  sh(['ip', 'link', 'add', `${id}x`, 'netns', A, 'type', 'veth', 'peer', 'name', `${id}y`, 'netns', V]);
  for (const [ns, dev, addr] of [
    [A, `${id}x`, attacker],
    [V, `${id}y`, victim],
  ] as const) {
    sh(['ip', '-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
    sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }
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
  const dump = spawn(
    'ip',
    ['netns', 'exec', V, 'tcpdump', '-i', `${id}y`, '-n', '-s', '128', '-B', '16384', '-w', pcap, '-U'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  procs.push(dump);
  let dumpErr = '';
  dump.stderr?.on('data', (b) => {
    dumpErr += String(b);
  });
  for (let i = 0; i < 50 && !dumpErr.includes('listening'); i++) await sleep(100);
  await sleep(500);

  const t0 = Date.now();
  sh(['ip', 'netns', 'exec', A, 'nmap', '-sS', '-n', '-Pn', '-T4', '-p', '1-1000', victim]);
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
  const exited = new Promise((r) => dump.once('exit', r));
  dump.kill('SIGINT');
  await exited;

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
