import { parseArgs } from 'node:util';
import { readCaptureFile } from '../capture/capture-file.js';
import { createCaptureCollector } from '../collect/capture-hook.js';
import { AlertAggregator } from '../common/alerts.js';
import type { Columnar } from '../store/columnar.js';
import { watchColumns } from '../store/watching-store.js';
import { FdWriter, type OutputFormat, RecordPrinter, summaryLine } from './output.js';
import type { createWatchers } from './watchers.js';

const HELP = `usage: vantage ingest FILE... [options]

Decode pcap/pcapng captures (optionally .gz), meter flows and print one record per line.

options:
  --format ndjson|json|table   output format (default ndjson)
  --summary                    print packets, flows, weirds, elapsed time and packets/s to stderr
  --no-records                 do not print records (with --summary: measure only)
  --idle-timeout S             flow idle timeout in seconds (default 60; TCP 300)
  --active-timeout S           emit interim records for flows longer than S seconds (default 1800)
  --no-vlan-key                do not keep flows apart by VLAN id
  --no-tunnel-key              do not keep flows apart by VNI / GRE key / ERSPAN session
  --no-l7                      flows only: skip application-layer parsing (DNS, HTTP, TLS...)
  --policy FILE                check every flow against an approved policy (vantage policy);
                               violations are printed as alert records
  --intel FEED_FILE            match records against a feed file (.csv, .json STIX bundle or MISP
                               event, .dat Zeek intel, else one value a line; repeatable):
                               intel alerts and sighting records join the output
  --collect-port N             decode NetFlow/IPFIX/sFlow sent to UDP port N inside the capture
                               (repeatable; 2055, 4739, 6343, 9995 and 9996 always are)
  --no-detect                  do not run the behaviour detectors (scans, floods, brute force...)
`;

export async function ingestCommand(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (e) {
    process.stderr.write(`vantage ingest: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = args;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length === 0) {
    process.stderr.write(`vantage ingest: no capture file given\n\n${HELP}`);
    return 2;
  }
  const format = values.format as OutputFormat;
  if (!['ndjson', 'json', 'table'].includes(format)) {
    process.stderr.write(`vantage ingest: --format must be ndjson, json or table (got '${format}')\n`);
    return 2;
  }
  const num = (name: string, v: string | undefined, dflt: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0)
      throw new Error(`--${name} must be a positive number of seconds (got '${v}')`);
    return n;
  };
  const out = new FdWriter(1);
  const printer = new RecordPrinter(out, format);
  const records = !values['no-records'];
  let flows = 0;
  let recCount = 0;
  const idle = num('idle-timeout', values['idle-timeout'], 60);
  const print = (rec: { type: string; [k: string]: unknown }): void => {
    recCount++;
    if (rec.type === 'flow') flows++;
    if (records) printer.print(rec);
  };
  // Alerts are printed among the records, once per episode, when it ends.
  const alerts = new AlertAggregator(print, { mode: 'final', sensor: 'ingest' });
  let watchers: Awaited<ReturnType<typeof createWatchers>> = [];
  // Modules are loaded for what the run uses: flows-only start-up skips the detectors' and the
  // analyzers' code.
  const watching = !values['no-detect'] || (values.intel ?? []).length > 0 || values.policy !== undefined;
  try {
    if (watching)
      watchers = await (await import('./watchers.js')).createWatchers(
        {
          intel: values.intel ?? [],
          emit: print,
          ...(values.policy ? { policyFile: values.policy } : {}),
          ...(values['no-detect'] ? { detect: false as const } : {}),
        },
        alerts,
      );
  } catch (e) {
    process.stderr.write(`vantage ingest: ${(e as Error).message}\n`);
    return 2;
  }
  const sink = (rec: { type: string; [k: string]: unknown }): void => {
    print(rec);
    for (const w of watchers) w.onRecord(rec);
  };
  const collectPorts: number[] = [];
  for (const v of values['collect-port'] ?? []) {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) {
      process.stderr.write(`vantage ingest: --collect-port must be a UDP port number 1-65535 (got '${v}')\n`);
      return 2;
    }
    collectPorts.push(n);
  }
  // Nothing printed: flow, DNS, TLS and HTTP records go to the watchers as column batches (no
  // object per record).
  const columns = records
    ? undefined
    : (type: string, c: Columnar): void => {
        recCount += c.rows.length;
        if (type === 'flow') flows += c.rows.length;
        watchColumns(watchers, type, c);
      };
  const { createSensor } = values['no-l7']
    ? { createSensor: (await import('../flow/sensor-core.js')).createMeteringSensor }
    : await import('../flow/sensor.js');
  const sensor = createSensor(sink, {
    ...(columns ? { columns } : {}),
    l7: !values['no-l7'],
    // NetFlow/IPFIX/sFlow datagrams inside the capture become exported_flow records
    hooks: [createCaptureCollector(sink, { ports: collectPorts })],
    flow: {
      idleTimeout: idle,
      tcpIdleTimeout: values['idle-timeout'] === undefined ? 300 : idle,
      activeTimeout: num('active-timeout', values['active-timeout'], 1800),
      keyVlan: !values['no-vlan-key'],
      keyTunnel: !values['no-tunnel-key'],
    },
  });
  const t0 = process.hrtime.bigint();
  let failed = 0;
  for (const file of positionals) {
    let summary: Awaited<ReturnType<typeof readCaptureFile>>;
    try {
      summary = await readCaptureFile(file, sensor.onFrame);
    } catch (e) {
      process.stderr.write(`vantage ingest: ${file}: ${(e as Error).message}\n`);
      failed++;
      continue;
    }
    if (summary.error) {
      failed++;
      process.stderr.write(
        `vantage ingest: ${file}: ${summary.error.message}; ${summary.packets} packets read before it\n`,
      );
      sensor.fileWeird('capture_file_damaged', `${file}: ${summary.error.message}`, 0, 0);
    }
  }
  const counters = sensor.finish();
  for (const w of watchers) w.finish();
  alerts.flush();
  printer.end();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (values.summary) {
    process.stderr.write(summaryLine(counters, { flows, records: recCount, seconds: secs }));
  }
  return failed > 0 ? 1 : 0;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string', default: 'ndjson' },
      summary: { type: 'boolean', default: false },
      'no-records': { type: 'boolean', default: false },
      'idle-timeout': { type: 'string' },
      'active-timeout': { type: 'string' },
      'no-vlan-key': { type: 'boolean', default: false },
      'no-tunnel-key': { type: 'boolean', default: false },
      'no-l7': { type: 'boolean', default: false },
      'collect-port': { type: 'string', multiple: true },
      policy: { type: 'string' },
      intel: { type: 'string', multiple: true },
      'no-detect': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}
