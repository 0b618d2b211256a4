import { ConfigError } from '../common/errors.js';
import { parseCidr, RFC1918_ULA } from './nets.js';

/**
 * The `detect` section of the config file. Every detector has `enabled`, its thresholds and its
 * own `allow` list (CIDRs never alerted on as source or destination). The defaults are meant to
 * work on an enterprise network without tuning: they are the absolute thresholds detectors use
 * before their baselines have learned (cold start), taken from Zeek, RITA and FastNetMon where
 * those give one. docs/config.md documents every key.
 *
 * The count caps (`maxSources`, `maxVictims`, `maxPairs`, `maxHosts` of dga, `maxNetworks`,
 * `maxKeys`) are 0: derived from the detectors' share of the memory budget (state-budget.ts).
 * A number set in the config wins.
 */
export const DEFAULT_DETECT = {
  enabled: true,
  /** Which hosts are ours (default RFC 1918 and ULA). */
  internal: [...RFC1918_ULA] as string[],
  /** Hosts and networks no detector alerts on. */
  allow: [] as string[],
  /** Baselines: EWMA weight, samples (hours) before a baseline counts, keys kept. */
  baseline: { alpha: 0.1, learningSamples: 24, maxKeys: 0 },
  scan: {
    enabled: true,
    allow: [] as string[],
    /** Zeek scan.zeek: 15 unique ports on one host, 25 unique hosts on one port, in 5 min. */
    windowSec: 300,
    verticalPorts: 15,
    horizontalHosts: 25,
    /** Slow scans: the same fan-out spread over an hour. */
    slowWindowSec: 3600,
    slowVerticalPorts: 40,
    slowHorizontalHosts: 60,
    maxSources: 0,
  },
  flood: {
    enabled: true,
    allow: [] as string[],
    /** Rates are measured over buckets of this many seconds. */
    bucketSec: 10,
    /** Absolute per-victim thresholds (cold start), packets/s. */
    synPps: 2000,
    udpPps: 10_000,
    icmpPps: 2000,
    /** Reflection: responses from these UDP source ports averaging at least this size. */
    amplificationPps: 1000,
    amplificationMinBytes: 400,
    /** A learned victim alerts at this multiple of its baseline rate, and at least minPps. */
    baselineFactor: 10,
    minPps: 500,
    /** Distinct sources per bucket above which the flood is called spoofed/distributed. */
    spoofedSources: 1000,
    /** Flows arrive when they end: buckets are decided this long after they close. */
    latenessSec: 330,
    maxVictims: 0,
  },
  bruteforce: {
    enabled: true,
    allow: [] as string[],
    windowSec: 300,
    /** Short sessions from one source to one authentication service in the window. */
    sessions: 10,
    /** Sessions longer than this or carrying more are not login attempts. */
    maxSessionSec: 60,
    maxSessionBytes: 20_000,
    /** HTTP 401/403 answers from one source to one host in the window. */
    httpFailures: 15,
    ports: [21, 22, 23, 25, 110, 143, 465, 587, 993, 995, 1433, 3306, 3389, 5432, 5900],
    maxPairs: 0,
  },
  dnsTunnel: {
    enabled: true,
    allow: [] as string[],
    windowSec: 3600,
    /** RITA: 100 unique subdomains under one domain. */
    uniqueSubdomains: 100,
    /** Mean length of the query's subdomain part that makes it look like encoded data. */
    minMeanSubdomainLength: 24,
    /** TXT/NULL/large answers under one domain. */
    txtNullQueries: 50,
    largeAnswerBytes: 512,
    /** Domains (and their subdomains) never called tunnels (reputation lookups, DNSBLs). */
    allowDomains: [] as string[],
    maxPairs: 0,
  },
  dga: {
    enabled: true,
    allow: [] as string[],
    windowSec: 600,
    /** Distinct random-looking names answered NXDOMAIN for one host. */
    nxdomains: 10,
    /** Randomness score (0–1, character statistics) a name must reach. */
    minScore: 0.5,
    /** Domains (and their subdomains) never called generated. */
    allowDomains: [] as string[],
    maxHosts: 0,
  },
  beacon: {
    enabled: true,
    allow: [] as string[],
    /** RITA: at least 4 connections; more are asked for a confident score. */
    minConnections: 12,
    /** RITA's score bands: 0.7 low … 0.9 high; below this nothing is raised. */
    minScore: 0.8,
    /** A destination used by more internal hosts than this fraction is not a beacon (update checks). */
    maxPrevalence: 0.1,
    prevalenceMinHosts: 3,
    /** Ports of benign periodic services (NTP). */
    ignorePorts: [123],
    /** Pairs are scored at least this often, and over at most this window. */
    evaluateEverySec: 3600,
    windowSec: 86_400,
    maxPairs: 0,
    maxPointsPerPair: 512,
  },
  exfil: {
    enabled: true,
    allow: [] as string[],
    windowSec: 3600,
    /** Bytes out to one destination in the window before a baseline exists (RITA: 25 MB). */
    minBytes: 25_000_000,
    /** With a learned baseline: this multiple of the host's usual hourly volume. */
    baselineFactor: 5,
    /** A destination counts as rare when at most this many internal hosts used it before. */
    rareMaxHosts: 2,
    maxPairs: 0,
  },
  rareDest: {
    enabled: true,
    allow: [] as string[],
    /** Nothing is new until this much data time has been seen (the learning period). */
    learningSec: 7 * 86_400,
    /** A network counts as rare when at most this many internal hosts talk to it. */
    maxHosts: 1,
    maxNetworks: 0,
  },
};

type Deep<T> = {
  -readonly [K in keyof T]: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? Deep<T[K]> : T[K];
};
export type DetectConfig = Deep<typeof DEFAULT_DETECT>;
export type DetectorName =
  | 'scan'
  | 'flood'
  | 'bruteforce'
  | 'dnsTunnel'
  | 'dga'
  | 'beacon'
  | 'exfil'
  | 'rareDest';
export const DETECTOR_NAMES: readonly DetectorName[] = [
  'scan',
  'flood',
  'bruteforce',
  'dnsTunnel',
  'dga',
  'beacon',
  'exfil',
  'rareDest',
];

/**
 * Keys whose numbers may be zero (counts of hosts; the count caps, where 0 is "from the memory
 * budget"); every other number must be positive.
 */
const MAY_BE_ZERO = new Set([
  'rareMaxHosts',
  'maxHosts',
  'maxPrevalence',
  'maxKeys',
  'maxSources',
  'maxVictims',
  'maxPairs',
  'maxNetworks',
]);
const FRACTIONS = new Set(['alpha', 'maxPrevalence', 'minScore']);

/**
 * Validate `raw` against the defaults' shape: unknown keys, wrong types, bad CIDRs and out-of-
 * range numbers are errors naming the exact key (`config: detect.scan.windowSec: ...`).
 */
export function parseDetectConfig(raw: unknown, key = 'detect'): DetectConfig {
  const out = structuredClone(DEFAULT_DETECT) as DetectConfig;
  if (raw === undefined || raw === null) return out;
  merge(out as unknown as Record<string, unknown>, raw, key);
  return out;
}

function merge(target: Record<string, unknown>, raw: unknown, path: string): void {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(path, 'expected an object');
  }
  for (const [k, v] of Object.entries(raw)) {
    const p = `${path}.${k}`;
    if (!Object.hasOwn(target, k)) {
      throw new ConfigError(p, `unknown key (expected one of ${Object.keys(target).join(', ')})`);
    }
    const d = target[k];
    if (typeof d === 'boolean') {
      if (typeof v !== 'boolean') throw new ConfigError(p, 'expected true or false');
      target[k] = v;
    } else if (typeof d === 'number') {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(p, 'expected a number');
      if (v < 0 || (v === 0 && !MAY_BE_ZERO.has(k))) throw new ConfigError(p, 'expected a positive number');
      if (FRACTIONS.has(k) && v > 1) throw new ConfigError(p, 'expected a number between 0 and 1');
      target[k] = v;
    } else if (Array.isArray(d)) {
      if (!Array.isArray(v)) throw new ConfigError(p, 'expected a list');
      if (k === 'allowDomains') {
        v.forEach((c, i) => {
          if (typeof c !== 'string' || !/^[a-z0-9_.-]+$/i.test(c))
            throw new ConfigError(`${p}[${i}]`, 'expected a domain name');
        });
      } else if (k === 'allow' || k === 'internal') {
        v.forEach((c, i) => {
          if (typeof c !== 'string' || !parseCidr(c))
            throw new ConfigError(`${p}[${i}]`, 'expected an address or CIDR');
        });
      } else {
        v.forEach((n, i) => {
          if (!Number.isInteger(n) || n < 0 || n > 65535)
            throw new ConfigError(`${p}[${i}]`, 'expected a port number');
        });
      }
      target[k] = [...v];
    } else if (typeof d === 'object' && d !== null) {
      merge(d as Record<string, unknown>, v, p);
    }
  }
}
