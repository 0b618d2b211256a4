import { writeSync } from 'node:fs';

/** Buffered writer to a file descriptor; flushes in large blocks, retries when a pipe is full. */
export class FdWriter {
  private parts: string[] = [];
  private size = 0;

  constructor(
    private readonly fd = 1,
    private readonly limit = 1 << 16,
  ) {}

  write(s: string): void {
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= this.limit) this.flush();
  }

  flush(): void {
    if (this.size === 0) return;
    const buf = Buffer.from(this.parts.join(''));
    this.parts = [];
    this.size = 0;
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(this.fd, buf, off, buf.length - off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
          continue;
        }
        if (code === 'EPIPE') return; // reader went away (e.g. `| head`)
        throw e;
      }
    }
  }
}

export type OutputFormat = 'ndjson' | 'json' | 'table';

/** Formats records as NDJSON, a JSON array or an aligned text table (flows only get columns). */
export class RecordPrinter {
  private first = true;
  private tableRows: string[][] = [];

  constructor(
    private readonly out: FdWriter,
    private readonly format: OutputFormat,
  ) {
    if (format === 'json') out.write('[');
  }

  print(rec: { type: string; [k: string]: unknown }): void {
    if (this.format === 'ndjson') {
      this.out.write(`${JSON.stringify(rec)}\n`);
    } else if (this.format === 'json') {
      this.out.write(`${this.first ? '\n' : ',\n'}${JSON.stringify(rec)}`);
      this.first = false;
    } else {
      this.tableRows.push(tableRow(rec));
    }
  }

  end(): void {
    if (this.format === 'json') this.out.write('\n]\n');
    if (this.format === 'table') {
      const rows = [
        ['TYPE', 'TIME', 'PROTO', 'CLIENT', 'SERVER', 'PKTS', 'BYTES', 'DETAIL'],
        ...this.tableRows,
      ];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
      for (const r of rows)
        this.out.write(
          `${r
            .map((c, i) => c.padEnd(widths[i]!))
            .join('  ')
            .trimEnd()}\n`,
        );
    }
    this.out.flush();
  }
}

function tableRow(r: { type: string; [k: string]: unknown }): string[] {
  const s = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
  const ep = (ip: unknown, port: unknown): string =>
    ip ? `${s(ip)}${String(ip).includes(':') ? '.' : ':'}${s(port)}` : '';
  const time = s(r.first_ts ?? r.ts);
  if (r.type === 'flow') {
    const pk = Number(r.client_packets) + Number(r.server_packets);
    const by = Number(r.client_wire_bytes) + Number(r.server_wire_bytes);
    const rtt = r.rtt_ms === null ? '' : `rtt ${s(r.rtt_ms)}ms`;
    const app = r.app ? `app ${s(r.app)}` : '';
    return [
      'flow',
      time,
      s(r.proto),
      ep(r.client_ip, r.client_port),
      ep(r.server_ip, r.server_port),
      String(pk),
      String(by),
      [app, rtt].filter(Boolean).join(' '),
    ];
  }
  const detail = Object.entries(r)
    .filter(
      ([k, v]) =>
        ![
          'type',
          'ts',
          'client_ip',
          'client_port',
          'server_ip',
          'server_port',
          'proto',
          'community_id',
          'flow_id',
        ].includes(k) &&
        v !== null &&
        v !== '',
    )
    .slice(0, 6)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  return [
    r.type,
    time,
    s(r.proto),
    ep(r.client_ip ?? r.src_ip, r.client_port ?? r.src_port),
    ep(r.server_ip ?? r.dst_ip, r.server_port ?? r.dst_port),
    '',
    '',
    detail,
  ];
}

/** The `--summary` line of the packet commands (ingest, capture, mirror). */
export function summaryLine(
  c: {
    frames: number;
    bytes: number;
    ipPackets: number;
    nonIpPackets: number;
    weird: number;
    weirdByName: Record<string, number>;
  },
  run: { flows: number; records: number; seconds: number },
  extra: Record<string, unknown> = {},
): string {
  const secs = run.seconds;
  return `${JSON.stringify({
    packets: c.frames,
    bytes: c.bytes,
    ip_packets: c.ipPackets,
    non_ip_packets: c.nonIpPackets,
    flows: run.flows,
    records: run.records,
    weirds: c.weird,
    weird_by_name: c.weirdByName,
    ...extra,
    elapsed_s: Math.round(secs * 1000) / 1000,
    packets_per_s: Math.round(c.frames / secs),
    gbit_per_s: Math.round(((c.bytes * 8) / secs / 1e9) * 100) / 100,
  })}\n`;
}
