import { feedTime } from '../model.js';
import { compilePattern } from '../stix-pattern.js';
import { FeedError, type ParseOptions, ParseResult, parseJson } from './common.js';

/** A STIX 2.1 bundle (a file, a URL, or the objects of TAXII envelopes) into indicators. */
export function parseStixBundle(text: string, opts: ParseOptions): ParseResult {
  const doc = parseJson(text, 'STIX bundle');
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new FeedError('STIX bundle is not a JSON object');
  const b = doc as Record<string, unknown>;
  if (b.type !== 'bundle')
    throw new FeedError(`STIX document has type '${String(b.type)}', expected 'bundle'`);
  if (b.objects !== undefined && !Array.isArray(b.objects))
    throw new FeedError('STIX bundle objects is not an array');
  const r = new ParseResult(opts);
  addStixObjects(r, (b.objects ?? []) as unknown[]);
  return r;
}

/** Add the indicators among STIX objects; other objects (malware, relationships...) are passed over. */
export function addStixObjects(r: ParseResult, objects: readonly unknown[]): void {
  for (const o of objects) {
    if (!o || typeof o !== 'object') {
      r.note('skipped', 'an object of the bundle is not a JSON object');
      continue;
    }
    const ind = o as Record<string, unknown>;
    if (ind.type !== 'indicator') continue;
    const id = typeof ind.id === 'string' ? ind.id : '(no id)';
    if (ind.revoked === true) continue;
    if (typeof ind.pattern !== 'string') {
      r.note('skipped', `${id}: no pattern`);
      continue;
    }
    const ptype = ind.pattern_type ?? 'stix';
    if (ptype !== 'stix') {
      r.note('unsupported', `${id}: pattern_type ${String(ptype)} is not STIX patterning`);
      continue;
    }
    const c = compilePattern(ind.pattern);
    if (!c.ok) {
      r.note('unsupported', `${id}: ${c.reason}`);
      continue;
    }
    const tags = [
      ...(Array.isArray(ind.indicator_types) ? ind.indicator_types : []),
      ...(Array.isArray(ind.labels) ? ind.labels : []),
    ].map(String);
    const refs = Array.isArray(ind.external_references)
      ? (ind.external_references as Record<string, unknown>[])
          .map((x) => (typeof x?.url === 'string' ? x.url : null))
          .filter((x): x is string => x !== null)
      : [];
    const validUntil = feedTime(ind.valid_until);
    const p = {
      ...(typeof ind.confidence === 'number' ? { confidence: ind.confidence } : {}),
      ...(typeof ind.x_severity === 'number' ? { severity: ind.x_severity } : {}),
      first_seen: feedTime(ind.valid_from),
      last_seen: feedTime(ind.modified ?? ind.created),
      ...(Number.isFinite(validUntil) ? { valid_until: validUntil } : {}),
      tags,
      description:
        typeof ind.description === 'string'
          ? ind.description
          : typeof ind.name === 'string'
            ? ind.name
            : null,
      references: refs,
    };
    for (const v of c.values) r.add(v.type, v.value, p, `${id}: `);
  }
}
