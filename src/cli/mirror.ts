import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type Broker, createBroker, parseBrokerConfig } from '../broker/index.js';
import type { FrameHandler } from '../capture/frame.js';
import {
  createGreReceiver,
  createTzspReceiver,
  createVxlanReceiver,
  type MirrorReceiver,
  parseHostPort,
  TZSP_PORT,
  VXLAN_PORT,
} from '../capture/mirror.js';
import { DEFAULT_RING } from '../capture/mirror-ring.js';
import { parseBytes } from '../common/budget.js';
import { COMMON_OPTIONS, runSession } from './capture.js';

const HELP = `usage: vantage mirror --vxlan HOST:PORT [options]

Receive mirrored traffic (AWS VPC Traffic Mirroring and other VXLAN senders, TZSP, GRE/ERSPAN),
meter flows (the VNI stays on every flow) and print one record per line; optionally replicate
the packets to other tools (--broker). Stops at --duration, --count or Ctrl-C.

sources (at least one; each may be repeated):
  --vxlan HOST:PORT            VXLAN over UDP (default port ${VXLAN_PORT}); e.g. 0.0.0.0:4789
  --tzsp HOST:PORT             TZSP over UDP (default port ${TZSP_PORT})
  --gre [BIND_IP]              GRE and ERSPAN II/III (raw IP protocol 47; root and the
                               vantage-pcap addon); --gre all for every local address

broker:
  --broker FILE                JSON file with a broker section: {"targets": [...]}
                               (see src/broker/config.ts); counters go to the summary

options:
  --ring SIZE|off              VXLAN, TZSP and GRE: a thread of the vantage-pcap addon drains each
                               socket into a ring of SIZE (default 32MiB), so bursts wait there
                               while this thread is busy; 'off' reads on this thread
  --duration S                 stop after S seconds
  --count N                    stop after N packets
  --workers N                  decode/flow work on N worker threads (default 0: inline)
  --format ndjson|json|table   output format (default ndjson)
  --summary                    print packets, flows, drops, elapsed time and packets/s to stderr
  --no-records                 do not print records
  --idle-timeout S / --active-timeout S / --no-vlan-key / --no-tunnel-key / --no-l7
                               as for 'vantage ingest'
`;

export async function mirrorCommand(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (e) {
    process.stderr.write(`vantage mirror: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values } = args;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  type Spec = { kind: 'vxlan' | 'tzsp'; host: string; port: number } | { kind: 'gre'; bind: string };
  const specs: Spec[] = [];
  let broker: Broker | null = null;
  let ring: { ringBytes: number } | undefined;
  try {
    if (values.ring !== 'off') {
      ring = { ringBytes: parseBytes('--ring', values.ring ?? DEFAULT_RING.ringBytes) };
      if (ring.ringBytes < 1 << 17 || ring.ringBytes > 2 ** 31)
        throw new Error(`--ring: a size from 128KiB to 2GiB, or 'off' (got '${values.ring}')`);
    }
    for (const v of values.vxlan ?? []) specs.push({ kind: 'vxlan', ...parseHostPort(v, VXLAN_PORT) });
    for (const v of values.tzsp ?? []) specs.push({ kind: 'tzsp', ...parseHostPort(v, TZSP_PORT) });
    for (const v of values.gre ?? []) specs.push({ kind: 'gre', bind: v === 'all' ? '' : v });
    if (values.broker) {
      const json = JSON.parse(readFileSync(values.broker, 'utf8')) as Record<string, unknown>;
      const cfg = parseBrokerConfig(json.broker ?? json);
      broker = createBroker(cfg);
      for (const t of cfg.targets) await broker.addTarget(t);
    }
  } catch (e) {
    process.stderr.write(`vantage mirror: ${(e as Error).message}\n`);
    return 2;
  }
  if (specs.length === 0) {
    process.stderr.write(`vantage mirror: no source given (--vxlan HOST:PORT, --tzsp, --gre)\n\n${HELP}`);
    return 2;
  }
  const receivers: MirrorReceiver[] = [];
  return runSession('mirror', values, {
    banner: '',
    async start(onFrame, tick) {
      const b = broker;
      const feed: FrameHandler = b
        ? (f) => {
            b.onFrame(f);
            onFrame(f);
          }
        : onFrame;
      if (b) await b.start();
      const hooks = {
        onError: (e: Error) => process.stderr.write(`vantage mirror: ${e.message}\n`),
      };
      for (const [i, s] of specs.entries()) {
        // One receiver drives the flow clock; ticking once per period is enough.
        const h = i === 0 ? { ...hooks, onTick: tick } : hooks;
        const r =
          s.kind === 'vxlan'
            ? createVxlanReceiver({ host: s.host, port: s.port, ...(ring ? { ring } : {}) }, feed, h)
            : s.kind === 'tzsp'
              ? createTzspReceiver({ host: s.host, port: s.port, ...(ring ? { ring } : {}) }, feed, h)
              : createGreReceiver(
                  { bindIp: s.kind === 'gre' ? s.bind : '', ...(ring ? { ring } : {}) },
                  feed,
                  h,
                );
        try {
          await r.start();
        } catch (e) {
          for (const x of receivers) await x.stop();
          await b?.stop();
          throw e;
        }
        receivers.push(r);
      }
      this.banner = `receiving ${receivers
        .map((r) => {
          const a = r.address();
          return r.kind === 'gre' ? `gre/erspan on ${a.address}` : `${r.kind} on ${a.address}:${a.port}`;
        })
        .join(', ')}${b ? ` (broker: ${b.stats().targets.length} targets)` : ''}`;
    },
    async stop() {
      for (const r of receivers) await r.stop();
      await broker?.stop();
    },
    summary() {
      const out: Record<string, unknown> = {
        receivers: receivers.map((r) => ({ kind: r.kind, ...r.address(), ...r.refreshStats() })),
      };
      if (broker) out.broker = broker.stats();
      return out;
    },
  });
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      ...COMMON_OPTIONS,
      vxlan: { type: 'string', multiple: true },
      tzsp: { type: 'string', multiple: true },
      gre: { type: 'string', multiple: true },
      broker: { type: 'string' },
      ring: { type: 'string' },
    },
  });
}
