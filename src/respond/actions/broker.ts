import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ActionAdapter, ActionRequest, PlannedCall } from './types.js';

/** What the adapter needs of the packet broker. */
export interface BrokerBlocks {
  block(key: string, cidr: string): void;
  unblock(key: string): boolean;
  blocks(): { key: string; cidr: string }[];
}

export interface BrokerAdapter extends ActionAdapter {
  /** Attach the product's broker (made after the adapters) and re-apply the kept blocks. */
  bind(b: BrokerBlocks | null, stateFile: string): void;
}

/**
 * Stop forwarding a host's traffic to the tools the Vantage broker feeds. The broker keeps
 * blocks in memory; the adapter keeps them in a file too, so a restart re-applies them.
 */
export function createBrokerAdapter(name: string): BrokerAdapter {
  let broker: BrokerBlocks | null = null;
  let file = '';
  const kept = (): Record<string, string> => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  };
  const keep = (m: Record<string, string>): void => {
    writeFileSync(`${file}.tmp`, JSON.stringify(m));
    renameSync(`${file}.tmp`, file);
  };
  const cidrOf = (req: ActionRequest): string => {
    const host = String(req.params.host ?? '');
    const v = isIP(host);
    if (v === 0) throw new Error(`broker: '${host.slice(0, 64)}' is not an IP address`);
    return `${host}/${v === 4 ? 32 : 128}`;
  };
  const need = (): BrokerBlocks => {
    if (!broker)
      throw new Error('broker: this Vantage has no packet broker (no live source or broker config)');
    return broker;
  };
  return {
    name,
    kind: 'broker',
    family: 'isolate',
    bind(b, stateFile) {
      broker = b;
      file = stateFile;
      if (b && existsSync(file)) for (const [k, c] of Object.entries(kept())) b.block(k, c);
    },
    plan: (req): PlannedCall[] => [
      {
        adapter: name,
        kind: 'broker',
        summary: `stop forwarding ${cidrOf(req)}`,
        request: { block: cidrOf(req), key: req.key },
      },
    ],
    async apply(req) {
      const b = need();
      const cidr = cidrOf(req);
      keep({ ...kept(), [req.key]: cidr });
      b.block(req.key, cidr);
      return { cidr };
    },
    async undo(req) {
      const m = kept();
      delete m[req.key];
      keep(m);
      need().unblock(req.key);
    },
    async inEffect(req) {
      return need()
        .blocks()
        .some((x) => x.key === req.key);
    },
  };
}
