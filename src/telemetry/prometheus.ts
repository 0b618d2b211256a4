import snappy from 'snappyjs';
import { type KpiPoint, type KpiSink, pointLabels, promName, promValue, SinkError } from './types.js';

export interface PrometheusConfig {
  /** Remote-write endpoint, e.g. http://prometheus:9090/api/v1/write. */
  remoteWrite: string;
  /** Sent as `Authorization: Bearer ...` when set. */
  bearerToken?: string;
  basicAuth?: { username: string; password: string };
  /** Per request, ms. */
  timeoutMs: number;
}

/**
 * Prometheus remote write (protocol 1.0: a snappy-compressed protobuf WriteRequest). Samples
 * carry the bucket's own time, so PromQL at that time answers what the API answers for the
 * bucket. A 4xx means Prometheus refused the samples (out of order, too old): retrying would
 * be refused the same way, so the batch is dropped and counted by the caller; 5xx and network
 * errors are retried.
 */
export function createPrometheusSink(cfg: PrometheusConfig, name = 'prometheus'): KpiSink {
  const headers: Record<string, string> = {
    'content-type': 'application/x-protobuf',
    'content-encoding': 'snappy',
    'x-prometheus-remote-write-version': '0.1.0',
    'user-agent': 'vantage',
  };
  if (cfg.bearerToken) headers.authorization = `Bearer ${cfg.bearerToken}`;
  else if (cfg.basicAuth)
    headers.authorization = `Basic ${Buffer.from(`${cfg.basicAuth.username}:${cfg.basicAuth.password}`).toString('base64')}`;
  return {
    kind: 'prometheus',
    name,
    async start() {},
    async stop() {},
    async write(points) {
      if (points.length === 0) return;
      const body = snappy.compress(encodeWriteRequest(points));
      let res: Response;
      try {
        res = await fetch(cfg.remoteWrite, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(cfg.timeoutMs),
        });
      } catch (e) {
        throw new SinkError(`remote write to ${cfg.remoteWrite} failed: ${(e as Error).message}`, true);
      }
      if (res.ok) {
        await res.body?.cancel();
        return;
      }
      const text = (await res.text()).slice(0, 300);
      throw new SinkError(
        `remote write answered ${res.status}: ${text}`,
        res.status >= 500 || res.status === 429,
      );
    },
  };
}

/** The protobuf WriteRequest of prometheus/prompb/remote.proto for these points, one series per label set. */
export function encodeWriteRequest(points: readonly KpiPoint[]): Uint8Array {
  const bySeries = new Map<string, { labels: [string, string][]; samples: [number, number][] }>();
  for (const p of points) {
    const labels: [string, string][] = [['__name__', promName(p.metric)], ...pointLabels(p)];
    labels.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const key = JSON.stringify(labels);
    let s = bySeries.get(key);
    if (!s) {
      s = { labels, samples: [] };
      bySeries.set(key, s);
    }
    s.samples.push([promValue(p.metric, p.value), p.tMs]);
  }
  const w = new ProtoWriter();
  for (const s of bySeries.values()) {
    s.samples.sort((a, b) => a[1] - b[1]);
    const ts = new ProtoWriter();
    for (const [name, value] of s.labels) {
      const l = new ProtoWriter();
      l.string(1, name);
      l.string(2, value);
      ts.bytes(1, l.finish());
    }
    for (const [value, t] of s.samples) {
      const smp = new ProtoWriter();
      smp.double(1, value);
      smp.varint(2, t);
      ts.bytes(2, smp.finish());
    }
    w.bytes(1, ts.finish());
  }
  return w.finish();
}

/** The few protobuf wire types remote write needs (varint, 64-bit, length-delimited). */
class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  private rawVarint(v: number): void {
    this.room(10);
    // Timestamps exceed 32 bits: split with arithmetic, not bit operators.
    let x = v;
    while (x >= 0x80) {
      this.buf[this.len++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.buf[this.len++] = x;
  }
  varint(field: number, v: number): void {
    this.rawVarint(field << 3);
    this.rawVarint(v);
  }
  double(field: number, v: number): void {
    this.rawVarint((field << 3) | 1);
    this.room(8);
    new DataView(this.buf.buffer, this.buf.byteOffset).setFloat64(this.len, v, true);
    this.len += 8;
  }
  bytes(field: number, b: Uint8Array): void {
    this.rawVarint((field << 3) | 2);
    this.rawVarint(b.length);
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  string(field: number, s: string): void {
    this.bytes(field, Buffer.from(s, 'utf8'));
  }
  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

/**
 * The latest complete bucket of every KPI series as an exposition for a scrape: OpenMetrics
 * (what Prometheus asks for first) or the Prometheus text format 0.0.4 (what
 * `promtool check metrics` reads), with the bucket's time on each sample so a scrape files the
 * value under the bucket it describes.
 */
export function renderExposition(points: readonly KpiPoint[], format: 'openmetrics' | 'text'): string {
  const om = format === 'openmetrics';
  const byName = new Map<string, KpiPoint[]>();
  for (const p of points) {
    const n = promName(p.metric);
    let l = byName.get(n);
    if (!l) {
      l = [];
      byName.set(n, l);
    }
    l.push(p);
  }
  const out: string[] = [];
  for (const [name, ps] of [...byName.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    out.push(`# TYPE ${name} gauge`, `# HELP ${name} ${HELP[ps[0]!.metric]}`);
    const unit = UNIT[ps[0]!.metric];
    if (unit && om) out.push(`# UNIT ${name} ${unit}`);
    for (const p of ps) {
      const labels = pointLabels(p)
        .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        .join(',');
      const t = om ? (p.tMs / 1000).toFixed(3) : String(p.tMs);
      out.push(`${name}${labels ? `{${labels}}` : ''} ${fmt(promValue(p.metric, p.value))} ${t}`);
    }
  }
  if (om) out.push('# EOF');
  return `${out.join('\n')}\n`;
}

const HELP: Record<KpiPoint['metric'], string> = {
  bps: 'Traffic in bytes per second over the bucket, both directions (the console shows bits).',
  pps: 'Packets per second over the bucket.',
  flows: 'Flows started per second over the bucket.',
  rtt_ms: 'TCP handshake round-trip time of the flows of the bucket, seconds (stat label: mean when absent).',
  srt_ms: 'Server response time of the flows of the bucket, seconds (stat label: mean when absent).',
  retrans_rate: 'Retransmitted packets over all packets in the bucket.',
};
// OpenMetrics requires the unit to be the name's suffix; only these two end in a unit it knows.
const UNIT: Partial<Record<KpiPoint['metric'], string>> = { rtt_ms: 'seconds', srt_ms: 'seconds' };

function escapeLabel(v: string): string {
  return v.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

function fmt(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}
