import { FAMILY_COVERS, type OsFamily } from './os-signatures.js';

/** One operating-system guess from one source, as the host attributes hold it. */
export interface OsEvidence {
  source: string;
  value: string;
  family: string | null;
  confidence: number;
}

export interface OsVerdict {
  name: string;
  family: string;
  confidence: number;
  /** Sources that agree with the verdict (dhcp, syn, http). */
  agreeing: string[];
  /** Sources that said something else. */
  conflicting: string[];
}

/**
 * Weight of each source: the DHCP client and the TCP stack are the system itself; a
 * User-Agent is whatever an application chose to write, so it counts half.
 */
export const SOURCE_WEIGHT: Record<string, number> = { dhcp: 1, syn: 1, http: 0.5 };

const fits = (evidence: string | null, family: string): boolean =>
  evidence === family || (FAMILY_COVERS[evidence as OsFamily]?.includes(family as OsFamily) ?? false);

/**
 * The operating system the evidence points to. Each family scores the weighted confidence of
 * every source that fits it (a source's best guess only, so a chatty browser counts once);
 * an umbrella guess (a Linux or Apple SYN) fits the specific families under it. The name is
 * the most specific value among the winning family's guesses, DHCP and SYN before User-Agent.
 * Confidence starts from the strongest agreeing guess, gains 10 per other agreeing source and
 * loses 15 per conflicting DHCP or SYN guess (7 per conflicting User-Agent).
 */
export function combineOs(evidence: readonly OsEvidence[]): OsVerdict | null {
  const best = new Map<string, OsEvidence>();
  for (const e of evidence) {
    if (e.family === null || SOURCE_WEIGHT[e.source] === undefined) continue;
    const b = best.get(e.source);
    if (!b || e.confidence > b.confidence) best.set(e.source, e);
  }
  if (best.size === 0) return null;
  const guesses = [...best.values()];
  const families = new Set(guesses.map((g) => g.family!));
  let top: { family: string; score: number; specific: boolean } | null = null;
  for (const f of families) {
    let score = 0;
    for (const g of guesses) if (fits(g.family, f)) score += SOURCE_WEIGHT[g.source]! * g.confidence;
    const specific = FAMILY_COVERS[f as OsFamily] === undefined;
    // Ties go to the specific family: Linux SYN + Android DHCP is Android.
    if (!top || score > top.score || (score === top.score && specific && !top.specific))
      top = { family: f, score, specific };
  }
  const family = top!.family;
  const agree = guesses.filter((g) => fits(g.family, family));
  const conflict = guesses.filter((g) => !fits(g.family, family));
  const order = (g: OsEvidence) => (g.family === family ? 0 : 1) * 10 + (g.source === 'http' ? 1 : 0);
  const named = [...agree].sort(
    (a, b) =>
      order(a) - order(b) ||
      Number(/\d/.test(b.value)) - Number(/\d/.test(a.value)) ||
      b.confidence - a.confidence,
  );
  // A version only a User-Agent gives ("Android 14") refines a family DHCP or SYN named.
  let name = named[0]!.value;
  const uaVersion = agree.find((g) => g.source === 'http' && g.family === family && /\d/.test(g.value));
  if (uaVersion && !/\d/.test(name)) name = uaVersion.value;
  let confidence = Math.max(...agree.map((g) => g.confidence)) + 10 * (agree.length - 1);
  for (const c of conflict) confidence -= c.source === 'http' ? 7 : 15;
  return {
    name,
    family,
    confidence: Math.max(1, Math.min(99, confidence)),
    agreeing: agree.map((g) => g.source).sort(),
    conflicting: conflict.map((g) => g.source).sort(),
  };
}
