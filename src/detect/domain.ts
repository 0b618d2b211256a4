import { entropy } from './stats.js';

/** Second-level labels under which registrations happen one level deeper (co.uk, com.au...). */
const SLD_SUFFIX = new Set(['co', 'com', 'net', 'org', 'gov', 'ac', 'edu', 'ne', 'or', 'go']);

/** The registered domain of a name (example.com, example.co.uk): what a tunnel or DGA owns. */
export function registeredDomain(name: string): string {
  const n = (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
  // The last labels found from the end by their dots: no array of labels per name.
  const d1 = n.lastIndexOf('.');
  const d2 = d1 > 0 ? n.lastIndexOf('.', d1 - 1) : -1;
  if (d2 < 0) return n;
  const take = n.length - d1 - 1 === 2 && SLD_SUFFIX.has(n.slice(d2 + 1, d1)) ? 3 : 2;
  if (take === 2) return n.slice(d2 + 1);
  const d3 = d2 > 0 ? n.lastIndexOf('.', d2 - 1) : -1;
  return d3 < 0 ? n : n.slice(d3 + 1);
}

/**
 * The 90 most frequent letter pairs of English text: a word-like label hits them most of the
 * time, a random one about one pair in eight. Character statistics, not a word list.
 */
const COMMON = new Set(
  (
    'th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve co me de hi ' +
    'ri ro ic ne ea ra ce li ch ll be ma si om ur ca el ta la ns di fo ho pe ec pr no ct us ac ot il tr ly nc ' +
    'et ut ss so rs un lo wa ge ie wh ee wi em ad ol rt po we na ul ni ts mo ow pa im mi ai sh ir su id os'
  ).split(' '),
);
const VOWELS = new Set(['a', 'e', 'i', 'o', 'u', 'y']);

export interface NameScore {
  score: number;
  length: number;
  entropy: number;
  bigram_hit: number;
  vowel_ratio: number;
  max_consonant_run: number;
  digit_ratio: number;
}

/** How random a label looks, 0 (word-like) to 1 (generated), from its character statistics. */
export function randomness(label: string): NameScore {
  const s = label.toLowerCase();
  let letters = 0;
  let vowels = 0;
  let digits = 0;
  let run = 0;
  let maxRun = 0;
  let pairs = 0;
  let hits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? '';
    if (c >= '0' && c <= '9') {
      digits++;
      run = 0;
      continue;
    }
    if (c < 'a' || c > 'z') {
      run = 0;
      continue;
    }
    letters++;
    if (VOWELS.has(c)) {
      vowels++;
      run = 0;
    } else if (++run > maxRun) maxRun = run;
    const nx = s[i + 1];
    if (nx !== undefined && nx >= 'a' && nx <= 'z') {
      pairs++;
      if (COMMON.has(c + nx)) hits++;
    }
  }
  const h = entropy(s);
  const bigram = pairs > 0 ? hits / pairs : 0;
  const vr = letters > 0 ? vowels / letters : 0;
  const dr = s.length > 0 ? digits / s.length : 0;
  let score = 0;
  if (s.length >= 7) {
    const sBigram = Math.max(0, Math.min(1, (0.5 - bigram) / 0.35));
    const sVowel = Math.max(0, Math.min(1, (0.36 - vr) / 0.16));
    const sRun = Math.max(0, Math.min(1, (maxRun - 2) / 3));
    const sDigit = dr > 0.15 && dr < 0.85 ? 1 : 0;
    const sEnt = Math.max(0, Math.min(1, (h - 2.5) / 1.2));
    score = 0.4 * sBigram + 0.15 * sVowel + 0.15 * sRun + 0.1 * sDigit + 0.2 * sEnt;
  }
  return {
    score: Math.round(score * 100) / 100,
    length: s.length,
    entropy: Math.round(h * 100) / 100,
    bigram_hit: Math.round(bigram * 100) / 100,
    vowel_ratio: Math.round(vr * 100) / 100,
    max_consonant_run: maxRun,
    digit_ratio: Math.round(dr * 100) / 100,
  };
}
