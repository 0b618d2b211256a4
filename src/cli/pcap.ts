import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { UserError } from '../common/errors.js';
import { presence } from '../pcapstore/presence.js';
import { recordFiles } from '../pcapstore/record-files.js';
import { DEFAULT_RECORDER_CONFIG } from '../pcapstore/recorder.js';
import { searchToStream } from '../pcapstore/search.js';
import { PcapStore } from '../pcapstore/store.js';
import { parseTime } from '../pcapstore/time.js';

const HELP = `usage: vantage pcap <search|record|presence> [options]

  vantage pcap search --store DIR [--filter 'host 10.0.0.1 and port 443'] [--after T] [--before T]
                      [--ip A [--ip B]] [--cidr NET] [--port N] [--proto N] [--vlan N] [--vni N]
                      [--community-id ID] [--flow-id N] [--max-packets N] [--max-bytes N]
                      [--count] [--pcapng] -w FILE|-
      Write the matching packets as one pcap (or pcapng) file; '-w -' writes to stdout.
      --filter takes tcpdump syntax; results are what tcpdump -r SEGMENT FILTER selects.
      Times: ISO-8601, epoch seconds, or relative (-1h, -30m).

  vantage pcap record FILE... --store DIR [--segment-mb N] [--max-gb N] [--max-age-h N]
                      [--snaplen N] [--filter F]
      Record capture files into the store (segments + index, kept to the budget).

  vantage pcap presence --store DIR IP [IP] [--since T]
      When was this host (pair) last seen in the packet store?
`;

function fail(msg: string): number {
  process.stderr.write(`vantage pcap: ${msg}\n`);
  return 2;
}

export async function pcapCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === 'search') return await search(rest);
    if (sub === 'record') return await record(rest);
    if (sub === 'presence') return await presenceCmd(rest);
    if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
      process.stdout.write(HELP);
      return sub === undefined ? 2 : 0;
    }
    return fail(`unknown subcommand '${sub}'\n\n${HELP}`);
  } catch (e) {
    return fail((e as Error).message);
  }
}

function time(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = parseTime(v);
  if (t === null)
    throw new UserError(400, `--${name}: '${v}' is not a time (ISO-8601, epoch seconds or -1h)`);
  return t;
}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new UserError(400, `--${name} must be a non-negative integer (got '${v}')`);
  return n;
}

async function search(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      store: { type: 'string' },
      filter: { type: 'string' },
      after: { type: 'string' },
      before: { type: 'string' },
      ip: { type: 'string', multiple: true },
      cidr: { type: 'string' },
      port: { type: 'string' },
      proto: { type: 'string' },
      vlan: { type: 'string' },
      vni: { type: 'string' },
      'community-id': { type: 'string' },
      'flow-id': { type: 'string' },
      'max-packets': { type: 'string' },
      'max-bytes': { type: 'string' },
      count: { type: 'boolean', default: false },
      pcapng: { type: 'boolean', default: false },
      w: { type: 'string', short: 'w' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!values.store) return fail('--store DIR is required');
  if (!values.count && !values.w) return fail('give -w FILE (or -w - for stdout), or --count');
  const store = await PcapStore.open(values.store);
  const q = {
    ...(values.filter !== undefined && { filter: values.filter }),
    ...(values.after !== undefined && { after: time('after', values.after)! }),
    ...(values.before !== undefined && { before: time('before', values.before)! }),
    ...(values.ip !== undefined && { ip: values.ip }),
    ...(values.cidr !== undefined && { cidr: values.cidr }),
    ...(values.port !== undefined && { port: int('port', values.port)! }),
    ...(values.proto !== undefined && { proto: int('proto', values.proto)! }),
    ...(values.vlan !== undefined && { vlan: int('vlan', values.vlan)! }),
    ...(values.vni !== undefined && { vni: int('vni', values.vni)! }),
    ...(values['community-id'] !== undefined && { communityId: values['community-id'] }),
    ...(values['flow-id'] !== undefined && { flowId: int('flow-id', values['flow-id'])! }),
    ...(values['max-packets'] !== undefined && { maxPackets: int('max-packets', values['max-packets'])! }),
    ...(values['max-bytes'] !== undefined && { maxBytes: int('max-bytes', values['max-bytes'])! }),
  };
  let out: Writable | null = null;
  if (!values.count) out = values.w === '-' ? process.stdout : createWriteStream(values.w!);
  const res = await searchToStream(store, q, out, {
    format: values.pcapng ? 'pcapng' : 'pcap',
    countOnly: values.count,
  });
  if (out && out !== process.stdout) {
    out.end();
    await finished(out);
  }
  const summary = `${JSON.stringify({ packets: res.packets, bytes: res.bytes, truncated: res.truncated, segments: res.segmentsSearched, elapsed_ms: res.elapsedMs })}\n`;
  if (values.count) process.stdout.write(summary);
  else process.stderr.write(summary);
  return 0;
}

async function record(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      store: { type: 'string' },
      'segment-mb': { type: 'string' },
      'max-gb': { type: 'string' },
      'max-age-h': { type: 'string' },
      snaplen: { type: 'string' },
      filter: { type: 'string' },
    },
  });
  if (!values.store) return fail('--store DIR is required');
  if (positionals.length === 0) return fail('no capture file given');
  const num = (name: string, v: string | undefined, dflt: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0)
      throw new UserError(400, `--${name} must be a non-negative number (got '${v}')`);
    return n;
  };
  const r = await recordFiles(positionals, {
    dir: values.store,
    segmentBytes: Math.round(
      num('segment-mb', values['segment-mb'], DEFAULT_RECORDER_CONFIG.segmentBytes / 2 ** 20) * 2 ** 20,
    ),
    maxBytes: Math.round(num('max-gb', values['max-gb'], 0) * 2 ** 30),
    maxAgeSeconds: num('max-age-h', values['max-age-h'], 0) * 3600,
    snaplen: num('snaplen', values.snaplen, 0),
    filter: values.filter ?? null,
  });
  for (const e of r.errors) process.stderr.write(`vantage pcap record: ${e.file}: ${e.message}\n`);
  process.stderr.write(`${JSON.stringify(r.counters)}\n`);
  return r.errors.length > 0 ? 1 : 0;
}

async function presenceCmd(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { store: { type: 'string' }, since: { type: 'string' } },
  });
  if (!values.store) return fail('--store DIR is required');
  if (positionals.length < 1 || positionals.length > 2) return fail('give one IP, or two for a pair');
  const store = await PcapStore.open(values.store);
  const since = time('since', values.since ?? '-1h')!;
  const a = presence(store, positionals[0]!, positionals[1] ?? null, since);
  process.stdout.write(`${JSON.stringify(a)}\n`);
  return 0;
}
