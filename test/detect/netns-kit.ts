/**
 * Two network namespaces joined by a veth pair, with a packet capture on one side: the set-up
 * of the tests that run real attack tools (nmap, hping3, hydra, iodine) where nothing leaves
 * the machine.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CI = process.env.CI === 'true';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Run a command; throw with its stderr when it fails. */
export function sh(cmd: string[], timeoutMs = 60_000): void {
  const r = spawnSync(cmd[0] ?? '', cmd.slice(1), { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr || r.error?.message}`);
}

/**
 * What is missing to run (root, the binaries as [binary, Debian package], /dev/net/tun when
 * `tun`), as a skip message; false when nothing is. Under CI=true a missing piece throws.
 */
export function missingTools(
  tools: readonly [string, string][],
  opts: { tun?: boolean } = {},
): string | false {
  const root = process.getuid?.() === 0;
  if (opts.tun && root && !existsSync('/dev/net/tun')) {
    // the tunnel device node is missing in some containers: make it (root may)
    spawnSync('mkdir', ['-p', '/dev/net']);
    spawnSync('mknod', ['/dev/net/tun', 'c', '10', '200']);
  }
  const gone = tools.filter(([b]) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
  const why = [
    ...(root ? [] : ['root (network namespaces)']),
    ...(opts.tun && !existsSync('/dev/net/tun') ? ['/dev/net/tun (the tun driver)'] : []),
    ...gone.map(([b, p]) => `${b} (Debian package ${p})`),
  ];
  if (why.length === 0) return false;
  const msg = `needs ${why.join(', ')}`;
  if (CI) throw new Error(`CI=true and ${msg}`);
  return msg;
}

export interface NsPair {
  /** Namespace names, first and second side. */
  a: string;
  b: string;
  /** The veth ends, in a and in b. */
  devA: string;
  devB: string;
  /** Processes to kill at the end (the caller adds its own). */
  procs: ChildProcess[];
  /** Kill the processes and delete both namespaces. */
  close(): void;
}

/** Two namespaces named from `id`, a veth pair between them, addresses `/24` on each end. */
export function nsPair(id: string, addrA: string, addrB: string): NsPair {
  const [a, b] = [`${id}a`, `${id}b`];
  const [devA, devB] = [`${id}x`, `${id}y`];
  const procs: ChildProcess[] = [];
  const pair: NsPair = {
    a,
    b,
    devA,
    devB,
    procs,
    close() {
      for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
      spawnSync('ip', ['netns', 'del', a]);
      spawnSync('ip', ['netns', 'del', b]);
    },
  };
  sh(['ip', 'netns', 'add', a]);
  sh(['ip', 'netns', 'add', b]);
  sh(['ip', 'link', 'add', devA, 'netns', a, 'type', 'veth', 'peer', 'name', devB, 'netns', b]);
  for (const [ns, dev, addr] of [
    [a, devA, addrA],
    [b, devB, addrB],
  ] as const) {
    sh(['ip', '-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
    sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }
  return pair;
}

/**
 * tcpdump writing `pcap` from `dev` inside `ns`, resolved once it listens; `stop()` ends it with
 * SIGINT and waits, so the file is complete.
 */
export async function capture(
  pair: NsPair,
  ns: string,
  dev: string,
  pcap: string,
  extra: string[] = [],
): Promise<{ stop(): Promise<void> }> {
  const dump = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', dev, '-n', '-w', pcap, '-U', ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  pair.procs.push(dump);
  let err = '';
  dump.stderr?.on('data', (b) => {
    err += String(b);
  });
  for (let i = 0; i < 100 && !err.includes('listening'); i++) await sleep(50);
  return {
    async stop() {
      const exited = new Promise((r) => dump.once('exit', r));
      dump.kill('SIGINT');
      await exited;
    },
  };
}
