import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  feedTime,
  IOC_TYPES,
  type Ioc,
  type IocType,
  iocJson,
  isIocType,
  makeIoc,
  NO_STRINGS,
} from './model.js';

export interface ReplaceResult {
  added: number;
  removed: number;
  total: number;
}

/** One map per indicator type, keyed by the normalised value. */
export type TypeMaps = Record<IocType, Map<string, Ioc>>;

export const newTypeMaps = (): TypeMaps =>
  Object.fromEntries(IOC_TYPES.map((t) => [t, new Map<string, Ioc>()])) as TypeMaps;

const newTypeSets = (): Record<IocType, Set<string>> =>
  Object.fromEntries(IOC_TYPES.map((t) => [t, new Set<string>()])) as Record<IocType, Set<string>>;

/** Carried by this feed alone (its own object, or one made of this feed's duplicates). */
const onlyOf = (i: Ioc, name: string): boolean => i.sources.length === 1 && i.sources[0] === name;

/**
 * Every feed's indicators, and the merged view the matcher reads: one indicator per type and
 * value whatever the number of feeds that carry it (highest confidence and severity, union of
 * sources and tags, widest seen and validity times). A feed's set is replaced whole on each
 * successful pull, so a failed pull leaves the previous set in place.
 *
 * Memory is the constraint (a million indicators in well under 500 MB): a feed keeps a plain
 * array, the merged view is one map per type keyed by the value (no composite key strings), and
 * an indicator that a single feed carries is the very object that feed parsed. Only values that
 * several feeds carry get a merged object of their own.
 */
export class IocStore {
  private readonly feeds = new Map<string, Ioc[]>();
  /** The merged view; the matcher looks values up here directly. */
  readonly byType: TypeMaps = newTypeMaps();
  private count = 0;
  /** Bumped on every change; the matcher is rebuilt when it moves. */
  version = 0;

  constructor(private readonly dir: string | null = null) {}

  get size(): number {
    return this.count;
  }

  feedNames(): string[] {
    return [...this.feeds.keys()];
  }

  feedSize(name: string): number {
    return this.feeds.get(name)?.length ?? 0;
  }

  /** By store key (`iocKey(type, value)`). */
  get(key: string): Ioc | undefined {
    const z = key.indexOf('\u0000');
    const t = key.slice(0, z);
    return isIocType(t) ? this.byType[t].get(key.slice(z + 1)) : undefined;
  }

  *values(): IterableIterator<Ioc> {
    for (const t of IOC_TYPES) yield* this.byType[t].values();
  }

  /** Replace one feed's indicators with a new set (the result of a successful pull). */
  replaceFeed(name: string, iocs: readonly Ioc[], persist = true): ReplaceResult {
    const old = this.feeds.get(name) ?? [];
    const src = Object.freeze([name]);
    // 1. take the old set out: values it alone carried go; values shared with other feeds are
    //    recomputed at the end from every feed that still carries them
    const gone = newTypeSets();
    const shared = newTypeSets();
    for (const i of old) {
      const map = this.byType[i.type];
      const m = map.get(i.value);
      if (m === undefined) continue;
      if (onlyOf(m, name)) {
        map.delete(i.value);
        this.count--;
        gone[i.type].add(i.value);
      } else shared[i.type].add(i.value);
    }
    const sharedOld = shared;
    const wasShared = newTypeSets();
    for (const t of IOC_TYPES) for (const v of shared[t]) wasShared[t].add(v);
    const sharedNew = newTypeSets();
    // 2. put the new set in
    const next: Ioc[] = [];
    let added = 0;
    for (const i0 of iocs) {
      const i = onlyOf(i0, name) ? i0 : { ...i0, sources: src };
      const map = this.byType[i.type];
      const m = map.get(i.value);
      if (m === undefined) {
        map.set(i.value, i);
        this.count++;
        next.push(i);
        if (!gone[i.type].delete(i.value)) added++;
      } else if (onlyOf(m, name)) {
        // the feed lists the value twice
        map.set(i.value, mergeTwo(m, i));
      } else if (!sharedNew[i.type].has(i.value)) {
        sharedNew[i.type].add(i.value);
        next.push(i);
        if (!sharedOld[i.type].has(i.value)) added++;
      }
    }
    this.feeds.set(name, next);
    if (next.length === 0) this.feeds.delete(name);
    // 3. values other feeds carry as well: merge them again from every feed
    let removed = 0;
    for (const t of IOC_TYPES) removed += gone[t].size;
    let anyShared = false;
    for (const t of IOC_TYPES) {
      for (const v of sharedNew[t]) sharedOld[t].add(v);
      if (sharedOld[t].size > 0) anyShared = true;
    }
    if (anyShared) {
      const fresh = newTypeMaps();
      for (const list of this.feeds.values()) {
        for (const i of list) {
          if (!sharedOld[i.type].has(i.value)) continue;
          const f = fresh[i.type];
          const prev = f.get(i.value);
          f.set(i.value, prev ? mergeTwo(prev, i) : i);
        }
      }
      for (const t of IOC_TYPES) {
        for (const v of sharedOld[t]) {
          const m = fresh[t].get(v);
          if (m) this.byType[t].set(v, m);
          else {
            this.byType[t].delete(v);
            this.count--;
          }
          // listed before, not now (values only the new set lists were counted as added)
          if (!sharedNew[t].has(v) && wasShared[t].has(v)) removed++;
        }
      }
    }
    this.version++;
    if (persist) this.saveFeed(name);
    return { added, removed, total: next.length };
  }

  removeFeed(name: string): number {
    const n = this.feedSize(name);
    if (!this.feeds.has(name)) return 0;
    this.replaceFeed(name, [], false);
    if (this.dir) rmSync(join(this.dir, fileOf(name)), { force: true });
    return n;
  }

  /** Drop every feed's indicators whose validity ended before `nowMs`; returns how many. */
  expire(nowMs: number): number {
    let n = 0;
    for (const [name, list] of [...this.feeds]) {
      const keep = list.filter((i) => !(i.valid_until < nowMs));
      if (keep.length === list.length) continue;
      n += list.length - keep.length;
      this.replaceFeed(name, keep);
    }
    return n;
  }

  /** Read every persisted feed (at start, before the first pull). */
  load(): number {
    if (!this.dir) return 0;
    mkdirSync(this.dir, { recursive: true });
    let n = 0;
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.ndjson')) continue;
      const name = decodeURIComponent(f.slice(0, -'.ndjson'.length));
      const sources = Object.freeze([name]);
      const iocs: Ioc[] = [];
      for (const line of readFileSync(join(this.dir, f), 'utf8').split('\n')) {
        if (line === '') continue;
        try {
          const o = JSON.parse(line) as Record<string, unknown>;
          const t = String(o.type);
          if (!isIocType(t) || typeof o.value !== 'string') continue;
          iocs.push(
            makeIoc(t, o.value, sources, {
              confidence: Number(o.confidence),
              severity: Number(o.severity),
              first_seen: feedTime(o.first_seen),
              last_seen: feedTime(o.last_seen),
              valid_until: feedTime(o.valid_until),
              tags: Array.isArray(o.tags) ? o.tags.map(String) : NO_STRINGS,
              description: typeof o.description === 'string' ? o.description : null,
              references: Array.isArray(o.references) ? o.references.map(String) : NO_STRINGS,
            }),
          );
        } catch {
          // a torn last line after a crash: the rest of the file is still good
        }
      }
      n += this.replaceFeed(name, iocs, false).total;
    }
    return n;
  }

  private saveFeed(name: string): void {
    if (!this.dir) return;
    mkdirSync(this.dir, { recursive: true });
    const list = this.feeds.get(name) ?? [];
    const path = join(this.dir, fileOf(name));
    const tmp = `${path}.tmp`;
    const parts: string[] = [];
    for (const i0 of list) {
      const m = this.byType[i0.type].get(i0.value);
      const { sources: _s, ...rest } = iocJson(m && onlyOf(m, name) ? m : i0);
      parts.push(JSON.stringify(rest));
    }
    writeFileSync(tmp, parts.length > 0 ? `${parts.join('\n')}\n` : '');
    renameSync(tmp, path);
  }
}

const fileOf = (name: string): string => `${encodeURIComponent(name)}.ndjson`;

/** Two reports of one indicator. */
export function mergeTwo(a: Ioc, b: Ioc): Ioc {
  const union = (x: readonly string[], y: readonly string[]): readonly string[] => {
    if (y.length === 0 || x === y) return x;
    if (x.length === 0) return y;
    const s = new Set(x);
    for (const v of y) s.add(v);
    return s.size === x.length ? x : [...s];
  };
  return {
    type: a.type,
    value: a.value,
    confidence: Math.max(a.confidence, b.confidence),
    severity: Math.max(a.severity, b.severity),
    first_seen: minNaN(a.first_seen, b.first_seen),
    last_seen: maxNaN(a.last_seen, b.last_seen),
    // NaN (never expires) wins over any date
    valid_until:
      Number.isNaN(a.valid_until) || Number.isNaN(b.valid_until)
        ? Number.NaN
        : Math.max(a.valid_until, b.valid_until),
    // Sorted: the feeds' pull order (concurrent) must not change what an alert says.
    sources: [...union(a.sources, b.sources)].sort(),
    tags: union(a.tags, b.tags),
    description: a.description ?? b.description,
    references: union(a.references, b.references),
  };
}

const minNaN = (a: number, b: number): number => (Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.min(a, b));
const maxNaN = (a: number, b: number): number => (Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.max(a, b));
