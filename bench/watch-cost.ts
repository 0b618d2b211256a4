/**
 * What a record watcher (intel matcher, detectors) costs the sensor, in CPU time, measured in
 * one process run on one capture:
 *  - in line: the sensor (decode, flows, L7) with the watcher reading every record object as it
 *    is made, against the sensor alone, passes alternated, best of `runs` each;
 *  - apart: the watcher alone over the same records kept in memory, as objects (`onRecord`) and
 *    as column batches of up to 1,024 rows of one type (`onColumns`, the store's column path),
 *    best of `runs`.
 * CPU time (process.cpuUsage), not wall time: the benchmark machine is shared. Run with
 * --expose-gc so every pass starts from a collected heap.
 */
import { readCaptureFile } from '../src/capture/capture-file.js';
import type { AnyRecord, RecordWatcher } from '../src/common/alerts.js';
import { createSensor } from '../src/flow/sensor.js';
import { ALL_RECORDS } from '../src/schema/records.js';
import type { Columnar } from '../src/store/columnar.js';
import { recordsToColumnar } from '../src/store/columnar-read.js';
import { watchColumns } from '../src/store/watching-store.js';

const cpuS = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1e6;

export interface WatchCost {
  packets: number;
  records: number;
  /** CPU seconds per million packets. */
  sensor: number;
  inline: number;
  objects: number;
  columns: number;
}

async function pass(
  file: string,
  onRecord: ((r: AnyRecord) => void) | null,
): Promise<{ cpu: number; packets: number }> {
  const sensor = createSensor(onRecord ?? (() => {}), { l7: true });
  // Each pass starts from a collected heap: a major collection the previous pass left due
  // (hundreds of MB with a million indicators loaded) is not charged to this one.
  global.gc?.();
  const c0 = process.cpuUsage();
  const sum = await readCaptureFile(file, sensor.onFrame);
  sensor.finish();
  return { cpu: cpuS(process.cpuUsage(c0)), packets: sum.packets };
}

/**
 * The records as a column producer hands them to the store: one open batch per record type,
 * handed on when it holds 1,024 rows (and at the end), so batches of different types follow
 * each other in the order they filled.
 */
function batches(recs: readonly AnyRecord[]): { type: string; c: Columnar }[] {
  const out: { type: string; c: Columnar }[] = [];
  const open = new Map<string, AnyRecord[]>();
  const close = (type: string, list: AnyRecord[]): void => {
    const def = ALL_RECORDS.find((d) => d.type === type);
    if (def && list.length > 0) out.push({ type, c: recordsToColumnar(def, list) });
  };
  for (const r of recs) {
    let list = open.get(r.type);
    if (!list) {
      list = [];
      open.set(r.type, list);
    }
    list.push(r);
    if (list.length === 1024) {
      close(r.type, list);
      open.set(r.type, []);
    }
  }
  for (const [type, list] of open) close(type, list);
  return out;
}

export async function watchCost(file: string, make: () => RecordWatcher, runs = 5): Promise<WatchCost> {
  const recs: AnyRecord[] = [];
  const first = await pass(file, (r) => void recs.push(r));
  const packets = first.packets;
  const cols = batches(recs);
  let sensor = Number.POSITIVE_INFINITY;
  let inline = Number.POSITIVE_INFINITY;
  let objects = Number.POSITIVE_INFINITY;
  let columns = Number.POSITIVE_INFINITY;
  // one unmeasured round warms the JIT on every path
  for (let r = -1; r < runs; r++) {
    const a = await pass(file, null);
    const w = make();
    const b = await pass(file, (rec) => w.onRecord(rec));
    w.finish();
    const wo = make();
    global.gc?.();
    let c0 = process.cpuUsage();
    for (const rec of recs) wo.onRecord(rec);
    wo.finish();
    const o = cpuS(process.cpuUsage(c0));
    const wc = make();
    global.gc?.();
    c0 = process.cpuUsage();
    for (const { type, c } of cols) watchColumns([wc], type, c);
    wc.finish();
    const cc = cpuS(process.cpuUsage(c0));
    if (r < 0) continue;
    sensor = Math.min(sensor, a.cpu);
    inline = Math.min(inline, b.cpu);
    objects = Math.min(objects, o);
    columns = Math.min(columns, cc);
  }
  const per = (s: number): number => (s * 1e6) / packets;
  return {
    packets,
    records: recs.length,
    sensor: per(sensor),
    inline: per(inline),
    objects: per(objects),
    columns: per(columns),
  };
}

export function costLine(what: string, c: WatchCost, goalPct: number): string {
  const pct = (x: number): string => `${((x / c.sensor) * 100).toFixed(1)}%`;
  return (
    `${what} on ${c.packets.toLocaleString()} packets (${c.records.toLocaleString()} records), CPU-s per million packets: ` +
    `sensor alone ${c.sensor.toFixed(2)}, sensor + ${what} in line ${c.inline.toFixed(2)} ` +
    `(+${pct(c.inline - c.sensor)}); ${what} alone on the records: objects ${c.objects.toFixed(3)} (${pct(c.objects)}), ` +
    `column batches ${c.columns.toFixed(3)} (${pct(c.columns)}) of the sensor's CPU (goal ≤ ${goalPct}%)\n`
  );
}
