import type { DetectConfig, DetectorName } from './config.js';

/**
 * The detectors' per-key state bounded by bytes (issue 21): the `detect` share of the memory
 * budget is split among the enabled detectors and the shared baselines and prevalence, and each
 * count cap is its part divided by what one entry weighs. Count caps alone were never sized
 * against the budget: at the old defaults the full set held ~270 MiB (bench/detect-state.ts),
 * reached only slowly, so a soak's RSS climbed for its whole length.
 */

/**
 * What one entry weighs, bytes (V8 heap plus ArrayBuffers, bench/detect-state.ts, one record
 * per key as the churn that fills a map makes them). A flood victim is taken as it is after a
 * long life (a full rate series and 40 sources): victims live long and are few. Entries with
 * more state weigh more (a scanning source with four probes 2.6 KB, a beacon pair with 12
 * beats 1.2 KB), so the share is what the maps weigh as churn fills them, not a hard bound.
 */
export const ENTRY_BYTES: Record<DetectorName | 'baselines' | 'prevalence', number> = {
  // Keyed by numbers and the records' own strings (pair-table.ts, 2026-12-07): measured 416, 642,
  // 435, 183, 2 × 237 and 367 B (423, 800, 554, 378, 2 × 279 and 383 keyed by a text per record).
  scan: 440,
  flood: 7300,
  bruteforce: 660,
  dnsTunnel: 460,
  dga: 950,
  beacon: 200,
  // A (source, destination) pair and its source's hourly volume: both maps share the cap.
  exfil: 480,
  rareDest: 330,
  baselines: 850,
  prevalence: 380,
};

/**
 * The caps' proportions, scaled to the share (at 768 MiB, the default on a 24 GiB machine, to
 * 0.68 of these: 40,665 scan sources, 1,355 victims, 6,777 pairs). The scan detector keeps the most: a spoofed flood makes a source per packet, and a slow scanner
 * must outlive them (the labelled capture holds 30,302 sources at its peak); victims, baselines
 * and networks are far fewer than their old caps (10,000, 50,000, 200,000), which were never
 * sized against a budget and held ~270 MiB at their caps.
 */
const WEIGHT_COUNTS: Record<DetectorName | 'baselines' | 'prevalence', number> = {
  scan: 60_000,
  flood: 2000,
  bruteforce: 10_000,
  dnsTunnel: 10_000,
  dga: 5000,
  beacon: 10_000,
  exfil: 10_000,
  rareDest: 50_000,
  baselines: 10_000,
  prevalence: 20_000,
};

/** The config key of each detector's count cap. */
export const CAP_KEYS: Record<DetectorName | 'baselines', string> = {
  scan: 'maxSources',
  flood: 'maxVictims',
  bruteforce: 'maxPairs',
  dnsTunnel: 'maxPairs',
  dga: 'maxHosts',
  beacon: 'maxPairs',
  exfil: 'maxPairs',
  rareDest: 'maxNetworks',
  baselines: 'maxKeys',
};

/**
 * The part of the share the caps are sized to: a map's hash table grows by doubling, so at its
 * cap its backing store is up to twice its entries, and entries weigh more than the figures
 * above when their keys are busier. Sized to the whole share, the whole set fed to its caps
 * (bench/detect-state.ts, a 24 MiB share) took 105% of it.
 */
const FILL = 0.85;

/** What the set holds whatever its entries: the flood detector's count-min sketch (2 MiB). */
export const FIXED_BYTES = 2 * 2 ** 20 + 64 * 2 ** 10;

/** Never fewer entries than this, whatever the share: a detector needs some state to work. */
const MIN_CAP = 256;

export type StatePart = DetectorName | 'baselines' | 'prevalence';

export interface DetectCaps {
  /** The share the caps were derived from, bytes. */
  share: number;
  /** Entries each part may hold (enabled detectors, baselines, prevalence). */
  caps: Partial<Record<StatePart, number>>;
  /** Config keys set by the operator (they win over the share), e.g. `detect.flood.maxVictims`. */
  explicit: string[];
  /** What the state weighs with every map at its cap, bytes (estimate from ENTRY_BYTES). */
  atCaps: number;
}

/**
 * Caps for `cfg` within `share` bytes: a cap the config sets (non-zero) is kept as it is; the
 * others are WEIGHT_COUNTS scaled by one factor so that the whole state at its caps fits what
 * the explicit ones leave (never under MIN_CAP). Returns the config with every cap filled in.
 */
export function resolveDetectCaps(cfg: DetectConfig, share: number): { cfg: DetectConfig; caps: DetectCaps } {
  const out = structuredClone(cfg);
  const parts: StatePart[] = ['baselines', 'prevalence'];
  for (const n of Object.keys(CAP_KEYS) as (DetectorName | 'baselines')[]) {
    if (n !== 'baselines' && out[n].enabled) parts.push(n);
  }
  const section = (p: DetectorName | 'baselines'): Record<string, unknown> =>
    (p === 'baselines' ? out.baseline : out[p]) as unknown as Record<string, unknown>;
  const explicit: string[] = [];
  const caps: Partial<Record<StatePart, number>> = {};
  let fixed = 0;
  let weight = 0;
  for (const p of parts) {
    const v = p === 'prevalence' ? 0 : (section(p)[CAP_KEYS[p]] as number);
    if (v > 0) {
      caps[p] = v;
      explicit.push(
        `detect.${p === 'baselines' ? 'baseline' : p}.${CAP_KEYS[p as DetectorName | 'baselines']}`,
      );
      fixed += v * ENTRY_BYTES[p];
    } else weight += WEIGHT_COUNTS[p] * ENTRY_BYTES[p];
  }
  const k = weight > 0 ? Math.max(0, (share - FIXED_BYTES) * FILL - fixed) / weight : 0;
  let atCaps = fixed + FIXED_BYTES;
  for (const p of parts) {
    if (caps[p] !== undefined) continue;
    const c = Math.max(MIN_CAP, Math.floor(WEIGHT_COUNTS[p] * k));
    caps[p] = c;
    atCaps += c * ENTRY_BYTES[p];
  }
  for (const p of parts) if (p !== 'prevalence') section(p)[CAP_KEYS[p]] = caps[p];
  // Disabled detectors keep a valid cap too (nothing reads it; a config check might).
  for (const n of Object.keys(CAP_KEYS) as (DetectorName | 'baselines')[]) {
    const s = section(n);
    if (!((s[CAP_KEYS[n]] as number) > 0)) s[CAP_KEYS[n]] = MIN_CAP;
  }
  return { cfg: out, caps: { share, caps, explicit, atCaps } };
}

/** One line for the start log. */
export function describeDetectCaps(c: DetectCaps): string {
  const mib = (n: number): string => `${Math.round(n / 2 ** 20)}MiB`;
  const list = Object.entries(c.caps)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const over =
    c.explicit.length > 0
      ? `; ${c.explicit.join(', ')} set in the config win: the detectors' state may exceed its share`
      : '';
  return `detectors' state ${mib(c.share)} (~${mib(c.atCaps)} at the caps): ${list}${over}`;
}
