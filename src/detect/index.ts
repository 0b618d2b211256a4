import type { AlertEmitter, AnyRecord, RecordWatcher } from '../common/alerts.js';
import { memoryBudget } from '../common/budget.js';
import type { Columnar } from '../store/columnar.js';
import type { Rec, RecordStore, TimeRange } from '../store/types.js';
import { Baselines } from './baseline.js';
import { createBeaconDetector } from './beacon.js';
import { createBruteforceDetector } from './bruteforce.js';
import { type DetectConfig, type DetectorName, parseDetectConfig } from './config.js';
import { createDgaDetector } from './dga.js';
import { createDnsTunnelDetector } from './dns-tunnel.js';
import { createExfilDetector } from './exfil.js';
import { createFloodDetector } from './flood.js';
import { fillFlowView, fillFlowViewColumns, flowColumns, newFlowView, tsMs } from './flow-view.js';
import { l7RowReader } from './l7-view.js';
import { fastIpv4, NetSet } from './nets.js';
import { strHash } from './pair-table.js';
import { Prevalence } from './prevalence.js';
import { createRareDestDetector } from './rare-dest.js';
import { createScanDetector } from './scan.js';
import { type DetectCaps, resolveDetectCaps } from './state-budget.js';
import type { DetectContext, Detector } from './types.js';

export { DEFAULT_DETECT, type DetectConfig, parseDetectConfig } from './config.js';
export type { Detector, FlowView } from './types.js';

export interface DetectDeps {
  emitter: AlertEmitter;
  /** Where baselines are kept across restarts (none: in memory only). */
  dataDir?: string;
  log?: (msg: string) => void;
  /**
   * The detectors' share of the memory budget, bytes: the count caps not set in the config are
   * derived from it (default: the share of the default budget).
   */
  stateBytes?: number;
}

export interface DetectorSet extends RecordWatcher {
  readonly detectors: readonly Detector[];
  readonly counters: { records: number; flows: number; dns: number; http: number; skipped: number };
  readonly baselines: Baselines;
  readonly prevalence: Prevalence;
  /** The share the state was given and the caps derived from it. */
  readonly caps: DetectCaps;
  /** Persist baselines now (also done at finish and every hour of data time). */
  save(): void;
}

type Factory = (cfg: never, ctx: DetectContext) => Detector;
const FACTORIES: Record<DetectorName, Factory> = {
  scan: createScanDetector as Factory,
  flood: createFloodDetector as Factory,
  bruteforce: createBruteforceDetector as Factory,
  dnsTunnel: createDnsTunnelDetector as Factory,
  dga: createDgaDetector as Factory,
  beacon: createBeaconDetector as Factory,
  exfil: createExfilDetector as Factory,
  rareDest: createRareDestDetector as Factory,
};

const SAVE_EVERY_MS = 3_600_000;

/** Every detector's `allowed` when no allow list is set: one shared function, inlined at each call. */
const allowNone = (): boolean => false;

/**
 * Every field of a DNS or HTTP record that a detector's onDns/onHttp reads: the column path
 * fills only these (a detector that reads another one adds it here; test/detect/columns.test.ts
 * compares both paths).
 */
const L7_FIELDS = [
  'ts',
  'query',
  'client_ip',
  'server_ip',
  'server_port',
  'service',
  'qtype',
  'qtype_name',
  'answers',
  'rcode',
  'flow_id',
  'status',
  'uri',
] as const;

/**
 * Every enabled detector behind one record watcher: flows and collected flows are read once
 * into a shared view, DNS and HTTP records go to the detectors that read them, and data time
 * (the latest record time) drives their windows.
 */
export function createDetectors(config: DetectConfig | unknown, deps: DetectDeps): DetectorSet {
  const resolved = resolveDetectCaps(
    isConfig(config) ? config : parseDetectConfig(config),
    deps.stateBytes ?? memoryBudget().detect,
  );
  const cfg = resolved.cfg;
  const internal = new NetSet(cfg.internal);
  const globalAllow = new NetSet(cfg.allow);
  const baselines = new Baselines(
    cfg.baseline.alpha,
    cfg.baseline.learningSamples,
    cfg.baseline.maxKeys,
    deps.dataDir,
  );
  const prevalence = new Prevalence(resolved.caps.caps.prevalence);
  const detectors: Detector[] = [];
  if (cfg.enabled) {
    for (const name of Object.keys(FACTORIES) as DetectorName[]) {
      const dc = cfg[name];
      if (!dc.enabled) continue;
      const own = new NetSet(dc.allow);
      const ctx: DetectContext = {
        emitter: deps.emitter,
        internal,
        baselines,
        prevalence,
        allowed: globalAllow.empty && own.empty ? allowNone : (ip) => globalAllow.has(ip) || own.has(ip),
      };
      detectors.push(FACTORIES[name](dc as never, ctx));
    }
  }
  const flowDet = detectors.filter((d) => d.onFlow);
  const dnsDet = detectors.filter((d) => d.onDns);
  const httpDet = detectors.filter((d) => d.onHttp);
  const counters = { records: 0, flows: 0, dns: 0, http: 0, skipped: 0 };
  const view = newFlowView();
  let clock = 0;
  let lastTick = 0;
  let lastSave = 0;

  function advance(ms: number): void {
    if (!Number.isFinite(ms) || ms <= clock) return;
    clock = ms;
    if (clock - lastTick < 1000) return;
    lastTick = clock;
    for (const d of detectors) d.tick(clock);
    if (deps.dataDir && clock - lastSave >= SAVE_EVERY_MS) {
      if (lastSave !== 0) save();
      lastSave = clock;
    }
  }

  function save(): void {
    try {
      baselines.save();
    } catch (e) {
      deps.log?.(`detect: cannot save baselines: ${(e as Error).message}`);
    }
  }

  /** The view is filled: every flow detector sees it, then the shared prevalence learns it. */
  function flow(): void {
    counters.flows++;
    for (let i = 0; i < flowDet.length; i++) flowDet[i]!.onFlow!(view);
    if (view.srcInternal && !view.dstInternal && view.answered !== false)
      prevalence.add(view.src, view.dst, view.dstHash, view.srcHash);
    advance(view.endMs);
  }

  function l7(rec: AnyRecord, t: string): void {
    const ms = tsMs(rec.ts);
    if (!Number.isFinite(ms)) return void counters.skipped++;
    if (t === 'dns') {
      counters.dns++;
      for (const d of dnsDet) d.onDns?.(rec, ms);
    } else {
      counters.http++;
      for (const d of httpDet) d.onHttp?.(rec, ms);
    }
    advance(ms);
  }

  return {
    name: 'detect',
    detectors,
    counters,
    baselines,
    prevalence,
    caps: resolved.caps,
    save,
    onRecord(rec: AnyRecord) {
      counters.records++;
      if (detectors.length === 0) return;
      const t = rec.type;
      if (t === 'flow' || t === 'exported_flow') {
        if (!fillFlowView(view, rec)) {
          counters.skipped++;
          return;
        }
        view.srcV4 = fastIpv4(view.src);
        view.dstV4 = fastIpv4(view.dst);
        view.srcInternal = view.srcV4 >= 0 ? internal.hasV4(view.srcV4) : internal.has(view.src);
        view.dstInternal = view.dstV4 >= 0 ? internal.hasV4(view.dstV4) : internal.has(view.dst);
        view.srcHash = strHash(view.src);
        view.dstHash = strHash(view.dst);
        flow();
      } else if (t === 'dns' || t === 'http') l7(rec, t);
    },
    onColumns(t: string, c: Columnar) {
      const n = c.rows.length;
      counters.records += n;
      if (detectors.length === 0 || n === 0) return;
      if (t === 'flow' || t === 'exported_flow') {
        const k = flowColumns(c, t);
        // Whether an address is internal, its hash and its IPv4 number, once per distinct address
        // of the batch (inside 0: not known yet).
        const inside = new Uint8Array(c.dict.length);
        const hashes = new Int32Array(c.dict.length);
        const v4s = new Float64Array(c.dict.length);
        const ns = c.str.length;
        /** The address's hash; `hashInside` holds whether it is internal, `hashV4` its IPv4 number. */
        let hashInside = false;
        let hashV4 = -1;
        const addrHash = (i: number, j: number, ip: string): number => {
          const d = j < 0 ? -1 : c.s[i * ns + j]!;
          if (d < 0) {
            hashV4 = fastIpv4(ip);
            hashInside = hashV4 >= 0 ? internal.hasV4(hashV4) : internal.has(ip);
            return strHash(ip);
          }
          let st = inside[d]!;
          if (st === 0) {
            const a = fastIpv4(ip);
            inside[d] = st = (a >= 0 ? internal.hasV4(a) : internal.has(ip)) ? 2 : 1;
            hashes[d] = strHash(ip);
            v4s[d] = a;
          }
          hashInside = st === 2;
          hashV4 = v4s[d]!;
          return hashes[d]!;
        };
        for (let x = 0; x < n; x++) {
          const i = c.rows[x]!;
          if (!fillFlowViewColumns(view, c, i, k)) {
            counters.skipped++;
            continue;
          }
          view.srcHash = addrHash(i, k.src, view.src);
          view.srcInternal = hashInside;
          view.srcV4 = hashV4;
          view.dstHash = addrHash(i, k.dst, view.dst);
          view.dstInternal = hashInside;
          view.dstV4 = hashV4;
          flow();
        }
      } else if (t === 'dns' || t === 'http') {
        // One record object refilled row after row with the fields the L7 detectors read (they
        // keep none of the objects).
        const row: AnyRecord = { type: t };
        const read = l7RowReader(c, L7_FIELDS);
        for (let x = 0; x < n; x++) l7(read(row, c, c.rows[x]!) as AnyRecord, t);
      }
    },
    tick(nowMs: number) {
      advance(nowMs);
    },
    finish() {
      for (const d of detectors) d.finish();
      if (deps.dataDir) save();
    },
  };
}

function isConfig(c: unknown): c is DetectConfig {
  return typeof c === 'object' && c !== null && 'scan' in c && 'internal' in c && 'baseline' in c;
}

const DETECT_TYPES = ['flow', 'exported_flow', 'dns', 'http'] as const;
const TIME_FIELD: Record<string, string> = {
  flow: 'last_ts',
  exported_flow: 'last_ts',
  dns: 'ts',
  http: 'ts',
};

/**
 * Replay stored flow, collected-flow, DNS and HTTP records of a time range through the
 * detectors, in time order, a slice at a time so that memory stays bounded whatever the range.
 * Alerts raised this way are marked `retro`. Returns the detectors' counters.
 */
export async function runDetectors(
  store: RecordStore,
  range: TimeRange,
  cfg: DetectConfig | unknown,
  emitter: AlertEmitter,
  opts: { sliceSec?: number; dataDir?: string } = {},
): Promise<{ records: number; alerts: number; counters: DetectorSet['counters'] }> {
  let alerts = 0;
  const retro: AlertEmitter = {
    raise(a) {
      alerts++;
      emitter.raise({ ...a, retro: true });
    },
  };
  const set = createDetectors(cfg, { emitter: retro, ...(opts.dataDir ? { dataDir: opts.dataDir } : {}) });
  const sliceUs = (opts.sliceSec ?? 600) * 1e6;
  const known = new Set(store.defs.map((d) => d.type));
  const types = DETECT_TYPES.filter((t) => known.has(t));
  let after = range.after;
  if (after === undefined) {
    // Start at the oldest stored record of any type.
    for (const t of types) {
      const page = await store.list({ type: t, limit: 1, desc: false });
      const first = page.items[0];
      const ms = first ? tsMs(first[TIME_FIELD[t] ?? 'ts'] ?? first.ts) : Number.NaN;
      if (Number.isFinite(ms) && (after === undefined || ms * 1000 < after)) after = ms * 1000;
    }
  }
  const end = range.before ?? Date.now() * 1000 + 1;
  let records = 0;
  for (let a = after ?? end; a < end; ) {
    const b = Math.min(end, a + sliceUs);
    const slice: Rec[] = [];
    for (const t of types) {
      await store.stream({ type: t, after: a, before: b, desc: false }, (rows) => {
        for (const r of rows) slice.push(r.type ? r : { ...r, type: t });
      });
    }
    slice.sort((x, y) => recMs(x) - recMs(y));
    for (const r of slice) set.onRecord(r as AnyRecord);
    records += slice.length;
    a = b;
    if (slice.length === 0 && a < end) {
      // Sparse history: jump over the gap to the next stored record rather than slice by slice.
      let next = end;
      for (const t of types) {
        const page = await store.list({ type: t, after: a, before: end, limit: 1, desc: false });
        const first = page.items[0];
        const ms = first ? tsMs(first[TIME_FIELD[t] ?? 'ts']) : Number.NaN;
        if (Number.isFinite(ms)) next = Math.min(next, Math.max(a, Math.floor(ms * 1000)));
      }
      a = next;
    }
  }
  set.finish();
  return { records, alerts, counters: set.counters };
}

function recMs(r: Rec): number {
  const v = tsMs(r.type === 'flow' || r.type === 'exported_flow' ? r.last_ts : r.ts);
  return Number.isFinite(v) ? v : 0;
}
