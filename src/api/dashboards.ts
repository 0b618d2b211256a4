import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A widget: one saved query over the registry's fields and how to draw it. */
export interface Widget {
  id: string;
  kind: 'timeseries' | 'top' | 'bar' | 'number' | 'monitor';
  title: string;
  /** monitor: the name of the monitor whose state and main KPI the widget shows. */
  monitor?: string;
  /** timeseries: bps, pps, flows, rtt_ms, srt_ms, retrans_rate. */
  metric?: string;
  /** top / bar: the field ranked; timeseries: optional group_by. */
  dim?: string;
  /** top / bar / number: bytes, packets or flows. */
  by?: string;
  /** Record type of a top / bar widget (default flow). */
  type?: string;
  filter?: string;
  limit?: number;
  /** Columns out of 4. */
  width?: number;
}

export interface Dashboard {
  id: string;
  name: string;
  /** Token id of the owner: dashboards are saved per user (token). */
  owner: string;
  owner_name: string;
  /** Shared dashboards are readable by every token; only the owner (or an admin) changes them. */
  shared: boolean;
  widgets: Widget[];
  created: string;
  updated: string;
}

/** Dashboards in DIR/dashboards.json, written whole through a temporary file and a rename. */
export class DashboardStore {
  private items: Dashboard[] | null = null;

  constructor(private readonly dataDir: string) {}

  private get path(): string {
    return join(this.dataDir, 'dashboards.json');
  }

  private load(): Dashboard[] {
    if (this.items) return this.items;
    this.items = existsSync(this.path)
      ? (JSON.parse(readFileSync(this.path, 'utf8')) as { dashboards: Dashboard[] }).dashboards
      : [];
    return this.items;
  }

  private save(): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ dashboards: this.load() }, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
  }

  list(): Dashboard[] {
    return [...this.load()];
  }

  get(id: string): Dashboard | undefined {
    return this.load().find((d) => d.id === id);
  }

  create(owner: { id: string; name: string }, d: Pick<Dashboard, 'name' | 'shared' | 'widgets'>): Dashboard {
    const now = new Date().toISOString();
    const out: Dashboard = {
      id: randomBytes(6).toString('hex'),
      name: d.name,
      owner: owner.id,
      owner_name: owner.name,
      shared: d.shared,
      widgets: d.widgets,
      created: now,
      updated: now,
    };
    this.load().push(out);
    this.save();
    return out;
  }

  update(id: string, d: Pick<Dashboard, 'name' | 'shared' | 'widgets'>): Dashboard | undefined {
    const cur = this.get(id);
    if (!cur) return undefined;
    Object.assign(cur, {
      name: d.name,
      shared: d.shared,
      widgets: d.widgets,
      updated: new Date().toISOString(),
    });
    this.save();
    return cur;
  }

  remove(id: string): boolean {
    const all = this.load();
    const i = all.findIndex((d) => d.id === id);
    if (i < 0) return false;
    all.splice(i, 1);
    this.save();
    return true;
  }
}
