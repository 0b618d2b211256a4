import { parseArgs } from 'node:util';
import type { FrameHandler } from '../capture/frame.js';
import { createLiveCapture, LiveCaptureError } from '../capture/live.js';
import { createInlinePipeline, type Pipeline, type PipelineCounters } from '../capture/workers/pipeline.js';
import { createThreadedPipeline } from '../capture/workers/threaded.js';
import type { FlowConfig } from '../flow/flow-table.js';
import { FdWriter, type OutputFormat, RecordPrinter, summaryLine } from './output.js';

const HELP = `usage: vantage capture -i IFACE [options]

Capture packets from a network interface (libpcap), meter flows and print one record per line
when each flow ends. Stops at --duration, --count or Ctrl-C, then flushes every flow.
Needs root or CAP_NET_RAW, and the optional vantage-pcap addon (libpcap-dev + a C compiler).

options:
  -i, --interface IFACE        interface to capture on (required)
  --filter EXPR                tcpdump filter, applied in the kernel
  --duration S                 stop after S seconds
  --count N                    stop after N packets
  --snaplen N                  bytes kept of each packet (default 262144)
  --no-promisc                 do not put the interface in promiscuous mode
  --buffer-size BYTES          kernel capture buffer (default 33554432)
  --workers N                  decode/flow work on N worker threads (default 0: inline)
  --format ndjson|json|table   output format (default ndjson)
  --summary                    print packets, flows, drops, elapsed time and packets/s to stderr
  --no-records                 do not print records (with --summary: measure only)
  --idle-timeout S             flow idle timeout in seconds (default 60; TCP 300)
  --active-timeout S           emit interim records for flows longer than S seconds (default 1800)
  --no-vlan-key                do not keep flows apart by VLAN id
  --no-tunnel-key              do not keep flows apart by VNI / GRE key / ERSPAN session
  --no-l7                      flows only: skip application-layer parsing
`;

/** Options every live command shares with `ingest`: output, flow table, pipeline. */
export const COMMON_OPTIONS = {
  duration: { type: 'string' },
  count: { type: 'string' },
  workers: { type: 'string' },
  format: { type: 'string', default: 'ndjson' },
  summary: { type: 'boolean', default: false },
  'no-records': { type: 'boolean', default: false },
  'idle-timeout': { type: 'string' },
  'active-timeout': { type: 'string' },
  'no-vlan-key': { type: 'boolean', default: false },
  'no-tunnel-key': { type: 'boolean', default: false },
  'no-l7': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export interface CommonValues {
  duration?: string | undefined;
  count?: string | undefined;
  workers?: string | undefined;
  format?: string | undefined;
  summary?: boolean | undefined;
  'no-records'?: boolean | undefined;
  'idle-timeout'?: string | undefined;
  'active-timeout'?: string | undefined;
  'no-vlan-key'?: boolean | undefined;
  'no-tunnel-key'?: boolean | undefined;
  'no-l7'?: boolean | undefined;
}

export function positiveNumber(name: string, v: string | undefined, dflt: number, integer = false): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'} (got '${v}')`);
  return n;
}

/** A running source as the session sees it. */
export interface SessionSource {
  /** Start delivering frames; rejects with a message for the user. */
  start(onFrame: FrameHandler, tick: (sec: number, ns: number) => void): Promise<void>;
  stop(): Promise<void>;
  /** Counters merged into the summary. */
  summary(): Record<string, unknown>;
  /** Printed to stderr once capturing (tests wait for it). */
  banner: string;
}

/**
 * Run a live source into a pipeline and print records until --duration, --count, SIGINT or
 * SIGTERM; then flush every flow. Returns the exit status.
 */
export async function runSession(cmd: string, values: CommonValues, source: SessionSource): Promise<number> {
  const format = (values.format ?? 'ndjson') as OutputFormat;
  if (!['ndjson', 'json', 'table'].includes(format)) {
    process.stderr.write(`vantage ${cmd}: --format must be ndjson, json or table (got '${format}')\n`);
    return 2;
  }
  let duration: number;
  let count: number;
  let workers: number;
  let flow: Partial<FlowConfig>;
  try {
    duration = positiveNumber('duration', values.duration, Number.POSITIVE_INFINITY);
    count = positiveNumber('count', values.count, Number.POSITIVE_INFINITY, true);
    workers = values.workers === '0' ? 0 : positiveNumber('workers', values.workers, 0, true);
    const idle = positiveNumber('idle-timeout', values['idle-timeout'], 60);
    flow = {
      idleTimeout: idle,
      tcpIdleTimeout: values['idle-timeout'] === undefined ? 300 : idle,
      activeTimeout: positiveNumber('active-timeout', values['active-timeout'], 1800),
      keyVlan: !values['no-vlan-key'],
      keyTunnel: !values['no-tunnel-key'],
    };
  } catch (e) {
    process.stderr.write(`vantage ${cmd}: ${(e as Error).message}\n`);
    return 2;
  }
  const out = new FdWriter(1);
  const printer = new RecordPrinter(out, format);
  const records = !values['no-records'];
  let flows = 0;
  let recCount = 0;
  const sink = (rec: { type: string; [k: string]: unknown }): void => {
    recCount++;
    if (rec.type === 'flow') flows++;
    if (records) printer.print(rec);
  };
  const opts = { flow, l7: !values['no-l7'] };
  const pipeline: Pipeline =
    workers > 0 ? createThreadedPipeline(sink, { ...opts, workers }) : createInlinePipeline(sink, opts);

  let stopResolve: () => void = () => {};
  const stopped = new Promise<void>((r) => {
    stopResolve = r;
  });
  let seen = 0;
  let ignored = 0;
  const inner = pipeline.onFrame;
  const onFrame: FrameHandler =
    count === Number.POSITIVE_INFINITY
      ? inner
      : (f) => {
          if (seen >= count) {
            ignored++;
            return;
          }
          seen++;
          inner(f);
          if (seen === count) stopResolve();
        };
  const tick = (sec: number, ns: number): void => {
    pipeline.tick(sec, ns);
    if (records) out.flush();
  };
  await pipeline.ready;
  const t0 = process.hrtime.bigint();
  try {
    await source.start(onFrame, tick);
  } catch (e) {
    const msg = e instanceof LiveCaptureError ? e.message : (e as Error).message;
    process.stderr.write(`vantage ${cmd}: ${msg}\n`);
    await pipeline.finish();
    return e instanceof LiveCaptureError && e.kind === 'no_addon' ? 3 : 1;
  }
  process.stderr.write(`vantage ${cmd}: ${source.banner}\n`);
  const timer = duration === Number.POSITIVE_INFINITY ? null : setTimeout(stopResolve, duration * 1000);
  const onSignal = (): void => stopResolve();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  await stopped;
  if (timer) clearTimeout(timer);
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  await source.stop();
  const counters: PipelineCounters = await pipeline.finish();
  printer.end();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (values.summary) {
    process.stderr.write(
      summaryLine(
        counters,
        { flows, records: recCount, seconds: secs },
        {
          pipeline_drops: counters.drops,
          ...(ignored > 0 ? { ignored_after_count: ignored } : {}),
          ...source.summary(),
        },
      ),
    );
  }
  return 0;
}

export async function captureCommand(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (e) {
    process.stderr.write(`vantage capture: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values } = args;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const iface = values.interface;
  if (!iface) {
    process.stderr.write(`vantage capture: no interface given (-i IFACE)\n\n${HELP}`);
    return 2;
  }
  let snaplen: number;
  let bufferSize: number;
  try {
    snaplen = positiveNumber('snaplen', values.snaplen, 262_144, true);
    bufferSize = positiveNumber('buffer-size', values['buffer-size'], 32 << 20, true);
  } catch (e) {
    process.stderr.write(`vantage capture: ${(e as Error).message}\n`);
    return 2;
  }
  let live: ReturnType<typeof createLiveCapture> | null = null;
  return runSession('capture', values, {
    banner: `capturing on ${iface}`,
    async start(onFrame, tick) {
      live = createLiveCapture(
        {
          iface,
          filter: values.filter ?? '',
          snaplen,
          promisc: !values['no-promisc'],
          bufferSize,
        },
        onFrame,
        {
          onTick: tick,
          onError: (e) => process.stderr.write(`vantage capture: ${iface}: ${e.message}\n`),
        },
      );
      await live.start();
      this.banner = `capturing on ${iface} (link type ${live.linkType}${values.filter ? `, filter '${values.filter}'` : ''})`;
    },
    async stop() {
      await live?.stop();
    },
    summary() {
      if (!live) return {};
      const c = live.refreshStats();
      return {
        captured_packets: c.packets,
        captured_bytes: c.bytes,
        kernel_received: c.kernelReceived,
        kernel_dropped: c.kernelDropped,
        interface_dropped: c.ifDropped,
      };
    },
  });
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      ...COMMON_OPTIONS,
      interface: { type: 'string', short: 'i' },
      filter: { type: 'string' },
      snaplen: { type: 'string' },
      'no-promisc': { type: 'boolean', default: false },
      'buffer-size': { type: 'string' },
    },
  });
}
