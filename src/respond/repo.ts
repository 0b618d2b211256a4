import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AdapterCatalog, loadPlaybook, type Playbook } from './playbook.js';

export interface PlaybookEntry {
  name: string;
  enabled: boolean;
  version: number;
  versions: number[];
  source: string;
  playbook: Playbook;
}

/**
 * Playbooks by version: DIR/<name>/v<N>.yaml keeps every saved text; state.json says which
 * version is current and whether it is enabled. Runs name the version they started with, so a
 * resumed or retried run keeps running the version that started it.
 */
export class PlaybookRepo {
  /** Parsed playbooks by name@version, and the names: every alert consults them. */
  private readonly parsed = new Map<string, PlaybookEntry>();
  private namesCache: string[] | null = null;

  constructor(
    private readonly dir: string,
    private readonly catalog: AdapterCatalog,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  private state(name: string): { enabled: boolean; version: number } | null {
    try {
      return JSON.parse(readFileSync(join(this.dir, name, 'state.json'), 'utf8')) as {
        enabled: boolean;
        version: number;
      };
    } catch {
      return null;
    }
  }
  private setState(name: string, s: { enabled: boolean; version: number }): void {
    this.parsed.clear();
    this.namesCache = null;
    const p = join(this.dir, name, 'state.json');
    writeFileSync(`${p}.tmp`, JSON.stringify(s));
    renameSync(`${p}.tmp`, p);
  }

  names(): string[] {
    this.namesCache ??= readdirSync(this.dir)
      .filter((n) => this.state(n) !== null)
      .sort();
    return this.namesCache;
  }

  versions(name: string): number[] {
    if (!existsSync(join(this.dir, name))) return [];
    return readdirSync(join(this.dir, name))
      .map((n) => /^v(\d+)\.yaml$/.exec(n)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  source(name: string, version: number): string | null {
    try {
      return readFileSync(join(this.dir, name, `v${version}.yaml`), 'utf8');
    } catch {
      return null;
    }
  }

  get(name: string, version?: number): PlaybookEntry | null {
    const hit = this.parsed.get(`${name}@${version ?? ''}`);
    if (hit) return hit;
    const e = this.read(name, version);
    if (e) this.parsed.set(`${name}@${version ?? ''}`, e);
    return e;
  }

  private read(name: string, version?: number): PlaybookEntry | null {
    const s = this.state(name);
    if (!s) return null;
    const v = version ?? s.version;
    const source = this.source(name, v);
    if (source === null) return null;
    const pb = loadPlaybook(source);
    return {
      name,
      enabled: s.enabled,
      version: v,
      versions: this.versions(name),
      source,
      playbook: { ...pb, version: v, enabled: s.enabled },
    };
  }

  /** Validate and store as the next version (unchanged text keeps the current version). */
  save(text: string): PlaybookEntry {
    const pb = loadPlaybook(text, this.catalog);
    const d = join(this.dir, pb.name);
    mkdirSync(d, { recursive: true });
    const cur = this.state(pb.name);
    if (cur && this.source(pb.name, cur.version) === text) {
      this.setState(pb.name, { ...cur, enabled: pb.enabled });
      return this.get(pb.name)!;
    }
    const next = (this.versions(pb.name).at(-1) ?? 0) + 1;
    writeFileSync(join(d, `v${next}.yaml`), text);
    this.setState(pb.name, { enabled: pb.enabled, version: next });
    return this.get(pb.name)!;
  }

  setEnabled(name: string, enabled: boolean): PlaybookEntry | null {
    const s = this.state(name);
    if (!s) return null;
    this.setState(name, { ...s, enabled });
    return this.get(name);
  }

  remove(name: string): boolean {
    if (!this.state(name)) return false;
    rmSync(join(this.dir, name), { recursive: true, force: true });
    this.parsed.clear();
    this.namesCache = null;
    return true;
  }
}
