import type { Columnar } from '../store/columnar.js';
import { fieldPlan } from '../store/columnar-read.js';
import type { Rec } from '../store/types.js';

type Fill = (out: Rec, c: Columnar, i: number) => Rec;

const compiled = new WeakMap<readonly string[], WeakMap<readonly string[], Fill>>();

/**
 * A row reader for DNS and HTTP column batches: it writes the named fields of row `i` into
 * `out` (one object refilled row after row, as `fillFields` does) with code generated for the
 * batch's layout, so each field is a fixed property store instead of a lookup by name. Layouts
 * are the builders' own field lists, so one reader serves every batch of a type.
 */
export function l7RowReader(c: Columnar, names: readonly string[]): Fill {
  let byStr = compiled.get(c.num);
  if (!byStr) {
    byStr = new WeakMap();
    compiled.set(c.num, byStr);
  }
  let fill = byStr.get(c.str);
  if (fill) return fill;
  const lines: string[] = [];
  for (const p of fieldPlan(c, names)) {
    const key = JSON.stringify(p.name);
    if (p.kind === 'num') lines.push(`v = f[fb + ${p.j}]; out[${key}] = v === v ? v : null;`);
    else if (p.kind === 'str') lines.push(`d = s[sb + ${p.j}]; out[${key}] = d < 0 ? null : dict[d];`);
    else if (p.kind === 'json') lines.push(`out[${key}] = c.json[${key}].get(i) ?? null;`);
  }
  fill = new Function(
    'out',
    'c',
    'i',
    `const f = c.f, s = c.s, dict = c.dict; const fb = i * ${c.num.length}, sb = i * ${c.str.length}; let v, d;\n${lines.join('\n')}\nreturn out;`,
  ) as Fill;
  byStr.set(c.str, fill);
  return fill;
}
