import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { ActionAdapter, ActionRequest, PlannedCall } from './types.js';

export interface BgpConfig {
  /** Directory of announcement files; `announce.conf` is the whole set, rewritten atomically. */
  dir: string;
  /** `blackhole`: a /32 (/128) with the BLACKHOLE community (RFC 7999); `flowspec`: discard to it. */
  mode: 'blackhole' | 'flowspec';
  nextHop: string;
  community: string;
}

/**
 * DDoS victims: an announcement file in ExaBGP's API syntax, one line per key, for ExaBGP (a
 * process reading the file) or GoBGP (a script feeding `gobgp global rib add`) to pick up.
 */
export function createBgpAdapter(name: string, cfg: BgpConfig): ActionAdapter {
  const line = (req: ActionRequest): string => {
    const host = String(req.params.host ?? '');
    const v = isIP(host);
    if (v === 0) throw new Error(`bgp: '${host.slice(0, 64)}' is not an IP address`);
    const pfx = `${host}/${v === 4 ? 32 : 128}`;
    return cfg.mode === 'flowspec'
      ? `announce flow route { match { destination ${pfx}; } then { discard; } }`
      : `announce route ${pfx} next-hop ${cfg.nextHop} community [${cfg.community}]`;
  };
  const file = (key: string) => join(cfg.dir, `${key.replace(/[^A-Za-z0-9._-]/g, '_')}.route`);
  const rebuild = (): void => {
    const lines = readdirSync(cfg.dir)
      .filter((n) => n.endsWith('.route'))
      .sort()
      .map((n) => readFileSync(join(cfg.dir, n), 'utf8').trim());
    writeFileSync(join(cfg.dir, 'announce.conf.tmp'), lines.length ? `${lines.join('\n')}\n` : '');
    renameSync(join(cfg.dir, 'announce.conf.tmp'), join(cfg.dir, 'announce.conf'));
  };
  return {
    name,
    kind: 'bgp',
    family: 'isolate',
    plan(req): PlannedCall[] {
      return [
        {
          adapter: name,
          kind: 'bgp',
          summary: line(req),
          request: { file: join(cfg.dir, 'announce.conf'), line: line(req) },
        },
      ];
    },
    async apply(req) {
      mkdirSync(cfg.dir, { recursive: true });
      writeFileSync(file(req.key), `${line(req)}\n`);
      rebuild();
      return { line: line(req) };
    },
    async undo(req) {
      mkdirSync(cfg.dir, { recursive: true });
      rmSync(file(req.key), { force: true });
      rebuild();
    },
    async inEffect(req) {
      try {
        return readFileSync(join(cfg.dir, 'announce.conf'), 'utf8').includes(line(req));
      } catch {
        return false;
      }
    },
  };
}
