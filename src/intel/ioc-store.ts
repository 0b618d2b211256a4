import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { feedTime, type Ioc, iocJson, iocKey, isIocType, makeIoc, NO_STRINGS } from './model.js';

export interface ReplaceResult {
  added: number;
  removed: number;
  total: number;
}

/**
 * Every feed's indicators, and the merged view the matcher is built from: one indicator per
 * type and value whatever the number of feeds that carry it (highest confidence and severity,
 * union of sources and tags, widest seen and validity times). A feed's set is replaced whole
 * on each successful pull, so a failed pull leaves the previous set in place.
 */
export class IocStore {
  private readonly feeds = new Map<string, Map<string, Ioc>>();
  private readonly merged = new Map<string, Ioc>();
  /** Bumped on every change; the matcher is rebuilt when it moves. */
  version = 0;

  constructor(private readonly dir: string | null = null) {}

  get size(): number {
    return this.merged.size;
  }

  feedNames(): string[] {
    return [...this.feeds.keys()];
  }

  feedSize(name: string): number {
    return this.feeds.get(name)?.size ?? 0;
  }

  get(key: string): Ioc | undefined {
    return this.merged.get(key);
  }

  values(): IterableIterator<Ioc> {
    return this.merged.values();
  }

  /** Replace one feed's indicators with a new set (the result of a successful pull). */
  replaceFeed(name: string, iocs: readonly Ioc[], persist = true): ReplaceResult {
    const old = this.feeds.get(name) ?? new Map<string, Ioc>();
    const next = new Map<string, Ioc>();
    for (const i of iocs) {
      const k = iocKey(i.type, i.value);
      const prev = next.get(k);
      next.set(k, prev ? mergeTwo(prev, i) : i);
    }
    this.feeds.set(name, next);
    let added = 0;
    let removed = 0;
    for (const k of old.keys()) {
      if (!next.has(k)) {
        removed++;
        this.remerge(k);
      }
    }
    for (const k of next.keys()) {
      if (!old.has(k)) added++;
      this.remerge(k);
    }
    this.version++;
    if (persist) this.saveFeed(name);
    return { added, removed, total: next.size };
  }

  removeFeed(name: string): number {
    const old = this.feeds.get(name);
    if (!old) return 0;
    this.feeds.delete(name);
    for (const k of old.keys()) this.remerge(k);
    this.version++;
    if (this.dir) rmSync(join(this.dir, fileOf(name)), { force: true });
    return old.size;
  }

  /** Drop every feed's indicators whose validity ended before `nowMs`; returns how many. */
  expire(nowMs: number): number {
    let n = 0;
    for (const [name, set] of this.feeds) {
      let changed = false;
      for (const [k, i] of set) {
        if (i.valid_until < nowMs) {
          set.delete(k);
          this.remerge(k);
          n++;
          changed = true;
        }
      }
      if (changed) this.saveFeed(name);
    }
    if (n > 0) this.version++;
    return n;
  }

  private remerge(k: string): void {
    let m: Ioc | undefined;
    for (const set of this.feeds.values()) {
      const i = set.get(k);
      if (i) m = m ? mergeTwo(m, i) : i;
    }
    if (m) this.merged.set(k, m);
    else this.merged.delete(k);
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
    const set = this.feeds.get(name);
    const path = join(this.dir, fileOf(name));
    const tmp = `${path}.tmp`;
    const parts: string[] = [];
    for (const i of set?.values() ?? []) {
      const { sources: _s, ...rest } = iocJson(i);
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
    sources: union(a.sources, b.sources),
    tags: union(a.tags, b.tags),
    description: a.description ?? b.description,
    references: union(a.references, b.references),
  };
}

const minNaN = (a: number, b: number): number => (Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.min(a, b));
const maxNaN = (a: number, b: number): number => (Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.max(a, b));
