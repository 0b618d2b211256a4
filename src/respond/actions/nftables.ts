import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import type { ActionAdapter, ActionRequest, PlannedCall } from './types.js';

export interface NftablesConfig {
  /**
   * How to run `nft` on the gateway: a local helper command line (default ["nft"]; in a
   * namespace ["ip", "netns", "exec", "gw", "nft"]), or `ssh` to the gateway.
   */
  exec: string[];
  ssh?: { host: string; user: string; port: number; identity?: string };
  /** Table (family inet) Vantage owns on the gateway; nothing else there is touched. */
  table: string;
  timeoutMs: number;
}

const KEY = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Isolation on a Linux gateway: drop forwarded traffic from and to a host with two rules in a
 * table Vantage owns, each rule commented with the request's key so a retry finds it (no
 * second rule) and a release removes exactly what this run added.
 */
export function createNftablesAdapter(name: string, cfg: NftablesConfig): ActionAdapter {
  const argv = (args: string[]): [string, string[]] => {
    if (cfg.ssh) {
      const s = cfg.ssh;
      const quoted = args.map((a) => (/^[A-Za-z0-9._:/-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`));
      return [
        'ssh',
        [
          '-o',
          'BatchMode=yes',
          '-o',
          'StrictHostKeyChecking=accept-new',
          '-p',
          String(s.port),
          ...(s.identity ? ['-i', s.identity] : []),
          `${s.user}@${s.host}`,
          'nft',
          ...quoted,
        ],
      ];
    }
    return [cfg.exec[0]!, [...cfg.exec.slice(1), ...args]];
  };
  const nft = (args: string[]): Promise<string> => {
    const [cmd, a] = argv(args);
    return new Promise((resolve, reject) =>
      execFile(cmd, a, { timeout: cfg.timeoutMs, maxBuffer: 1 << 22 }, (err, out, stderr) =>
        err
          ? reject(new Error(`nft ${args.slice(0, 6).join(' ')}: ${String(stderr || err.message).trim()}`))
          : resolve(out),
      ),
    );
  };
  const target = (req: ActionRequest): { host: string; fam: 'ip' | 'ip6'; key: string } => {
    const host = String(req.params.host ?? '');
    const v = isIP(host);
    if (v === 0) throw new Error(`isolate: '${host.slice(0, 64)}' is not an IP address`);
    if (!KEY.test(req.key)) throw new Error('isolate: bad key');
    return { host, fam: v === 4 ? 'ip' : 'ip6', key: req.key };
  };
  const ruleArgs = (t: ReturnType<typeof target>, dir: 'saddr' | 'daddr'): string[] => [
    'add',
    'rule',
    'inet',
    cfg.table,
    'block',
    t.fam,
    dir,
    t.host,
    'counter',
    'drop',
    'comment',
    `"vantage:${t.key}"`,
  ];
  const ensure = async (): Promise<void> => {
    await nft(['add', 'table', 'inet', cfg.table]);
    // Forward hook, before a default filter (priority 0): the gateway stops routing the host.
    await nft([
      'add',
      'chain',
      'inet',
      cfg.table,
      'block',
      '{ type filter hook forward priority -10 ; policy accept ; }',
    ]);
  };
  /** Handles of the rules carrying this key. */
  const handles = async (key: string): Promise<number[]> => {
    let out: string;
    try {
      out = await nft(['-a', 'list', 'chain', 'inet', cfg.table, 'block']);
    } catch (e) {
      if (/No such file|does not exist/i.test((e as Error).message)) return [];
      throw e;
    }
    const hs: number[] = [];
    for (const line of out.split('\n')) {
      const m = /comment "vantage:([^"]+)".*# handle (\d+)/.exec(line);
      if (m && m[1] === key) hs.push(Number(m[2]));
    }
    return hs;
  };
  return {
    name,
    kind: 'nftables',
    family: 'isolate',
    plan(req): PlannedCall[] {
      const t = target(req);
      return (['saddr', 'daddr'] as const).map((d) => {
        const [cmd, a] = argv(ruleArgs(t, d));
        return {
          adapter: name,
          kind: 'nftables',
          summary: `drop ${d === 'saddr' ? 'from' : 'to'} ${t.host}`,
          request: { command: [cmd, ...a] },
        };
      });
    },
    async apply(req) {
      const t = target(req);
      await ensure();
      const have = await handles(t.key);
      if (have.length >= 2) return { host: t.host, handles: have, existed: true };
      // A half-done earlier attempt (one rule of two) is cleared and redone, never doubled.
      for (const h of have) await nft(['delete', 'rule', 'inet', cfg.table, 'block', 'handle', String(h)]);
      await nft(ruleArgs(t, 'saddr'));
      await nft(ruleArgs(t, 'daddr'));
      return { host: t.host, handles: await handles(t.key), existed: false };
    },
    async undo(req) {
      const t = target(req);
      for (const h of await handles(t.key)) {
        await nft(['delete', 'rule', 'inet', cfg.table, 'block', 'handle', String(h)]);
      }
    },
    async inEffect(req) {
      return (await handles(target(req).key)).length >= 2;
    },
  };
}
