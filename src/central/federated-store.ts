import { AsyncLocalStorage } from 'node:async_hooks';
import { badRequest, UserError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { AnyRecordDef } from '../schema/registry.js';
import type { Coded, Cond } from '../store/filter.js';
import type {
  ListQuery,
  Page,
  Rec,
  RecordStore,
  Series,
  SeriesQuery,
  StoreStats,
  TimeRange,
  TopQuery,
  TopRow,
} from '../store/types.js';
import { ipToBigint, isoToMicros, macToNumber } from '../store/values.js';
import { encodeOp, type Op, ROUND_CAP, runOp, type SeriesPart } from './wire.js';

export interface SensorSpec {
  name: string;
  /** Base URL of the sensor's API, e.g. http://127.0.0.1:18081 */
  url: string;
  /** A token of the sensor with the analyst role or higher. */
  token: string;
}

/** The sensors missing from the answer of the current request (set per request by the API). */
export const partial = new AsyncLocalStorage<{ missing: Set<string> }>();

interface Member {
  name: string;
  call(o: Op): Promise<unknown>;
}

/**
 * The central's record store: every query fans out in parallel to the sensors (and the
 * central's own local store), each with a timeout, and the answers are merged so they equal
 * what one store holding all the records would answer: counts add up, top-N is ranked over
 * exact totals (three rounds: each member's top-k, every key above a threshold, then exact
 * values of the candidates), series are re-summed bucket by bucket from additive parts, and
 * list pages are a k-way merge whose cursor holds one cursor per sensor. A sensor that fails
 * or times out is left out and named in `partial` (the API turns it into a response header):
 * a partial answer, never one that looks complete.
 */
export class FederatedStore implements RecordStore {
  readonly backend = 'federated';
  readonly defs: readonly AnyRecordDef[];
  private members: Member[];

  constructor(
    private readonly local: RecordStore,
    sensors: readonly SensorSpec[],
    private readonly opts: { timeoutMs?: number; log?: Logger } = {},
  ) {
    this.defs = local.defs;
    this.members = [{ name: 'central', call: (o) => runOp(local, o) }];
    for (const s of sensors) this.addSensor(s);
  }

  get dataDir(): string {
    return (this.local as { dataDir?: string }).dataDir ?? '';
  }

  sensors(): string[] {
    return this.members.slice(1).map((m) => m.name);
  }

  addSensor(s: SensorSpec): void {
    const url = `${s.url.replace(/\/+$/, '')}/api/v1/federation/query`;
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    const member: Member = {
      name: s.name,
      async call(o) {
        const res = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
          body: encodeOp(o),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const body = (await res.json()) as { result?: unknown; error?: { status: number; message: string } };
        // A bad request is the caller's: the same error on every sensor, not a missing sensor.
        if (res.status === 400) throw new UserError(400, body.error?.message ?? 'bad request');
        if (!res.ok) throw new Error(`${s.name}: HTTP ${res.status} ${body.error?.message ?? ''}`);
        return body.result;
      },
    };
    this.members = this.members.filter((m) => m.name !== s.name).concat(member);
  }

  /** Run an op on every member; failed members are recorded as missing and skipped. */
  private async fan<T>(o: Op | ((m: Member) => Op | null), members = this.members): Promise<(T | null)[]> {
    const got = await Promise.all(
      members.map(async (m) => {
        const op = typeof o === 'function' ? o(m) : o;
        if (!op) return null;
        try {
          return (await m.call(op)) as T;
        } catch (e) {
          if (e instanceof UserError) throw e;
          this.opts.log?.warn?.('sensor left out of an answer', { sensor: m.name, error: String(e) });
          partial.getStore()?.missing.add(m.name);
          return null;
        }
      }),
    );
    return got;
  }

  async start(): Promise<void> {
    await this.local.start();
  }

  async stop(): Promise<void> {
    await this.local.stop();
  }

  /** The central's own records (its alerts) go to its local store. */
  append(type: string, records: readonly Rec[]): Promise<void> {
    return this.local.append(type, records);
  }

  async count(type: string, q: TimeRange & { filter?: Cond | null }): Promise<number> {
    const got = await this.fan<number>({ op: 'count', type, q });
    return got.reduce<number>((s, n) => s + (n ?? 0), 0);
  }

  async list(q: ListQuery): Promise<Page> {
    const def = this.defs.find((d) => d.type === q.type);
    if (!def) return { items: [], next: null };
    const sort = q.sort ?? def.timeField;
    if (!Object.hasOwn(def.fields, sort))
      throw badRequest(`cannot sort by '${sort}': not a field of ${def.type}`);
    const desc = q.desc ?? true;
    const limit = Math.max(1, Math.floor(q.limit));
    const state = decodeState(q.cursor);
    // The sort field is needed to merge; it is dropped again when not asked for.
    const fields = q.fields && q.fields.length > 0 ? [...new Set([...q.fields, sort])] : undefined;
    const base = { ...q, limit, ...(fields ? { fields } : {}) };
    const cursorOf = (m: Member): string | undefined => state[m.name] ?? undefined;
    const active = (m: Member) => state[m.name] !== null;
    const pages = await this.fan<Page>((m) => {
      if (!active(m)) return null;
      const c = cursorOf(m);
      const { cursor: _drop, ...rest } = base;
      return { op: 'list', q: c ? { ...rest, cursor: c } : rest };
    });
    const type = def.fields[sort]!.type;
    const heads = pages.map(() => 0);
    const items: Rec[] = [];
    while (items.length < limit) {
      let best = -1;
      for (let i = 0; i < pages.length; i++) {
        const p = pages[i];
        if (!p || heads[i]! >= p.items.length) continue;
        if (
          best < 0 ||
          before(p.items[heads[i]!]![sort], pages[best]!.items[heads[best]!]![sort], type, desc)
        )
          best = i;
      }
      if (best < 0) break;
      items.push(pages[best]!.items[heads[best]!]!);
      heads[best]!++;
    }
    // Each member's cursor moves past exactly the rows taken from it; a member whose page was
    // only partly taken is asked again for that many rows to get a cursor at that point.
    const next: Record<string, string | null> = { ...state };
    await Promise.all(
      this.members.map(async (m, i) => {
        const p = pages[i];
        if (!p) return;
        const k = heads[i]!;
        if (k === p.items.length) next[m.name] = p.next;
        else if (k > 0) {
          const { cursor: _drop, ...rest } = base;
          const c = cursorOf(m);
          const again = (await m.call({
            op: 'list',
            q: { ...rest, limit: k, fields: [sort], ...(c ? { cursor: c } : {}) },
          })) as Page;
          next[m.name] = again.next;
        }
      }),
    );
    const more = this.members.some((m, i) => {
      const p = pages[i];
      return (
        next[m.name] !== null && (p ? heads[i]! < p.items.length || p.next !== null : state[m.name] !== null)
      );
    });
    const keep = q.fields && q.fields.length > 0 ? new Set(q.fields) : null;
    return {
      items: keep
        ? items.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => keep.has(k))))
        : items,
      next: more ? encodeState(next) : null,
    };
  }

  async stream(
    q: Omit<ListQuery, 'limit' | 'cursor'> & { limit?: number },
    onRows: (rows: Rec[]) => Promise<void> | void,
  ): Promise<number> {
    let n = 0;
    let cursor: string | null = null;
    do {
      const want: number = q.limit ? Math.min(5000, q.limit - n) : 5000;
      if (want <= 0) break;
      const page: Page = await this.list({ ...q, limit: want, ...(cursor ? { cursor } : {}) });
      if (page.items.length) await onRows(page.items);
      n += page.items.length;
      cursor = page.next;
    } while (cursor);
    return n;
  }

  async top(q: TopQuery): Promise<TopRow[]> {
    const def = this.defs.find((d) => d.type === q.type);
    if (!def) return [];
    if (!Object.hasOwn(def.fields, q.dim))
      throw badRequest(`cannot rank by '${q.dim}': not a field of ${def.type}`);
    const by = q.by;
    const k = Math.floor(q.limit);
    const keyOf = (r: TopRow) => JSON.stringify(r.key);
    // Round 1: each member's own top-k gives a lower bound of the k-th total.
    const r1 = await this.fan<TopRow[]>({ op: 'top', q });
    const partialSums = new Map<string, number>();
    for (const rows of r1)
      for (const r of rows ?? []) partialSums.set(keyOf(r), (partialSums.get(keyOf(r)) ?? 0) + r[by]);
    const sums = [...partialSums.values()].sort((a, b) => b - a);
    const tau = sums.length >= k ? sums[k - 1]! : 0;
    // Round 2: a key whose total reaches tau has at least tau/m on some member.
    const m = this.members.length;
    const r2 = await this.fan<TopRow[]>({ op: 'top', q, min: tau / m });
    const candidates = new Map<string, TopRow['key']>();
    for (const rows of [...r1, ...r2]) for (const r of rows ?? []) candidates.set(keyOf(r), r.key);
    if (candidates.size === 0) return [];
    // Round 3: exact totals of the candidates from every member.
    const keys = [...candidates.values()];
    const only = keyFilter(q.dim, def.fields[q.dim]!.type, keys);
    const r3 = await this.fan<TopRow[]>({
      op: 'top',
      q: { ...q, limit: keys.length, filter: q.filter ? { kind: 'and', items: [q.filter, only] } : only },
    });
    const total = new Map<string, TopRow>();
    for (const rows of r3)
      for (const r of rows ?? []) {
        const t = total.get(keyOf(r)) ?? { key: r.key, bytes: 0, packets: 0, flows: 0 };
        t.bytes += r.bytes;
        t.packets += r.packets;
        t.flows += r.flows;
        total.set(keyOf(r), t);
      }
    return [...total.values()].sort((a, b) => b[by] - a[by] || b.flows - a.flows).slice(0, k);
  }

  async distinct(
    type: string,
    field: string,
    q: TimeRange & { filter?: Cond | null; limit: number },
  ): Promise<{ value: unknown; first: string; last: string; count: number }[]> {
    type D = { value: unknown; first: string; last: string; count: number };
    const got = await this.fan<D[]>({ op: 'distinct', type, field, q: { ...q, limit: ROUND_CAP } });
    const all = new Map<string, D>();
    for (const rows of got)
      for (const r of rows ?? []) {
        const key = JSON.stringify(r.value);
        const e = all.get(key);
        if (!e) all.set(key, { ...r });
        else {
          if (isoToMicros(r.first) < isoToMicros(e.first)) e.first = r.first;
          if (isoToMicros(r.last) > isoToMicros(e.last)) e.last = r.last;
          e.count += r.count;
        }
      }
    return [...all.values()].sort((a, b) => b.count - a.count).slice(0, Math.floor(q.limit));
  }

  async timeseries(q: SeriesQuery): Promise<Series> {
    const stat = q.stat ?? 'mean';
    const got = await this.fan<{ unit: string; parts: SeriesPart[] }>({ op: 'series', q });
    const max = stat === 'max';
    type Acc = Map<string, [number, number]>;
    const groups = new Map<string | null, { total: number; acc: Acc }>();
    const buckets = new Set<string>();
    let unit = '';
    for (const g of got) {
      if (!g) continue;
      unit = g.unit;
      for (const s of g.parts) {
        let e = groups.get(s.group);
        if (!e) {
          e = { total: 0, acc: new Map() };
          groups.set(s.group, e);
        }
        for (const [t, num, den] of s.points) {
          buckets.add(t);
          if (den === 0 && num === 0) continue;
          e.total += num;
          const a = e.acc.get(t);
          if (!a) e.acc.set(t, [num, den]);
          else if (max) a[0] = Math.max(a[0], num);
          else {
            a[0] += num;
            a[1] += den;
          }
        }
      }
    }
    const rate = q.metric === 'bps' || q.metric === 'pps' || q.metric === 'flows';
    const keep = q.groups ?? 10;
    const sorted = [...groups.entries()].sort((x, y) => y[1].total - x[1].total);
    const top = sorted.slice(0, keep);
    if (sorted.length > keep && !max) {
      const other: Acc = new Map();
      for (const [, e] of sorted.slice(keep))
        for (const [t, [n, d]] of e.acc) {
          const a = other.get(t) ?? [0, 0];
          a[0] += n;
          a[1] += d;
          other.set(t, a);
        }
      top.push(['other', { total: 0, acc: other }]);
    }
    const all = [...buckets].sort((a, b) => isoToMicros(a) - isoToMicros(b));
    return {
      metric: q.metric,
      ...(q.stat ? { stat: q.stat } : {}),
      step: q.step,
      unit,
      series: top.map(([group, e]) => ({
        group,
        points: all.map((t): [string, number | null] => {
          const a = e.acc.get(t);
          if (!a) return [t, rate ? 0 : null];
          const v = rate ? a[0] / q.step : max ? a[0] : a[1] > 0 ? a[0] / a[1] : null;
          return [t, v === null ? null : Number(v.toPrecision(9))];
        }),
      })),
    };
  }

  enforceRetention(): Promise<number> {
    return this.local.enforceRetention();
  }

  stats(): Promise<StoreStats> {
    return this.local.stats();
  }
}

/** True when a sorts before b (nulls last either way). */
function before(a: unknown, b: unknown, type: string, desc: boolean): boolean {
  if (a === null || a === undefined) return false;
  if (b === null || b === undefined) return true;
  const c = compare(a, b, type);
  return desc ? c > 0 : c < 0;
}

function compare(a: unknown, b: unknown, type: string): number {
  if (type === 'ip') {
    const x = ipToBigint(String(a)) ?? 0n;
    const y = ipToBigint(String(b)) ?? 0n;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (type === 'ts') return isoToMicros(String(a)) - isoToMicros(String(b));
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return Buffer.compare(Buffer.from(String(a)), Buffer.from(String(b)));
}

/** The condition "dim is one of keys", in the store's coding. */
function keyFilter(dim: string, type: string, keys: TopRow['key'][]): Cond {
  const code = (k: Exclude<TopRow['key'], null>): Coded | null => {
    if (type === 'ip') return ipToBigint(String(k));
    if (type === 'mac') return macToNumber(String(k));
    if (type === 'ts') return isoToMicros(String(k));
    return k;
  };
  const values = keys.filter((k) => k !== null).map((k) => code(k)) as Coded[];
  const items: Cond[] = [];
  if (values.length) items.push({ kind: 'in', field: dim, values });
  if (keys.includes(null)) items.push({ kind: 'null', field: dim });
  return items.length === 1 ? items[0]! : { kind: 'or', items };
}

/** The central cursor: per member, its own cursor (absent: from the start, null: exhausted). */
function encodeState(s: Record<string, string | null>): string {
  return Buffer.from(JSON.stringify(s)).toString('base64url');
}

function decodeState(c: string | undefined): Record<string, string | null> {
  if (!c) return {};
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, string | null>;
  } catch {}
  throw badRequest('cursor is not valid: pass the `next` value of a previous page unchanged');
}
