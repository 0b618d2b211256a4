/**
 * The collector's decoding core, shared by the network receiver and the capture-file hook:
 * detects the protocol of each export datagram by content, keeps templates and sampling per
 * (exporter, version, observation domain), tracks sequence numbers per exporter stream, and
 * emits records through one callback. Every bad input is counted in the exporter's stats.
 */
import type { ColumnWriter } from './column-writer.js';
import { type ExportContext, FlowAcc, toRecord } from './flow-acc.js';
import { decodeTemplated } from './ipfix/decode.js';
import { compileTemplate, sameTemplate, type Template } from './ipfix/template.js';
import { decodeNetflow5 } from './netflow5/decode.js';
import { decodeNetflow9 } from './netflow9/index.js';
import { SflowDecoder } from './sflow/decode.js';
import { type CollectedRecord, type ExporterStats, newExporterStats } from './types.js';

export interface CollectDecoderConfig {
  /** Templates kept per (exporter, domain); more are refused and counted. */
  maxTemplatesPerScope: number;
  /** (exporter, version, domain) scopes kept; datagrams of further scopes are counted as errors. */
  maxScopes: number;
  /** Exporters with their own statistics; the rest are summed under "other". */
  maxExporters: number;
  /** Data sets held per scope while their template is missing, and their total bytes. */
  maxPendingSets: number;
  maxPendingBytes: number;
  /** How long a held data set waits for its template (ms, on the clock of the input). */
  pendingMaxAgeMs: number;
  /** Compute community_id for each record (SHA-1 per record). */
  communityId: boolean;
  /** Keep fields that have no column in `extra`. */
  keepExtra: boolean;
}

export const DEFAULT_DECODER_CONFIG: CollectDecoderConfig = {
  maxTemplatesPerScope: 1024,
  maxScopes: 4096,
  maxExporters: 4096,
  maxPendingSets: 64,
  maxPendingBytes: 256 * 1024,
  pendingMaxAgeMs: 10_000,
  communityId: true,
  keepExtra: true,
};

export type CollectEmit = (rec: CollectedRecord) => void;

export interface PendingSet {
  templateId: number;
  data: Buffer;
  atMs: number;
  ctx: ExportContext;
  stats: ExporterStats;
}

export interface Scope {
  readonly key: string;
  readonly templates: Map<number, Template>;
  /** Sampling rate per sampler / selector id, from options records. */
  readonly samplers: Map<number, number>;
  /** Sampling rate an options record stated without a sampler id (0: none). */
  defaultRate: number;
  systemInitMs: number;
  pending: PendingSet[];
  pendingBytes: number;
}

/** Persisted form of the template state (one small JSON file). */
export interface TemplateState {
  version: 1;
  scopes: Record<
    string,
    {
      templates: { id: number; options: boolean; scopeCount: number; fields: [number, number, number][] }[];
      samplers: [number, number][];
      defaultRate: number;
      systemInitMs: number | null;
    }
  >;
}

export type ExportProtocol = 'netflow5' | 'netflow9' | 'ipfix' | 'sflow';

/** The protocol of an export datagram by its first bytes, or null. */
export function detectProtocol(b: Buffer, off: number, len: number): ExportProtocol | null {
  if (len < 4) return null;
  const v16 = b.readUInt16BE(off);
  if (v16 === 5 && len >= 24) return 'netflow5';
  if (v16 === 9 && len >= 20) return 'netflow9';
  if (v16 === 10 && len >= 16) return 'ipfix';
  if (v16 === 0 && b.readUInt32BE(off) === 5 && len >= 28) return 'sflow';
  return null;
}

export class CollectDecoder {
  readonly cfg: CollectDecoderConfig;
  readonly acc = new FlowAcc();
  readonly scopes = new Map<string, Scope>();
  readonly exporters = new Map<string, ExporterStats>();
  /** Next expected sequence number per exporter stream. */
  private readonly seq = new Map<string, number>();
  private readonly sflow: SflowDecoder;
  /** Set when templates or sampling changed since the last save. */
  dirty = false;
  /** Datagrams that were not export packets at all (unknown version). */
  unknown = 0;

  /**
   * With a column writer, flows are written into its batch instead of emitted as objects
   * (`emit` then takes only the records that are not flows): the decode thread's path.
   */
  readonly columns: ColumnWriter | null;

  constructor(
    cfg: Partial<CollectDecoderConfig>,
    readonly emit: CollectEmit,
    columns: ColumnWriter | null = null,
  ) {
    this.cfg = { ...DEFAULT_DECODER_CONFIG, ...cfg };
    this.columns = columns;
    this.sflow = new SflowDecoder(this);
  }

  /**
   * Decode one export datagram from `exporter`:`port` received at `nowMs`. Returns false when
   * it is not a datagram of a known protocol (counted as a decode error of that exporter).
   */
  decode(b: Buffer, off: number, len: number, exporter: string, port: number, nowMs: number): boolean {
    const st = this.stats(exporter, port);
    st.datagrams++;
    st.bytes += len;
    const proto = detectProtocol(b, off, len);
    if (proto === null) {
      st.decodeErrors++;
      this.unknown++;
      return false;
    }
    st.source = proto;
    switch (proto) {
      case 'netflow5':
        decodeNetflow5(this, b, off, len, exporter, port, st);
        break;
      case 'netflow9':
        decodeNetflow9(this, b, off, len, exporter, port, nowMs, st);
        break;
      case 'ipfix':
        decodeTemplated(this, 10, b, off, len, exporter, port, nowMs, st);
        break;
      case 'sflow':
        this.sflow.decode(b, off, len, exporter, port, nowMs, st);
        break;
    }
    return true;
  }

  // The last exporter looked up: datagrams come in runs from one exporter, and its key string
  // made per datagram was the decode thread's garbage once records stopped being objects.
  private lastStExporter = '';
  private lastStPort = -1;
  private lastSt: ExporterStats | null = null;

  /** Statistics of one exporter, created on first sight (bounded: the rest go to "other"). */
  stats(exporter: string, port: number): ExporterStats {
    if (this.lastSt !== null && port === this.lastStPort && exporter === this.lastStExporter)
      return this.lastSt;
    const st = this.statsOf(exporter, port);
    this.lastStExporter = exporter;
    this.lastStPort = port;
    this.lastSt = st;
    return st;
  }

  private statsOf(exporter: string, port: number): ExporterStats {
    const key = `${exporter}|${port}`;
    let st = this.exporters.get(key);
    if (st) return st;
    if (this.exporters.size >= this.cfg.maxExporters) {
      st = this.exporters.get('other|0');
      if (st) return st;
      st = newExporterStats('other', 0);
      this.exporters.set('other|0', st);
      return st;
    }
    st = newExporterStats(exporter, port);
    this.exporters.set(key, st);
    return st;
  }

  emitFlow(ctx: ExportContext, st: ExporterStats): void {
    st.records++;
    if (this.columns !== null) this.columns.flow(this.acc, ctx);
    else this.emit(toRecord(this.acc, ctx));
  }

  /**
   * Sequence accounting for one stream: `seq` is what the header says, `advance` how far this
   * datagram moves it (1 for per-datagram counters, the record count for per-record ones).
   */
  sequence(key: string, seq: number, advance: number, st: ExporterStats): void {
    const exp = this.seq.get(key);
    if (exp !== undefined) {
      const d = (seq - exp) >>> 0;
      if (d !== 0) {
        if (d < 0x8000_0000) {
          st.seqGaps++;
          st.seqLost += d;
        } else st.seqResets++;
      }
    } else if (this.seq.size >= this.cfg.maxScopes * 4) this.seq.clear();
    this.seq.set(key, (seq + advance) >>> 0);
  }

  /** Forget a stream's expected sequence (its count for this datagram is unknown). */
  resync(key: string): void {
    this.seq.delete(key);
  }

  private lastScopeExporter = '';
  private lastScopeVer = -1;
  private lastScopeDomain = -1;
  private lastScope: Scope | null = null;

  /** The scope of (exporter, version, domain), the last one kept at hand (no key string made). */
  scopeOf(exporter: string, ver: number, domain: number): Scope | null {
    if (
      this.lastScope !== null &&
      domain === this.lastScopeDomain &&
      ver === this.lastScopeVer &&
      exporter === this.lastScopeExporter
    )
      return this.lastScope;
    const s = this.scope(`${exporter}/${ver}/${domain}`);
    if (s !== null) {
      this.lastScopeExporter = exporter;
      this.lastScopeVer = ver;
      this.lastScopeDomain = domain;
      this.lastScope = s;
    }
    return s;
  }

  private lastSeqExporter = '';
  private lastSeqPort = -1;
  private lastSeqVer = -1;
  private lastSeqDomain = -1;
  private lastSeqKey = '';

  /** The sequence stream key of (exporter, port, version, domain), the last one kept at hand. */
  seqKey(exporter: string, port: number, ver: number, domain: number): string {
    if (
      domain !== this.lastSeqDomain ||
      ver !== this.lastSeqVer ||
      port !== this.lastSeqPort ||
      exporter !== this.lastSeqExporter
    ) {
      this.lastSeqKey = `${exporter}:${port}/${ver}/${domain}`;
      this.lastSeqExporter = exporter;
      this.lastSeqPort = port;
      this.lastSeqVer = ver;
      this.lastSeqDomain = domain;
    }
    return this.lastSeqKey;
  }

  scope(key: string): Scope | null {
    let s = this.scopes.get(key);
    if (s) return s;
    if (this.scopes.size >= this.cfg.maxScopes) return null;
    s = {
      key,
      templates: new Map(),
      samplers: new Map(),
      defaultRate: 0,
      systemInitMs: Number.NaN,
      pending: [],
      pendingBytes: 0,
    };
    this.scopes.set(key, s);
    return s;
  }

  /** Learn (or refresh) a template; returns it when it is new or changed. */
  addTemplate(
    scope: Scope,
    id: number,
    def: [number, number, number][],
    options: boolean,
    scopeCount: number,
    st: ExporterStats,
  ): Template | null {
    const t = compileTemplate(id, def, options, scopeCount);
    if (!t) {
      st.templatesRejected++;
      return null;
    }
    const old = scope.templates.get(id);
    if (old && sameTemplate(old, t)) return null;
    if (!old && scope.templates.size >= this.cfg.maxTemplatesPerScope) {
      st.templatesRejected++;
      return null;
    }
    scope.templates.set(id, t);
    st.templates++;
    this.dirty = true;
    return t;
  }

  withdraw(scope: Scope, id: number, all: boolean, options: boolean, st: ExporterStats): void {
    if (all) {
      for (const [k, t] of scope.templates) if (t.options === options) scope.templates.delete(k);
    } else scope.templates.delete(id);
    st.templateWithdrawals++;
    this.dirty = true;
  }

  /** Hold a data set whose template has not arrived (bounded; the oldest is given up first). */
  hold(
    scope: Scope,
    templateId: number,
    data: Buffer,
    nowMs: number,
    ctx: ExportContext,
    st: ExporterStats,
  ): void {
    const cfg = this.cfg;
    if (data.length > cfg.maxPendingBytes) {
      st.noTemplateSets++;
      return;
    }
    while (
      scope.pending.length >= cfg.maxPendingSets ||
      scope.pendingBytes + data.length > cfg.maxPendingBytes
    ) {
      const old = scope.pending.shift()!;
      scope.pendingBytes -= old.data.length;
      old.stats.noTemplateSets++;
    }
    scope.pending.push({ templateId, data: Buffer.from(data), atMs: nowMs, ctx: { ...ctx }, stats: st });
    scope.pendingBytes += data.length;
    st.pendingSets++;
  }

  /** Give up held sets older than the limit (all of them when `all`). */
  expire(scope: Scope, nowMs: number, all = false): void {
    if (scope.pending.length === 0) return;
    const keep: PendingSet[] = [];
    for (const p of scope.pending) {
      if (all || nowMs - p.atMs > this.cfg.pendingMaxAgeMs) {
        p.stats.noTemplateSets++;
        scope.pendingBytes -= p.data.length;
      } else keep.push(p);
    }
    scope.pending = keep;
  }

  /** Held sets for template `t`, removed from the queue. */
  takePending(scope: Scope, id: number): PendingSet[] {
    if (scope.pending.length === 0) return [];
    const out: PendingSet[] = [];
    const keep: PendingSet[] = [];
    for (const p of scope.pending) {
      if (p.templateId === id) {
        out.push(p);
        scope.pendingBytes -= p.data.length;
      } else keep.push(p);
    }
    scope.pending = keep;
    return out;
  }

  /** End of input: every held set is counted as never decoded. */
  finish(): void {
    for (const s of this.scopes.values()) this.expire(s, 0, true);
  }

  /** Totals over all exporters. */
  totals(): ExporterStats {
    const t = newExporterStats('all', 0);
    for (const s of this.exporters.values()) {
      for (const k of Object.keys(t) as (keyof ExporterStats)[]) {
        if (k === 'port') continue;
        const v = s[k];
        if (typeof v === 'number') (t[k] as number) += v;
      }
    }
    return t;
  }

  saveTemplates(): TemplateState {
    const out: TemplateState = { version: 1, scopes: {} };
    for (const [k, s] of this.scopes) {
      if (s.templates.size === 0 && s.samplers.size === 0 && s.defaultRate === 0) continue;
      out.scopes[k] = {
        templates: [...s.templates.values()].map((t) => ({
          id: t.id,
          options: t.options,
          scopeCount: t.scopeCount,
          fields: t.def.map((f) => [f[0], f[1], f[2]] as [number, number, number]),
        })),
        samplers: [...s.samplers],
        defaultRate: s.defaultRate,
        systemInitMs: Number.isNaN(s.systemInitMs) ? null : s.systemInitMs,
      };
    }
    this.dirty = false;
    return out;
  }

  /** Restore saved state; entries that do not validate are skipped. Returns templates loaded. */
  loadTemplates(state: unknown): number {
    let n = 0;
    const st = state as Partial<TemplateState> | null;
    if (st?.version !== 1 || typeof st.scopes !== 'object' || st.scopes === null) return 0;
    for (const [k, v] of Object.entries(st.scopes)) {
      const scope = this.scope(k);
      if (!scope || !v || !Array.isArray(v.templates)) continue;
      for (const t of v.templates) {
        if (!Array.isArray(t.fields) || typeof t.id !== 'number') continue;
        const fields = t.fields.filter(
          (f): f is [number, number, number] =>
            Array.isArray(f) && f.length === 3 && f.every(Number.isInteger),
        );
        const c = compileTemplate(t.id, fields, t.options === true, Number(t.scopeCount) || 0);
        if (c && scope.templates.size < this.cfg.maxTemplatesPerScope) {
          scope.templates.set(t.id, c);
          n++;
        }
      }
      if (Array.isArray(v.samplers))
        for (const [id, r] of v.samplers) if (Number.isFinite(id) && r > 0) scope.samplers.set(id, r);
      if (Number(v.defaultRate) > 0) scope.defaultRate = Number(v.defaultRate);
      if (typeof v.systemInitMs === 'number') scope.systemInitMs = v.systemInitMs;
    }
    return n;
  }
}
