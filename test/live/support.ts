import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createAnalyzers } from '../../src/analyze/index.js';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { pcapAvailable } from '../../src/capture/live.js';
import type { FlowConfig } from '../../src/flow/flow-table.js';
import { Sensor, type SensorRecord } from '../../src/flow/sensor.js';

/** Helpers for tests that need root, network namespaces, tcpreplay or the pcap addon. */

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const PCAPS = `${ROOT}test/fixtures/pcaps/`;
export const IN_CI = process.env.CI === 'true';

/** Ethernet fixtures whose frames fit a veth / UDP datagram, used by the live tests. */
export const LIVE_FIXTURES = [
  'dns-udp-many-types-nxdomain.pcap',
  'http-methods-many.pcap',
  'ipv6-mixed-tcp-udp-ssh-dns.pcap',
  'tls12-sni-chrome.pcap',
  'vlan-8021q-icmp-arp.pcap',
  'icmp-echo-pings.pcap',
  'tcp-retransmissions-http.pcap',
  'dhcp-dora.pcap',
];

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** What the namespace tests need that is missing here (empty when all is present). */
export function missingForNetns(extra: string[] = []): string[] {
  const miss: string[] = [];
  if (process.getuid?.() !== 0) miss.push('root (uid 0)');
  if (!has('ip')) miss.push('the ip command (iproute2)');
  for (const c of extra) if (!has(c)) miss.push(c);
  if (miss.length === 0) {
    const probe = `vtest-probe-${process.pid}`;
    const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
    if (r.status !== 0) miss.push(`network namespaces (ip netns add: ${r.stderr.trim()})`);
    else spawnSync('ip', ['netns', 'del', probe]);
  }
  return miss;
}

export function missingAddon(): string[] {
  return pcapAvailable()
    ? []
    : ['the vantage-pcap addon (libpcap-dev + a C compiler, then npm rebuild vantage-pcap)'];
}

/**
 * Skip the test naming what is missing; with CI=true a missing prerequisite is a failure, so a
 * CI machine that lost tcpreplay or root does not go green by skipping everything.
 */
export function requireOrSkip(t: TestContext, missing: string[]): boolean {
  if (missing.length === 0) return true;
  const msg = `needs ${missing.join(', ')}`;
  if (IN_CI) assert.fail(`CI=true and this test ${msg}`);
  t.skip(msg);
  return false;
}

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A network namespace made for one test; `cleanup()` removes it with everything inside. */
export class Netns {
  readonly name: string;
  constructor(tag: string) {
    this.name = `vtest-${tag}-${process.pid}`;
    spawnSync('ip', ['netns', 'del', this.name]);
    sh('ip', ['netns', 'add', this.name]);
    this.exec('ip', ['link', 'set', 'lo', 'up']);
    // A fresh interface would otherwise send IPv6 router solicitations, MLD and DAD.
    this.exec('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    this.exec('sysctl', ['-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
  }
  exec(cmd: string, args: string[]): string {
    return sh('ip', ['netns', 'exec', this.name, cmd, ...args]);
  }
  spawn(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.name, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
  }
  cleanup(): void {
    spawnSync('ip', ['netns', 'del', this.name]);
  }
}

/** Node arguments that run one of our CLI commands (main.ts dispatch is wired separately). */
export function cliArgs(cmd: 'capture' | 'mirror', args: string[]): string[] {
  const mod = `${ROOT}dist/src/cli/${cmd}.js`;
  const script = `const m = await import(${JSON.stringify(mod)}); process.exitCode = await m.${cmd}Command(JSON.parse(process.argv[1]));`;
  return ['--input-type=module', '-e', script, JSON.stringify(args)];
}

export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number>;
}

/** Start a child and resolve once its stderr shows `ready` (rejects if it exits first). */
export async function startAndWait(child: ChildProcess, ready: RegExp, timeoutMs = 15_000): Promise<Running> {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number>((r) => child.once('exit', (code) => r(code ?? -1)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${ready}; stderr: ${err}`)),
      timeoutMs,
    );
    const check = (): void => {
      if (ready.test(err)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready; stderr: ${err}`));
    });
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** The NDJSON records a command printed on its stdout. */
export function stdoutRecords(run: Running): SensorRecord[] {
  return run
    .stdout()
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as SensorRecord);
}

export function lastJsonLine(text: string): Record<string, unknown> {
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'));
  return JSON.parse(lines[lines.length - 1] ?? '{}') as Record<string, unknown>;
}

export interface FileFrame {
  bytes: Buffer;
  wirelen: number;
  tsSec: number;
  tsNs: number;
  linkType: number;
}

export async function readFrames(path: string): Promise<FileFrame[]> {
  const frames: FileFrame[] = [];
  await readCaptureFile(path, (f) =>
    frames.push({
      bytes: Buffer.from(f.buf.subarray(f.off, f.off + f.caplen)),
      wirelen: f.wirelen,
      tsSec: f.tsSec,
      tsNs: f.tsNs,
      linkType: f.linkType,
    }),
  );
  return frames;
}

/** Frames `tcpdump -r FILE FILTER` selects, read back from its pcap output. */
export async function tcpdumpFrames(path: string, filter: string): Promise<FileFrame[]> {
  const tmp = `/tmp/vtest-tcpdump-${process.pid}-${Math.random().toString(36).slice(2)}.pcap`;
  sh('tcpdump', ['-r', path, '-w', tmp, filter]);
  try {
    return await readFrames(tmp);
  } finally {
    spawnSync('rm', ['-f', tmp]);
  }
}

/**
 * Flow timeouts for comparing a capture file with the same packets replayed live: replay
 * compresses the file's idle gaps, so time-based flow ends must not apply to either side.
 */
export const NO_TIMEOUTS = { idleTimeout: 1e7, tcpIdleTimeout: 1e7, activeTimeout: 1e8, tcpEndTimeout: 1e7 };

/** Records of the Sensor (with analyzers) run over a capture file: the reference. */
export async function fileRecords(
  path: string,
  flow: Partial<FlowConfig> = NO_TIMEOUTS,
): Promise<SensorRecord[]> {
  const records: SensorRecord[] = [];
  const sensor = new Sensor((r) => records.push(r), flow);
  for (const a of createAnalyzers((r) => records.push(r), { l7: true })) sensor.addHook(a);
  await readCaptureFile(path, sensor.onFrame);
  sensor.finish();
  return records;
}

/**
 * What must match between flows of the same traffic seen at different times and through
 * different transports: the 5-tuple and per-direction counts (timestamps, wire bytes of the
 * carrier and tunnel fields differ by design).
 */
export function flowSummary(records: SensorRecord[], withApp = true): string[] {
  return records
    .filter((r) => r.type === 'flow')
    .map((r) => {
      const f = r as Record<string, unknown>;
      return [
        f.community_id,
        f.proto,
        `${f.client_ip}:${f.client_port}`,
        `${f.server_ip}:${f.server_port}`,
        f.client_packets,
        f.server_packets,
        f.client_ip_bytes,
        f.server_ip_bytes,
        f.client_payload_bytes,
        f.server_payload_bytes,
        withApp ? f.app : '',
      ].join(' ');
    })
    .sort();
}

export function typeCounts(records: SensorRecord[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const r of records) c[r.type] = (c[r.type] ?? 0) + 1;
  return c;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Send frames as VXLAN datagrams to HOST:PORT, at most `window` ahead of what `delivered()`
 * reports, so a loopback test never overruns a socket buffer.
 */
export async function sendVxlan(
  frames: FileFrame[],
  host: string,
  port: number,
  vni: number,
  delivered: () => number,
  window = 64,
): Promise<void> {
  const { createSocket } = await import('node:dgram');
  const sock = createSocket('udp4');
  try {
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      const b = Buffer.alloc(8 + f.bytes.length);
      b.writeUInt32BE(0x08000000, 0);
      b.writeUInt32BE(vni << 8, 4);
      f.bytes.copy(b, 8);
      await new Promise<void>((r, j) => sock.send(b, port, host, (e) => (e ? j(e) : r())));
      const deadline = Date.now() + 5000;
      while (i + 1 - delivered() > window && Date.now() < deadline) await sleep(1);
    }
    const deadline = Date.now() + 5000;
    while (delivered() < frames.length && Date.now() < deadline) await sleep(2);
  } finally {
    sock.close();
  }
}
