import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';

/** A widget: one saved query over the registry's fields and how to draw it. */
export interface Widget {
  id: string;
  kind: 'timeseries' | 'top' | 'bar' | 'number' | 'monitor' | 'interfaces';
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

/** What one user may keep: user-created objects are bounded like every other input. */
export const DASHBOARD_QUOTA = { perOwner: 50, totalBytes: 16 << 20 };

/** Dashboards in DIR/dashboards.json, written whole through a temporary file and a rename. */
export class DashboardStore {
  private items: Dashboard[] | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly quota = DASHBOARD_QUOTA,
  ) {}

  /** Refuse a change that would pass the owner's count or the file's size. */
  private check(owner: string | null, extra: Dashboard | null): void {
    const all = this.load();
    if (owner !== null && all.filter((d) => d.owner === owner).length >= this.quota.perOwner) {
      throw new UserError(
        409,
        `quota: a user keeps at most ${this.quota.perOwner} dashboards; delete one before creating another`,
      );
    }
    const size = Buffer.byteLength(JSON.stringify({ dashboards: extra ? [...all, extra] : all }));
    if (size > this.quota.totalBytes) {
      throw new UserError(
        409,
        `quota: dashboards may take at most ${this.quota.totalBytes >> 20} MiB in all`,
      );
    }
  }

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
    this.check(owner.id, out);
    this.load().push(out);
    this.save();
    return out;
  }

  update(id: string, d: Pick<Dashboard, 'name' | 'shared' | 'widgets'>): Dashboard | undefined {
    const cur = this.get(id);
    if (!cur) return undefined;
    const before = { ...cur };
    Object.assign(cur, {
      name: d.name,
      shared: d.shared,
      widgets: d.widgets,
      updated: new Date().toISOString(),
    });
    try {
      this.check(null, null);
    } catch (e) {
      Object.assign(cur, before);
      throw e;
    }
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
