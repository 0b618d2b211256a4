import { clamp100, type Ioc, type IocType, NO_STRINGS, normalizeIoc } from '../model.js';

/** A feed that cannot be read; the feed keeps its previous indicators and shows this. */
export class FeedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeedError';
  }
}

/** What every parser is told. */
export interface ParseOptions {
  /** The feed's name, written as the source of every indicator. */
  sources: readonly string[];
  /** Used when the feed gives none (0–100). */
  confidence: number;
  severity: number;
  /** Days an indicator stays valid after it was pulled when the feed gives no expiry (0: forever). */
  validDays: number;
  /** Pull time, ms. */
  now: number;
  /** Longest line accepted, bytes (line-oriented formats). */
  maxLine: number;
  /** Most indicators one feed may hold. */
  maxIndicators: number;
}

export const DEFAULT_PARSE: Omit<ParseOptions, 'sources'> = {
  confidence: 50,
  severity: 50,
  validDays: 0,
  now: 0,
  maxLine: 64 * 1024,
  maxIndicators: 5_000_000,
};

/** What a parse gives: the indicators and an account of what was left out and why. */
export class ParseResult {
  readonly iocs: Ioc[] = [];
  skipped = 0;
  unsupported = 0;
  /** The first reasons for skipped or unsupported entries. */
  readonly problems: string[] = [];

  constructor(readonly opts: ParseOptions) {}

  note(kind: 'skipped' | 'unsupported', why: string): void {
    this[kind]++;
    if (this.problems.length < 20) this.problems.push(why);
  }

  /** Normalise and add one value; a bad value is counted, not thrown. */
  add(
    type: IocType,
    raw: string,
    p: Partial<Omit<Ioc, 'type' | 'value' | 'sources'>> = {},
    where = '',
  ): boolean {
    const n = normalizeIoc(type, raw);
    if (!n) {
      this.note('skipped', `${where}'${raw.slice(0, 80)}' is not a valid ${type}`);
      return false;
    }
    if (this.iocs.length >= this.opts.maxIndicators) {
      throw new FeedError(`more than ${this.opts.maxIndicators} indicators (intel.feeds[].max_indicators)`);
    }
    // built field by field (no spread): this runs once per indicator of million-line feeds
    const o = this.opts;
    this.iocs.push({
      type: n.type,
      value: n.value,
      confidence: clamp100(p.confidence ?? o.confidence),
      severity: clamp100(p.severity ?? o.severity),
      first_seen: p.first_seen ?? Number.NaN,
      last_seen: p.last_seen ?? Number.NaN,
      valid_until:
        p.valid_until ?? (o.validDays > 0 && o.now > 0 ? o.now + o.validDays * 86_400_000 : Number.NaN),
      sources: o.sources,
      tags: p.tags && p.tags.length > 0 ? p.tags : NO_STRINGS,
      description: p.description ?? null,
      references: p.references && p.references.length > 0 ? p.references : NO_STRINGS,
    });
    return true;
  }
}

/**
 * Lines of a text feed without copying the whole text again; a line longer than the limit is
 * a feed error (a 100 MB line is a broken feed, not an indicator).
 */
export function* textLines(text: string, maxLine: number): Generator<[string, number]> {
  let start = 0;
  let n = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    n++;
    if (end - start > maxLine) throw new FeedError(`line ${n} is longer than ${maxLine} bytes`);
    let line = text.slice(start, end);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    yield [line, n];
    start = end + 1;
  }
}

/** JSON.parse with a message that says it is the feed that is bad. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FeedError(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}
