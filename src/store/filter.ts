import type { AnyRecordDef, FieldDef } from '../schema/registry.js';
import { cidrToRange, ipToBigint, isoToMicros, macToNumber, parseUserTime } from './values.js';

/**
 * The filter language of the API, parsed by hand into a typed condition tree that each store
 * backend compiles to parameterised SQL. Nothing from the user's text reaches SQL except as
 * a bound value; field names come from the registry.
 *
 *   expr    := or
 *   or      := and (("or" | "||") and)*
 *   and     := unary (("and" | "&&") unary)*
 *   unary   := ("not" | "!") unary | "(" expr ")" | compare
 *   compare := FIELD op value | FIELD ["not"] "in" "(" value ("," value)* ")" | FIELD "exists"
 *   op      := "=" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "~" | "!~"
 *   value   := NUMBER | "quoted string" | bare word (IP, CIDR, MAC, name) | null | true | false
 */

export class FilterError extends Error {
  constructor(
    readonly position: number,
    readonly expected: string,
    found: string,
  ) {
    super(`filter error at position ${position}: expected ${expected}, found ${found}`);
    this.name = 'FilterError';
  }
}

/** A condition over coded values (see values.ts); ranges are inclusive. */
export type Cond =
  | { kind: 'and' | 'or'; items: Cond[] }
  | { kind: 'not'; item: Cond }
  | { kind: 'const'; value: boolean }
  | { kind: 'cmp'; field: string; op: CmpOp; value: Coded }
  | { kind: 'range'; field: string; lo: Coded; hi: Coded }
  | { kind: 'in'; field: string; values: Coded[] }
  | { kind: 'contains'; field: string; value: string }
  | { kind: 'null'; field: string };

export type CmpOp = '=' | '!=' | '<' | '<=' | '>' | '>=';
/** A value in its stored coding: bigint for addresses, number for ints/floats/MACs/times (µs). */
export type Coded = number | bigint | string | boolean;

type Tok = { t: 'word' | 'str' | 'op' | 'end'; v: string; pos: number };

const OPS = ['==', '!=', '<=', '>=', '!~', '&&', '||', '=', '<', '>', '~', '(', ')', ',', '!'];
const MAX_LEN = 4096;
const MAX_DEPTH = 32;
const MAX_IN = 1000;

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const start = i++;
      let s = '';
      while (i < src.length && src[i] !== c) {
        if (src[i] === '\\' && i + 1 < src.length) i++;
        s += src[i++];
      }
      if (i >= src.length) throw new FilterError(start, `a closing ${c}`, 'end of input');
      i++;
      out.push({ t: 'str', v: s, pos: start });
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (op) {
      out.push({ t: 'op', v: op, pos: i });
      i += op.length;
      continue;
    }
    const m = /^[A-Za-z0-9_.:/*+-]+/.exec(src.slice(i, i + 256));
    if (!m) throw new FilterError(i, 'a field, value, operator or parenthesis', `'${c}'`);
    out.push({ t: 'word', v: m[0], pos: i });
    i += m[0].length;
  }
  out.push({ t: 'end', v: '', pos: src.length });
  return out;
}

const describe = (t: Tok): string =>
  t.t === 'end' ? 'end of input' : t.t === 'str' ? `"${t.v}"` : `'${t.v}'`;
const kw = (t: Tok, w: string): boolean => t.t === 'word' && t.v.toLowerCase() === w;

/** Parse a filter and bind it to a record type. Returns null for an empty filter. */
export function parseFilter(src: string, def: AnyRecordDef): Cond | null {
  if (src.length > MAX_LEN)
    throw new FilterError(MAX_LEN, `a filter of at most ${MAX_LEN} characters`, 'more');
  const toks = lex(src);
  if (toks.length === 1) return null;
  let p = 0;
  const peek = (): Tok => toks[p]!;
  const next = (): Tok => toks[p++]!;

  const orExpr = (depth: number): Cond => {
    if (depth > MAX_DEPTH) throw new FilterError(peek().pos, `at most ${MAX_DEPTH} nested levels`, 'more');
    const items = [andExpr(depth)];
    while (kw(peek(), 'or') || (peek().t === 'op' && peek().v === '||')) {
      next();
      items.push(andExpr(depth));
    }
    return items.length === 1 ? items[0]! : { kind: 'or', items };
  };
  const andExpr = (depth: number): Cond => {
    const items = [unary(depth)];
    while (kw(peek(), 'and') || (peek().t === 'op' && peek().v === '&&')) {
      next();
      items.push(unary(depth));
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items };
  };
  const unary = (depth: number): Cond => {
    const t = peek();
    if (kw(t, 'not') || (t.t === 'op' && t.v === '!')) {
      next();
      return { kind: 'not', item: unary(depth + 1) };
    }
    if (t.t === 'op' && t.v === '(') {
      next();
      const e = orExpr(depth + 1);
      const c = next();
      if (!(c.t === 'op' && c.v === ')')) throw new FilterError(c.pos, "')'", describe(c));
      return e;
    }
    return compare();
  };
  const value = (): Tok => {
    const v = next();
    if (v.t === 'word' || v.t === 'str') return v;
    throw new FilterError(v.pos, 'a value (number, address, name or "quoted text")', describe(v));
  };
  const compare = (): Cond => {
    const f = next();
    if (f.t !== 'word' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(f.v)) {
      throw new FilterError(
        f.pos,
        `a field name such as ${Object.keys(def.fields).slice(0, 3).join(', ')}`,
        describe(f),
      );
    }
    const fields = resolveField(f, def);
    const o = next();
    if (kw(o, 'exists'))
      return anyOf(fields, (name) => ({ kind: 'not', item: { kind: 'null', field: name } }), false);
    let negate = false;
    let op = o;
    if (kw(o, 'not')) {
      negate = true;
      op = next();
      if (!kw(op, 'in')) throw new FilterError(op.pos, "'in' after 'not'", describe(op));
    }
    if (kw(op, 'in')) {
      const open = next();
      if (!(open.t === 'op' && open.v === '('))
        throw new FilterError(open.pos, "'(' after 'in'", describe(open));
      const vals: Tok[] = [value()];
      for (;;) {
        const sep = next();
        if (sep.t === 'op' && sep.v === ')') break;
        if (!(sep.t === 'op' && sep.v === ',')) throw new FilterError(sep.pos, "',' or ')'", describe(sep));
        if (vals.length >= MAX_IN)
          throw new FilterError(sep.pos, `at most ${MAX_IN} values in a list`, 'more');
        vals.push(value());
      }
      return anyOf(
        fields,
        (name, fd) => ({ kind: 'or', items: vals.map((v) => bindCmp(name, fd, '=', v)) }),
        negate,
      );
    }
    if (op.t !== 'op' || !['=', '==', '!=', '<', '<=', '>', '>=', '~', '!~'].includes(op.v)) {
      throw new FilterError(
        op.pos,
        'an operator (=, !=, <, <=, >, >=, ~, !~, in, not in, exists)',
        describe(op),
      );
    }
    const v = value();
    const neg = op.v === '!=' || op.v === '!~';
    const positive = op.v === '!=' ? '=' : op.v === '!~' ? '~' : op.v === '==' ? '=' : op.v;
    return anyOf(fields, (name, fd) => bindCmp(name, fd, positive, v), neg);
  };

  const e = orExpr(0);
  const end = peek();
  if (end.t !== 'end') throw new FilterError(end.pos, "'and', 'or' or end of input", describe(end));
  return simplify(e);
}

/** A field name, or an alias (ip, port, mac) that stands for both ends of a record. */
function resolveField(f: Tok, def: AnyRecordDef): [string, FieldDef][] {
  // Own properties only: a field named __proto__ or constructor must not reach Object.prototype.
  if (Object.hasOwn(def.fields, f.v)) return [[f.v, def.fields[f.v]!]];
  const sides = ['client_', 'server_', 'src_', 'dst_']
    .map((p) => p + f.v)
    .filter((n) => Object.hasOwn(def.fields, n));
  if (sides.length > 0) return sides.map((n) => [n, def.fields[n]!]);
  throw new FilterError(
    f.pos,
    `a field of ${def.type} records (see /api/v1/fields)`,
    `unknown field '${f.v}'`,
  );
}

/** The condition holds for any of the fields; negated, for none of them. */
function anyOf(fields: [string, FieldDef][], mk: (n: string, fd: FieldDef) => Cond, negate: boolean): Cond {
  const items = fields.map(([n, fd]) => mk(n, fd));
  const c: Cond = items.length === 1 ? items[0]! : { kind: 'or', items };
  return negate ? { kind: 'not', item: c } : c;
}

function bindCmp(field: string, fd: FieldDef, op: string, v: Tok): Cond {
  const text = v.v;
  if (v.t === 'word' && text.toLowerCase() === 'null') {
    if (op !== '=') throw new FilterError(v.pos, "'=' or '!=' with null", `'${op}'`);
    return { kind: 'null', field };
  }
  const bad = (what: string): never => {
    throw new FilterError(v.pos, `${what} for ${field}`, describe(v));
  };
  if (op === '~') {
    if (fd.type !== 'string' && fd.type !== 'string[]' && fd.type !== 'json') bad("a text field with '~'");
    if (text.length === 0) bad('non-empty text');
    return { kind: 'contains', field, value: text };
  }
  const cmpOp = op as CmpOp;
  switch (fd.type) {
    case 'ip': {
      if (text.includes('/')) {
        const r = cidrToRange(text);
        if (!r) return bad('an address or CIDR (10.0.0.0/8, 2001:db8::/32)');
        if (cmpOp !== '=') bad("'=' or '!=' with a CIDR");
        return { kind: 'range', field, lo: r!.lo, hi: r!.hi };
      }
      const a = ipToBigint(text);
      if (a === null) return bad('an address or CIDR (10.0.0.0/8, 2001:db8::/32)');
      return { kind: 'cmp', field, op: cmpOp, value: a! };
    }
    case 'mac': {
      const m = macToNumber(text);
      if (m === null) return bad('a MAC address (aa:bb:cc:dd:ee:ff)');
      return { kind: 'cmp', field, op: cmpOp, value: m! };
    }
    case 'int':
    case 'float':
    case 'int[]': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n) || (fd.type !== 'float' && !Number.isInteger(n))) {
        return bad(fd.type === 'float' ? 'a number' : 'an integer');
      }
      if (Math.abs(n) > Number.MAX_SAFE_INTEGER) bad('a number of at most 2^53');
      if (fd.type === 'int[]') {
        if (cmpOp !== '=') bad("'=' (list contains) for a list field");
        return { kind: 'contains', field, value: String(n) };
      }
      return { kind: 'cmp', field, op: cmpOp, value: n };
    }
    case 'bool': {
      const b = text.toLowerCase();
      if (b !== 'true' && b !== 'false') bad('true or false');
      if (cmpOp !== '=') bad("'=' or '!=' for a true/false field");
      return { kind: 'cmp', field, op: '=', value: b === 'true' };
    }
    case 'ts': {
      const us = /^\d{4}-\d{2}-\d{2}T.*Z$/.test(text) ? isoToMicros(text) : parseUserTime(text);
      if (us === null || Number.isNaN(us)) return bad('a time (2024-05-01T10:00:00Z, epoch seconds or -1h)');
      return { kind: 'cmp', field, op: cmpOp, value: us! };
    }
    case 'string[]':
      if (cmpOp !== '=') bad("'=' (list contains) or '~' for a list field");
      return { kind: 'contains', field, value: text };
    default:
      if (text.length > 1024) bad('at most 1024 characters');
      return { kind: 'cmp', field, op: cmpOp, value: text };
  }
}

function simplify(c: Cond): Cond {
  if ((c.kind === 'and' || c.kind === 'or') && c.items.length === 1) return simplify(c.items[0]!);
  if (c.kind === 'and' || c.kind === 'or') return { kind: c.kind, items: c.items.map(simplify) };
  if (c.kind === 'not') return { kind: 'not', item: simplify(c.item) };
  return c;
}

/** Fields usable in filters, for the API's field listing and the OpenAPI description. */
export function filterFields(def: AnyRecordDef): { name: string; type: string; doc: string }[] {
  return Object.entries(def.fields).map(([name, fd]) => ({ name, type: fd.type, doc: fd.doc }));
}
