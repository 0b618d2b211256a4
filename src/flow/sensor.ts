import { createAnalyzers, type L7Columns } from '../analyze/index.js';
import { RecordColumnBuilder } from '../analyze/record-columns.js';
import { dnsRecord } from '../schema/dns.js';
import { httpRecord } from '../schema/http.js';
import { tlsRecord } from '../schema/tls.js';
import type { FlowConfig } from './flow-table.js';
import { type ColumnSink, type PacketHook, type RecordSink, Sensor } from './sensor-core.js';

export {
  type ColumnSink,
  createMeteringSensor,
  type MeteringOptions,
  type PacketHook,
  type RecordSink,
  Sensor,
  type SensorCounters,
  type SensorRecord,
} from './sensor-core.js';

export interface SensorOptions {
  flow?: Partial<FlowConfig>;
  /** Application-layer analyzers (default on). */
  l7?: boolean;
  /** More packet hooks (packet recorder, export collector...), after the analyzers. */
  hooks?: PacketHook[];
  /**
   * Flow, DNS, TLS and HTTP records as column batches to this sink instead of objects to the
   * record sink (the other types stay objects).
   */
  columns?: ColumnSink;
  /** Rows per column batch (default 4096). */
  columnRows?: number;
}

/** A sensor with its standard analyzers: what every ingest path (CLI, API, live) runs. */
export function createSensor(sink: RecordSink, opts: SensorOptions = {}): Sensor {
  const sensor = new Sensor(sink, opts.flow ?? {});
  let columns: L7Columns | undefined;
  const out = opts.columns;
  if (out) {
    sensor.writeColumns(out, opts.columnRows);
    const rows = opts.columnRows ?? 4096;
    columns = {
      dns: new RecordColumnBuilder(dnsRecord, rows, out),
      tls: new RecordColumnBuilder(tlsRecord, rows, out),
      http: new RecordColumnBuilder(httpRecord, rows, out),
    };
    sensor.l7Columns.push(columns.dns, columns.tls, columns.http);
  }
  for (const a of createAnalyzers(sink, { l7: opts.l7 ?? true, ...(columns ? { columns } : {}) }))
    sensor.addHook(a);
  for (const h of opts.hooks ?? []) sensor.addHook(h);
  return sensor;
}
