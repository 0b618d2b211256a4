import { type IocType, normalizeIoc, parseCidrRange } from './model.js';

/**
 * STIX 2.1 patterning (OASIS STIX 2.1 §9): a parser to a small tree, an evaluator over
 * observed-data (checked against OASIS's stix2-matcher), and a compiler that turns the
 * patterns feeds actually use — equality and IN over the observable types we see on the
 * wire, joined by OR — into indicators for the hash-based matcher. Anything else is
 * reported as unsupported with the reason, never dropped silently.
 */

export type Literal =
  | { k: 'str'; v: string }
  | { k: 'int'; v: number }
  | { k: 'float'; v: number }
  | { k: 'bool'; v: boolean }
  | { k: 'ts'; v: number }
  | { k: 'hex'; v: string }
  | { k: 'bin'; v: string };

export type PathStep = { key: string } | { index: number | '*' };

export interface ObjectPath {
  objectType: string;
  steps: PathStep[];
  /** The path as written, for messages. */
  text: string;
}

export type CompOp =
  | '='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | 'IN'
  | 'LIKE'
  | 'MATCHES'
  | 'ISSUBSET'
  | 'ISSUPERSET';

export type CompExpr =
  | { k: 'and'; a: CompExpr; b: CompExpr }
  | { k: 'or'; a: CompExpr; b: CompExpr }
  | { k: 'test'; path: ObjectPath; op: CompOp; not: boolean; value: Literal | Literal[] }
  | { k: 'exists'; path: ObjectPath; not: boolean };

export type ObsExpr =
  | { k: 'obs'; comp: CompExpr }
  | { k: 'and'; a: ObsExpr; b: ObsExpr }
  | { k: 'or'; a: ObsExpr; b: ObsExpr }
  | { k: 'followedby'; a: ObsExpr; b: ObsExpr }
  | { k: 'qualified'; e: ObsExpr; qualifier: string };

export class PatternError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} at character ${position}`);
    this.name = 'PatternError';
  }
}

type Tok = { t: 'sym' | 'word' | 'str' | 'num' | 'ts' | 'hex' | 'bin'; v: string; pos: number };

const MAX_PATTERN = 64 * 1024;
const MAX_DEPTH = 64;

function tokenize(src: string): Tok[] {
  if (src.length > MAX_PATTERN) throw new PatternError(`pattern longer than ${MAX_PATTERN} characters`, 0);
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if ((c === 't' || c === 'h' || c === 'b') && src[i + 1] === "'") {
      const end = src.indexOf("'", i + 2);
      if (end < 0) throw new PatternError('unterminated literal', i);
      out.push({ t: c === 't' ? 'ts' : c === 'h' ? 'hex' : 'bin', v: src.slice(i + 2, end), pos: start });
      i = end + 1;
      continue;
    }
    if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new PatternError('unterminated string', start);
        const d = src[i]!;
        if (d === '\\') {
          const e = src[i + 1];
          if (e !== "'" && e !== '\\') throw new PatternError('bad escape in string', i);
          s += e;
          i += 2;
        } else if (d === "'") {
          i++;
          break;
        } else {
          s += d;
          i++;
        }
      }
      out.push({ t: 'str', v: s, pos: start });
      continue;
    }
    const num = /^[-+]?\d+(\.\d+)?/.exec(src.slice(i, i + 64));
    if (num) {
      out.push({ t: 'num', v: num[0], pos: start });
      i += num[0].length;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '!=' || two === '<=' || two === '>=') {
      out.push({ t: 'sym', v: two, pos: start });
      i += 2;
      continue;
    }
    if ('[]():=<>,.*'.includes(c)) {
      out.push({ t: 'sym', v: c, pos: start });
      i++;
      continue;
    }
    const w = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i, i + 300));
    if (w) {
      out.push({ t: 'word', v: w[0], pos: start });
      i += w[0].length;
      continue;
    }
    throw new PatternError(`unexpected '${c}'`, i);
  }
  return out;
}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(
    private readonly toks: Tok[],
    private readonly len: number,
  ) {}

  private peek(): Tok | undefined {
    return this.toks[this.i];
  }
  private pos(): number {
    return this.peek()?.pos ?? this.len;
  }
  private isWord(w: string): boolean {
    const t = this.peek();
    return t?.t === 'word' && t.v.toUpperCase() === w;
  }
  private isSym(s: string): boolean {
    const t = this.peek();
    return t?.t === 'sym' && t.v === s;
  }
  private expectSym(s: string): void {
    if (!this.isSym(s)) throw new PatternError(`expected '${s}'`, this.pos());
    this.i++;
  }
  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw new PatternError('pattern nested too deeply', this.pos());
  }

  parse(): ObsExpr {
    const e = this.obsFollowed();
    if (this.i < this.toks.length) throw new PatternError(`unexpected '${this.peek()!.v}'`, this.pos());
    return e;
  }

  private obsFollowed(): ObsExpr {
    let a = this.obsOr();
    while (this.isWord('FOLLOWEDBY')) {
      this.i++;
      a = { k: 'followedby', a, b: this.obsOr() };
    }
    return a;
  }
  private obsOr(): ObsExpr {
    let a = this.obsAnd();
    while (this.isWord('OR')) {
      this.i++;
      a = { k: 'or', a, b: this.obsAnd() };
    }
    return a;
  }
  private obsAnd(): ObsExpr {
    let a = this.obsQualified();
    while (this.isWord('AND')) {
      this.i++;
      a = { k: 'and', a, b: this.obsQualified() };
    }
    return a;
  }
  private obsQualified(): ObsExpr {
    this.enter();
    let e: ObsExpr;
    if (this.isSym('[')) {
      this.i++;
      e = { k: 'obs', comp: this.compOr() };
      this.expectSym(']');
    } else if (this.isSym('(')) {
      this.i++;
      e = this.obsFollowed();
      this.expectSym(')');
    } else throw new PatternError("expected '[' or '('", this.pos());
    for (;;) {
      const start = this.i;
      if (this.isWord('WITHIN')) {
        this.i++;
        this.number();
        if (!this.isWord('SECONDS')) throw new PatternError('expected SECONDS', this.pos());
        this.i++;
      } else if (this.isWord('REPEATS')) {
        this.i++;
        this.number();
        if (!this.isWord('TIMES')) throw new PatternError('expected TIMES', this.pos());
        this.i++;
      } else if (this.isWord('START')) {
        this.i++;
        if (this.peek()?.t !== 'ts') throw new PatternError('expected a timestamp after START', this.pos());
        this.i++;
        if (!this.isWord('STOP')) throw new PatternError('expected STOP', this.pos());
        this.i++;
        if (this.peek()?.t !== 'ts') throw new PatternError('expected a timestamp after STOP', this.pos());
        this.i++;
      } else break;
      e = {
        k: 'qualified',
        e,
        qualifier: this.toks
          .slice(start, this.i)
          .map((t) => t.v)
          .join(' '),
      };
    }
    this.depth--;
    return e;
  }
  private number(): number {
    const t = this.peek();
    if (t?.t !== 'num') throw new PatternError('expected a number', this.pos());
    this.i++;
    return Number(t.v);
  }

  private compOr(): CompExpr {
    let a = this.compAnd();
    while (this.isWord('OR')) {
      this.i++;
      a = { k: 'or', a, b: this.compAnd() };
    }
    return a;
  }
  private compAnd(): CompExpr {
    let a = this.propTest();
    while (this.isWord('AND')) {
      this.i++;
      a = { k: 'and', a, b: this.propTest() };
    }
    return a;
  }
  private propTest(): CompExpr {
    this.enter();
    try {
      if (this.isSym('(')) {
        this.i++;
        const e = this.compOr();
        this.expectSym(')');
        return e;
      }
      let not = false;
      if (this.isWord('EXISTS')) {
        this.i++;
        return { k: 'exists', path: this.objectPath(), not };
      }
      const path = this.objectPath();
      if (this.isWord('NOT')) {
        this.i++;
        not = true;
      }
      const t = this.peek();
      if (!t) throw new PatternError('expected a comparison operator', this.pos());
      if (t.t === 'sym' && ['=', '!=', '<', '<=', '>', '>='].includes(t.v)) {
        this.i++;
        return { k: 'test', path, op: t.v as CompOp, not, value: this.literal() };
      }
      if (t.t === 'word') {
        const w = t.v.toUpperCase();
        if (w === 'IN') {
          this.i++;
          this.expectSym('(');
          const set: Literal[] = [this.literal()];
          while (this.isSym(',')) {
            this.i++;
            set.push(this.literal());
          }
          this.expectSym(')');
          return { k: 'test', path, op: 'IN', not, value: set };
        }
        if (w === 'LIKE' || w === 'MATCHES' || w === 'ISSUBSET' || w === 'ISSUPERSET') {
          this.i++;
          const v = this.literal();
          if (v.k !== 'str') throw new PatternError(`${w} takes a string`, this.pos());
          return { k: 'test', path, op: w, not, value: v };
        }
      }
      throw new PatternError('expected a comparison operator', this.pos());
    } finally {
      this.depth--;
    }
  }
  private literal(): Literal {
    const t = this.peek();
    if (!t) throw new PatternError('expected a value', this.pos());
    this.i++;
    switch (t.t) {
      case 'str':
        return { k: 'str', v: t.v };
      case 'num':
        return /[.]/.test(t.v) ? { k: 'float', v: Number(t.v) } : { k: 'int', v: Number(t.v) };
      case 'ts': {
        const v = Date.parse(t.v);
        if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(t.v) || Number.isNaN(v))
          throw new PatternError('bad timestamp literal', t.pos);
        return { k: 'ts', v };
      }
      case 'hex':
        if (!/^([0-9a-fA-F]{2})*$/.test(t.v)) throw new PatternError('bad hex literal', t.pos);
        return { k: 'hex', v: t.v.toLowerCase() };
      case 'bin':
        return { k: 'bin', v: t.v };
      case 'word':
        if (t.v === 'true' || t.v === 'false') return { k: 'bool', v: t.v === 'true' };
        break;
    }
    throw new PatternError('expected a value', t.pos);
  }
  private objectPath(): ObjectPath {
    const t = this.peek();
    if (t?.t !== 'word') throw new PatternError('expected an object path', this.pos());
    this.i++;
    const objectType = t.v;
    this.expectSym(':');
    const steps: PathStep[] = [];
    const key = (): void => {
      const k = this.peek();
      if (k?.t === 'word' || k?.t === 'str') {
        this.i++;
        steps.push({ key: k.v });
      } else throw new PatternError('expected a property name', this.pos());
    };
    key();
    for (;;) {
      if (this.isSym('.')) {
        this.i++;
        key();
      } else if (this.isSym('[')) {
        this.i++;
        const k = this.peek();
        if (k?.t === 'num' && /^\d+$/.test(k.v)) steps.push({ index: Number(k.v) });
        else if (k?.t === 'sym' && k.v === '*') steps.push({ index: '*' });
        else throw new PatternError("expected an index or '*'", this.pos());
        this.i++;
        this.expectSym(']');
      } else break;
    }
    return {
      objectType,
      steps,
      text: `${objectType}:${steps.map((s) => ('key' in s ? s.key : `[${s.index}]`)).join('.')}`,
    };
  }
}

/** Parse a STIX 2.1 pattern; throws PatternError naming the position. */
export function parsePattern(src: string): ObsExpr {
  return new Parser(tokenize(src), src.length).parse();
}

// ---------------------------------------------------------------------------------------
// Evaluation over observed-data (the `objects` form): what stix2-matcher answers.

export type Sdo = { number_observed?: number; objects?: Record<string, Record<string, unknown>> };

export class Unsupported extends Error {}

/** True when the pattern matches the observations (FOLLOWEDBY and qualifiers are unsupported). */
export function evaluate(expr: ObsExpr, observations: readonly Sdo[]): boolean {
  const inst: number[] = [];
  observations.forEach((o, i) => {
    const n = Math.min(Math.max(1, Math.trunc(Number(o.number_observed ?? 1)) || 1), 64);
    for (let j = 0; j < n; j++) inst.push(i);
  });
  return bindings(expr, observations, inst).length > 0;
}

const MAX_BINDINGS = 10_000;

function bindings(e: ObsExpr, obs: readonly Sdo[], inst: number[]): number[][] {
  switch (e.k) {
    case 'obs': {
      const out: number[][] = [];
      inst.forEach((oi, idx) => {
        if (compRoots(e.comp, obs[oi]!).size > 0) out.push([idx]);
      });
      return out;
    }
    case 'or':
      return [...bindings(e.a, obs, inst), ...bindings(e.b, obs, inst)].slice(0, MAX_BINDINGS);
    case 'and': {
      const a = bindings(e.a, obs, inst);
      const b = bindings(e.b, obs, inst);
      const out: number[][] = [];
      for (const x of a)
        for (const y of b) {
          if (x.some((i) => y.includes(i))) continue;
          out.push([...x, ...y]);
          if (out.length >= MAX_BINDINGS) return out;
        }
      return out;
    }
    default:
      throw new Unsupported(e.k === 'followedby' ? 'FOLLOWEDBY' : `qualifier ${e.qualifier}`);
  }
}

/** Ids of the root objects of one observation that pass a comparison expression. */
function compRoots(c: CompExpr, sdo: Sdo): Set<string> {
  const objs = sdo.objects ?? {};
  switch (c.k) {
    case 'and': {
      const a = compRoots(c.a, sdo);
      if (a.size === 0) return a;
      const b = compRoots(c.b, sdo);
      return new Set([...a].filter((x) => b.has(x)));
    }
    case 'or': {
      const a = compRoots(c.a, sdo);
      for (const x of compRoots(c.b, sdo)) a.add(x);
      return a;
    }
    case 'exists':
    case 'test': {
      const out = new Set<string>();
      for (const [id, o] of Object.entries(objs)) {
        if (o.type !== c.path.objectType) continue;
        const vals = resolve(o, c.path.steps, objs);
        if (c.k === 'exists') {
          if (vals.length > 0 !== c.not) out.add(id);
          continue;
        }
        if (vals.some((v) => testValue(c, v))) out.add(id);
      }
      return out;
    }
  }
}

function resolve(root: unknown, steps: PathStep[], objs: Record<string, unknown>): unknown[] {
  let cur: unknown[] = [root];
  for (let s = 0; s < steps.length; s++) {
    const step = steps[s]!;
    const next: unknown[] = [];
    for (const v of cur) {
      if ('key' in step) {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) continue;
        if (!Object.hasOwn(v, step.key)) continue;
        let x = (v as Record<string, unknown>)[step.key];
        // *_ref properties are followed into the object they name (when more path follows)
        if (step.key.endsWith('_ref') && typeof x === 'string' && s + 1 < steps.length) x = objs[x];
        if (step.key.endsWith('_refs') && Array.isArray(x) && s + 1 < steps.length) {
          x = x.map((r) => (typeof r === 'string' ? objs[r] : undefined));
        }
        if (x !== undefined) next.push(x);
      } else {
        if (!Array.isArray(v)) continue;
        if (step.index === '*') next.push(...v);
        else if (step.index < v.length) next.push(v[step.index]);
      }
    }
    cur = next.filter((x) => x !== undefined);
  }
  return cur;
}

function testValue(c: Extract<CompExpr, { k: 'test' }>, v: unknown): boolean {
  let r: boolean;
  switch (c.op) {
    case '=':
    case '!=': {
      const eq = litEquals(c.value as Literal, v);
      if (eq === null) r = false;
      else r = c.op === '=' ? eq : !eq;
      break;
    }
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const cmp = litCompare(v, c.value as Literal);
      if (cmp === null) r = false;
      else r = c.op === '<' ? cmp < 0 : c.op === '<=' ? cmp <= 0 : c.op === '>' ? cmp > 0 : cmp >= 0;
      break;
    }
    case 'IN':
      r = (c.value as Literal[]).some((l) => litEquals(l, v) === true);
      break;
    case 'LIKE':
      if (typeof v !== 'string') return false;
      r = likeRegex((c.value as Literal).v as string).test(v);
      break;
    case 'MATCHES': {
      if (typeof v !== 'string') return false;
      let re: RegExp;
      try {
        re = pcreToRegExp((c.value as Literal).v as string);
      } catch {
        throw new Unsupported('MATCHES with a regular expression JavaScript cannot compile');
      }
      r = re.test(v);
      break;
    }
    case 'ISSUBSET':
    case 'ISSUPERSET': {
      if (typeof v !== 'string') return false;
      const a = parseCidrRange(v);
      const b = parseCidrRange((c.value as Literal).v as string);
      if (!a || !b || a.v6 !== b.v6) return false;
      const [inner, outer] = c.op === 'ISSUBSET' ? [a, b] : [b, a];
      r = inner.lo >= outer.lo && inner.hi <= outer.hi;
      break;
    }
  }
  return c.not ? !r : r;
}

function litEquals(l: Literal, v: unknown): boolean | null {
  switch (l.k) {
    case 'str':
    case 'bin':
      return typeof v === 'string' ? v === l.v : null;
    case 'int':
    case 'float':
      return typeof v === 'number' ? v === l.v : null;
    case 'bool':
      return typeof v === 'boolean' ? v === l.v : null;
    case 'ts': {
      if (typeof v !== 'string') return null;
      const t = Date.parse(v);
      return Number.isNaN(t) ? null : t === l.v;
    }
    case 'hex':
      return typeof v === 'string' ? v.toLowerCase() === l.v : null;
  }
}

function litCompare(v: unknown, l: Literal): number | null {
  if ((l.k === 'int' || l.k === 'float') && typeof v === 'number') return v - l.v;
  if ((l.k === 'str' || l.k === 'bin') && typeof v === 'string') return v < l.v ? -1 : v > l.v ? 1 : 0;
  if (l.k === 'ts' && typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? null : t - l.v;
  }
  return null;
}

/** A PCRE-style pattern as STIX writes it: leading inline flags such as (?i) become RegExp flags. */
function pcreToRegExp(p: string): RegExp {
  const m = /^\(\?([ims]+)\)/.exec(p);
  let flags = 'su';
  if (m) {
    for (const f of m[1]!) if (!flags.includes(f)) flags += f;
    return new RegExp(p.slice(m[0].length), flags);
  }
  return new RegExp(p, flags);
}

function likeRegex(p: string): RegExp {
  let s = '^';
  for (const ch of p) s += ch === '%' ? '.*' : ch === '_' ? '.' : ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`${s}$`, 's');
}

// ---------------------------------------------------------------------------------------
// Compilation into indicators for live matching.

/** The observable paths that map to an indicator type. */
const PATH_TYPES: Record<string, IocType> = {
  'ipv4-addr:value': 'cidr',
  'ipv6-addr:value': 'cidr',
  'domain-name:value': 'domain',
  'url:value': 'url',
  'email-addr:value': 'email',
  "file:hashes.'SHA-256'": 'file_hash',
  "file:hashes.'SHA-1'": 'file_hash',
  'file:hashes.MD5': 'file_hash',
  "file:hashes.'SHA-512'": 'file_hash',
  "x509-certificate:hashes.'SHA-256'": 'cert_sha256',
  "x509-certificate:hashes.'SHA-1'": 'cert_sha1',
  'network-traffic:dst_ref.value': 'cidr',
  'network-traffic:src_ref.value': 'cidr',
  'network-traffic:extensions.tls-ext.server_name': 'sni',
  'x-ja3:value': 'ja3',
  'x-ja3s:value': 'ja3s',
  'x-ja4:value': 'ja4',
};

function pathKey(p: ObjectPath): string {
  return `${p.objectType}:${p.steps
    .map((s) => {
      if (!('key' in s)) return `[${s.index}]`;
      return /^[A-Za-z0-9_]+$/.test(s.key) ? s.key : `'${s.key}'`;
    })
    .join('.')}`;
}

export type Compiled =
  | { ok: true; values: { type: IocType; value: string }[] }
  | { ok: false; reason: string };

/**
 * The indicator values a pattern stands for when it is a disjunction of equalities (or IN)
 * on supported paths; otherwise the reason it is not.
 */
export function compilePattern(src: string): Compiled {
  let e: ObsExpr;
  try {
    e = parsePattern(src);
  } catch (err) {
    return { ok: false, reason: `bad pattern: ${(err as Error).message}` };
  }
  const values: { type: IocType; value: string }[] = [];
  const walkObs = (o: ObsExpr): string | null => {
    if (o.k === 'or') return walkObs(o.a) ?? walkObs(o.b);
    if (o.k === 'obs') return walkComp(o.comp);
    if (o.k === 'qualified') return `qualifier ${o.qualifier} is not matched live`;
    return `observation operator ${o.k.toUpperCase()} is not matched live`;
  };
  const walkComp = (c: CompExpr): string | null => {
    if (c.k === 'or') return walkComp(c.a) ?? walkComp(c.b);
    if (c.k === 'and') return 'AND of comparisons is not matched live';
    if (c.k === 'exists') return 'EXISTS is not matched live';
    if (c.not) return 'NOT is not matched live';
    const key = pathKey(c.path);
    const type = PATH_TYPES[key];
    if (!type) return `object path ${key} is not matched live`;
    if (c.op !== '=' && c.op !== 'IN' && !(c.op === 'ISSUBSET' && type === 'cidr'))
      return `operator ${c.op} is not matched live`;
    for (const l of Array.isArray(c.value) ? c.value : [c.value]) {
      if (l.k !== 'str' && l.k !== 'hex') return `a ${l.k} value on ${key} is not matched live`;
      const n = normalizeIoc(type, l.v);
      if (!n) return `'${l.v.slice(0, 80)}' is not a valid ${type}`;
      values.push(n);
    }
    return null;
  };
  const reason = walkObs(e);
  return reason === null ? { ok: true, values } : { ok: false, reason };
}
