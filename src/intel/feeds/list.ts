import { guessIocType, type IocType } from '../model.js';
import { type ParseOptions, ParseResult, textLines } from './common.js';

/**
 * A plain list: one value a line, `#` starts a comment, blank lines ignored. Each value's type
 * is the feed's `type` when given, otherwise guessed from its form (address, network, URL,
 * hash, domain).
 */
export function parseList(text: string, opts: ParseOptions, type?: IocType): ParseResult {
  const r = new ParseResult(opts);
  for (const [raw, n] of textLines(text, opts.maxLine)) {
    const hash = raw.indexOf('#');
    const v = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (v === '') continue;
    const t = type ?? guessIocType(v);
    if (!t) {
      r.note('skipped', `line ${n}: cannot tell what '${v.slice(0, 80)}' is`);
      continue;
    }
    r.add(t, v, {}, `line ${n}: `);
  }
  return r;
}
