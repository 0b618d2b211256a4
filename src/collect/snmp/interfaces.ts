import type { Logger } from '../../common/log.js';
import type { Metrics } from '../../common/metrics.js';
import type { Columnar } from '../../store/columnar.js';
import type { Rec, RecordStore } from '../../store/types.js';
import { microsToIso } from '../../store/values.js';
import { pollInterfaces, type SnmpInterface, type SnmpTarget } from './poller.js';

export interface SnmpConfig {
  /** Devices polled whether or not they export flows. */
  devices: SnmpTarget[];
  /** How to poll every exporter the collector hears from (none: only `devices`). */
  exporters?: Omit<SnmpTarget, 'host'>;
  intervalMs: number;
}

/** Exporters polled at most (each new exporter address beyond is counted, not polled). */
export const MAX_DEVICES = 1000;

interface Device {
  target: SnmpTarget;
  ifs: Map<number, SnmpInterface>;
  prev: Map<number, { t: number; inO: number | null; outO: number | null }>;
  lastPoll: number;
  error: string | null;
}

/**
 * Interface names, descriptions and speeds of the exporters and configured devices, polled over
 * SNMP (IF-MIB), as Akvorado does: collected flows get `input_if_name`/`_alias`/`_speed` (and
 * output) instead of bare ifIndex numbers, and each poll is stored as `snmp_interface` records
 * with rates and utilisation, so interface load sits beside the flow KPIs.
 */
export class SnmpInterfaces {
  private readonly devices = new Map<string, Device>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  readonly counters = { polls: 0, errors: 0, devicesOverCap: 0, enriched: 0 };

  constructor(
    readonly cfg: SnmpConfig,
    private readonly deps: { store: RecordStore; log: Logger; metrics?: Metrics },
  ) {
    for (const t of cfg.devices) this.add(t);
    deps.metrics?.collect(() => {
      const m = deps.metrics!;
      m.set('vantage_snmp_devices', 'Devices polled over SNMP', {}, this.devices.size);
      m.set('vantage_snmp_polls', 'SNMP interface-table polls done', {}, this.counters.polls);
      m.set('vantage_snmp_errors', 'SNMP polls that failed', {}, this.counters.errors);
      m.set(
        'vantage_snmp_devices_over_cap',
        'Exporters not polled (device cap reached)',
        {},
        this.counters.devicesOverCap,
      );
    });
  }

  private add(t: SnmpTarget): void {
    this.devices.set(t.host, { target: t, ifs: new Map(), prev: new Map(), lastPoll: 0, error: null });
  }

  /** Poll an exporter from now on (the collector calls it for every exporter address it sees). */
  noteExporter(ip: string): void {
    if (!this.cfg.exporters || this.devices.has(ip)) return;
    if (this.devices.size >= MAX_DEVICES) {
      this.counters.devicesOverCap++;
      return;
    }
    this.add({ ...this.cfg.exporters, host: ip });
    void this.poll();
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => void this.poll(), this.cfg.intervalMs);
    this.timer.unref();
    await this.poll();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Poll every device now (the timer calls it; tests too). */
  poll(): Promise<void> {
    if (!this.running)
      this.running = this.pass().finally(() => {
        this.running = null;
      });
    return this.running;
  }

  status(): { device: string; interfaces: number; lastPoll: string | null; error: string | null }[] {
    return [...this.devices.entries()].map(([ip, d]) => ({
      device: ip,
      interfaces: d.ifs.size,
      lastPoll: d.lastPoll ? new Date(d.lastPoll).toISOString() : null,
      error: d.error,
    }));
  }

  lookup(device: string, ifIndex: number): SnmpInterface | undefined {
    return this.devices.get(device)?.ifs.get(ifIndex);
  }

  private async pass(): Promise<void> {
    const recs: Rec[] = [];
    for (const [ip, d] of this.devices) {
      const t = Date.now();
      try {
        const ifs = await pollInterfaces(d.target, this.deps.log);
        this.counters.polls++;
        d.error = null;
        d.lastPoll = t;
        d.ifs = new Map(ifs.map((i) => [i.ifIndex, i]));
        for (const i of ifs) {
          const p = d.prev.get(i.ifIndex);
          const rate = (now: number | null, before: number | null | undefined): number | null =>
            p && now !== null && before != null && now >= before && t > p.t
              ? ((now - before) * 8 * 1000) / (t - p.t)
              : null;
          const inBps = rate(i.inOctets, p?.inO);
          const outBps = rate(i.outOctets, p?.outO);
          d.prev.set(i.ifIndex, { t, inO: i.inOctets, outO: i.outOctets });
          recs.push({
            ts: microsToIso(t * 1000),
            device: ip,
            if_index: i.ifIndex,
            if_name: i.name,
            if_alias: i.alias,
            if_descr: i.descr,
            if_speed: i.speed,
            in_octets: i.inOctets,
            out_octets: i.outOctets,
            in_bps: inBps,
            out_bps: outBps,
            in_util: inBps !== null && i.speed ? inBps / i.speed : null,
            out_util: outBps !== null && i.speed ? outBps / i.speed : null,
          });
        }
      } catch (e) {
        this.counters.errors++;
        d.error = (e as Error).message;
        this.deps.log.warn(`snmp: polling ${ip} failed: ${d.error}`);
      }
    }
    if (recs.length > 0) await this.deps.store.append('snmp_interface', recs);
  }

  /**
   * Name the interfaces of a batch of collected flows, in place: the batch's string dictionary
   * grows by the names it did not have, each exporter/ifIndex pair is looked up once per batch.
   */
  enrichColumns(c: Columnar): Columnar {
    const si = (k: string) => c.str.indexOf(k);
    const ni = (k: string) => c.num.indexOf(k);
    const exp = si('exporter');
    const inIf = ni('input_if');
    const outIf = ni('output_if');
    const cols = {
      inName: si('input_if_name'),
      inAlias: si('input_if_alias'),
      inSpeed: ni('input_if_speed'),
      outName: si('output_if_name'),
      outAlias: si('output_if_alias'),
      outSpeed: ni('output_if_speed'),
    };
    if (exp < 0 || inIf < 0 || outIf < 0 || Object.values(cols).some((x) => x < 0)) return c;
    const nn = c.num.length;
    const ns = c.str.length;
    const dict = [...c.dict];
    const strIdx = new Map<string, number>();
    const intern = (v: string | null): number => {
      if (v === null) return -1;
      let k = strIdx.get(v);
      if (k === undefined) {
        k = dict.length;
        dict.push(v);
        strIdx.set(v, k);
      }
      return k;
    };
    const devByDict = new Map<number, Device | null>();
    let named = 0;
    for (let k = 0; k < c.rows.length; k++) {
      const r = c.rows[k]!;
      const di = c.s[r * ns + exp]!;
      if (di < 0) continue;
      let dev = devByDict.get(di);
      if (dev === undefined) {
        const ip = c.dict[di]!;
        this.noteExporter(ip);
        dev = this.devices.get(ip) ?? null;
        devByDict.set(di, dev);
      }
      if (!dev || dev.ifs.size === 0) continue;
      const put = (ifCol: number, name: number, alias: number, speed: number): void => {
        const x = c.f[r * nn + ifCol]!;
        if (Number.isNaN(x)) return;
        const i = dev.ifs.get(x);
        if (!i) return;
        c.s[r * ns + name] = intern(i.name);
        c.s[r * ns + alias] = intern(i.alias);
        c.f[r * nn + speed] = i.speed ?? Number.NaN;
        named++;
      };
      put(inIf, cols.inName, cols.inAlias, cols.inSpeed);
      put(outIf, cols.outName, cols.outAlias, cols.outSpeed);
    }
    this.counters.enriched += named;
    return named > 0 ? { ...c, dict } : c;
  }

  /** The same for collected flows that travel as objects. */
  enrichRecord(r: Rec): void {
    if (r.type !== 'exported_flow' || typeof r.exporter !== 'string') return;
    this.noteExporter(r.exporter);
    const dev = this.devices.get(r.exporter);
    if (!dev) return;
    for (const side of ['input', 'output'] as const) {
      const x = r[`${side}_if`];
      const i = typeof x === 'number' ? dev.ifs.get(x) : undefined;
      if (!i) continue;
      r[`${side}_if_name`] = i.name;
      r[`${side}_if_alias`] = i.alias;
      r[`${side}_if_speed`] = i.speed;
    }
  }
}
