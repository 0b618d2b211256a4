import { isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { alertRecord } from '../schema/alert.js';
import { FilterError, parseFilter } from '../store/filter.js';
import { refProblem, templateRefs } from './template.js';

/**
 * Playbooks are data: YAML or JSON (YAML 1.2 reads both), validated on load. Every error names
 * the key at fault (`steps[2].via`) and its line, and all errors are reported at once so an
 * author fixes a file in one pass.
 */

export const STEP_TYPES = [
  'enrich',
  'approve',
  'isolate',
  'ticket',
  'notify',
  'wait',
  'condition',
  'http',
] as const;
export type StepType = (typeof STEP_TYPES)[number];

/** Families of action adapters a step may name in `via`. */
export type AdapterFamily = 'isolate' | 'ticket' | 'notify';

type FieldType =
  | { t: 'string' }
  | { t: 'template' }
  | { t: 'int'; min: number; max: number }
  | { t: 'duration'; maxMs: number }
  | { t: 'bool' }
  | { t: 'strings' }
  | { t: 'object' }
  | { t: 'enum'; values: readonly string[] }
  | { t: 'adapter'; family: AdapterFamily; many?: boolean }
  | { t: 'step' }
  | { t: 'check' };

interface FieldSpec {
  type: FieldType;
  required?: boolean;
  doc: string;
}

const COMMON: Record<string, FieldSpec> = {
  id: { type: { t: 'string' }, required: true, doc: 'Step id, unique in the playbook ([a-z0-9_-]).' },
  type: { type: { t: 'enum', values: STEP_TYPES }, required: true, doc: 'What the step does.' },
  timeout: { type: { t: 'duration', maxMs: 3_600_000 }, doc: 'Longest attempt (default 30s).' },
  retries: {
    type: { t: 'int', min: 0, max: 10 },
    doc: 'Retries after a failed attempt, with backoff (default 3).',
  },
  next: { type: { t: 'step' }, doc: 'Step to go to after this one (forward only) or "end".' },
};

const tmpl = (doc: string, required = false): FieldSpec => ({ type: { t: 'template' }, required, doc });

/** The fields of every step type: the published schema is generated from this table. */
export const STEP_FIELDS: Record<StepType, Record<string, FieldSpec>> = {
  enrich: {
    host: tmpl('Address to summarise (default {{alert.src_ip}}).'),
    with: {
      type: { t: 'strings' },
      doc: 'What to gather: summary, intel, presence, pcap (default all).',
    },
  },
  approve: {
    roles: { type: { t: 'strings' }, doc: 'Roles that may approve (analyst, admin).' },
    users: { type: { t: 'strings' }, doc: 'Named people who may approve.' },
    quorum: { type: { t: 'int', min: 1, max: 10 }, doc: 'Approvals needed (default 1).' },
    expires: {
      type: { t: 'duration', maxMs: 7 * 86_400_000 },
      required: true,
      doc: 'How long the request and its links stay valid.',
    },
    on_timeout: {
      type: { t: 'enum', values: ['deny', 'approve'] },
      doc: 'Outcome at expiry (default deny).',
    },
    notify: {
      type: { t: 'adapter', family: 'notify', many: true },
      doc: 'Where the request with links goes.',
    },
    message: tmpl('What the approver reads.'),
  },
  isolate: {
    via: { type: { t: 'adapter', family: 'isolate' }, required: true, doc: 'Isolation adapter.' },
    host: tmpl('Address to isolate (default {{alert.src_ip}}).'),
  },
  ticket: {
    via: { type: { t: 'adapter', family: 'ticket' }, required: true, doc: 'Ticket adapter.' },
    short_description: tmpl('Ticket title.', true),
    description: tmpl('Ticket body.'),
    urgency: { type: { t: 'int', min: 1, max: 3 }, doc: 'ServiceNow urgency 1 high … 3 low (default 2).' },
    impact: { type: { t: 'int', min: 1, max: 3 }, doc: 'ServiceNow impact 1 high … 3 low (default 2).' },
    caller: tmpl('Caller (caller_id).'),
    update: { type: { t: 'step' }, doc: 'Add work notes to the ticket an earlier step opened instead.' },
    work_notes: tmpl('Work notes (on create or update).'),
  },
  notify: {
    via: {
      type: { t: 'adapter', family: 'notify', many: true },
      required: true,
      doc: 'Notification adapters.',
    },
    subject: tmpl('Subject or title.', true),
    text: tmpl('Body.'),
  },
  wait: {
    for: { type: { t: 'duration', maxMs: 86_400_000 }, required: true, doc: 'How long to wait.' },
  },
  condition: {
    check: {
      type: { t: 'check' },
      required: true,
      doc: '{value: TEMPLATE, op: = != > < >= <= contains, to: VALUE}',
    },
    // biome-ignore lint/suspicious/noThenProperty: a playbook key (the branch taken), never awaited
    then: { type: { t: 'step' }, required: true, doc: 'Step when the check holds (forward) or "end".' },
    else: { type: { t: 'step' }, required: true, doc: 'Step otherwise (forward) or "end".' },
  },
  http: {
    method: { type: { t: 'enum', values: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] }, doc: 'Default POST.' },
    url: tmpl('URL (http or https).', true),
    headers: { type: { t: 'object' }, doc: 'Headers (templated values).' },
    body: { type: { t: 'object' }, doc: 'JSON body (templated values).' },
  },
};

const TOP: Record<string, FieldSpec> = {
  name: { type: { t: 'string' }, required: true, doc: 'Playbook name ([a-z0-9_-], unique).' },
  version: { type: { t: 'int', min: 1, max: 1_000_000 }, doc: 'Set by the repository on save.' },
  description: { type: { t: 'string' }, doc: 'What it is for.' },
  enabled: { type: { t: 'bool' }, doc: 'Triggers only when true (default true).' },
  trigger: {
    type: { t: 'string' },
    required: true,
    doc: 'Alert filter, e.g. category = "scan" and severity >= 70.',
  },
  steps: { type: { t: 'object' }, required: true, doc: 'Steps, run in order (1 to 50).' },
};

export const CHECK_OPS = ['=', '!=', '>', '<', '>=', '<=', 'contains'] as const;

export interface Step {
  id: string;
  type: StepType;
  timeoutMs: number;
  retries: number;
  next?: string;
  /** The step's own fields as written (templates unrendered; durations in ms). */
  f: Record<string, unknown>;
}

export interface Playbook {
  name: string;
  version: number;
  description: string;
  enabled: boolean;
  trigger: string;
  steps: Step[];
}

export interface PlaybookIssue {
  key: string;
  line: number | null;
  message: string;
}

export class PlaybookError extends Error {
  constructor(readonly issues: PlaybookIssue[]) {
    super(
      issues.map((i) => `${i.key}${i.line !== null ? ` (line ${i.line})` : ''}: ${i.message}`).join('\n'),
    );
    this.name = 'PlaybookError';
  }
}

/** What validation knows of the configured adapters: name → family. */
export type AdapterCatalog = ReadonlyMap<string, AdapterFamily>;

const ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export function parseDuration(v: unknown): number | null {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v * 1000;
  if (typeof v !== 'string') return null;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(v.trim());
  if (!m) return null;
  const k = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms'];
  return Number(m[1]) * k;
}

/** Parse and validate a playbook; throws PlaybookError with every issue. */
export function loadPlaybook(text: string, adapters?: AdapterCatalog): Playbook {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const issues: PlaybookIssue[] = [];
  for (const e of doc.errors) {
    issues.push({ key: '(file)', line: e.linePos?.[0]?.line ?? null, message: e.message.split('\n')[0]! });
  }
  if (issues.length > 0) throw new PlaybookError(issues);
  const lineOf = (path: (string | number)[]): number | null => {
    const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    const pos = node && (isScalar(node) || isMap(node) || isSeq(node)) ? node.range?.[0] : undefined;
    if (pos === undefined) {
      return path.length > 0 ? lineOf(path.slice(0, -1)) : null;
    }
    return lc.linePos(pos).line;
  };
  const keyOf = (path: (string | number)[]): string =>
    path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
  const bad = (path: (string | number)[], message: string): void => {
    issues.push({ key: keyOf(path) || '(file)', line: lineOf(path), message });
  };

  const raw = doc.toJS() as unknown;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new PlaybookError([
      { key: '(file)', line: 1, message: 'a playbook is a mapping (name, trigger, steps)' },
    ]);
  }
  const top = raw as Record<string, unknown>;
  checkFields(top, TOP, [], bad);
  if (typeof top.name === 'string' && !ID.test(top.name)) bad(['name'], 'use a-z, 0-9, _ and - (up to 64)');
  if (typeof top.trigger === 'string') {
    try {
      parseFilter(top.trigger, alertRecord);
    } catch (e) {
      bad(['trigger'], e instanceof FilterError ? e.message : String(e));
    }
  }
  const steps: Step[] = [];
  const rawSteps = top.steps;
  if (rawSteps !== undefined && (!Array.isArray(rawSteps) || rawSteps.length === 0 || rawSteps.length > 50)) {
    bad(['steps'], 'a list of 1 to 50 steps');
  } else if (Array.isArray(rawSteps)) {
    const ids = rawSteps.map((s) =>
      s && typeof s === 'object' ? (s as Record<string, unknown>).id : undefined,
    );
    const index = new Map<string, number>();
    ids.forEach((id, i) => {
      if (typeof id === 'string' && !index.has(id)) index.set(id, i);
    });
    rawSteps.forEach((s, i) => {
      const p = ['steps', i];
      if (!s || typeof s !== 'object' || Array.isArray(s)) {
        bad(p, 'a step is a mapping with id and type');
        return;
      }
      const st = s as Record<string, unknown>;
      const type = st.type as StepType;
      const kindFields = STEP_TYPES.includes(type) ? STEP_FIELDS[type] : {};
      if (!STEP_TYPES.includes(type)) {
        bad([...p, 'type'], `unknown step type '${String(st.type)}'; one of ${STEP_TYPES.join(', ')}`);
        const { type: _t, ...rest } = COMMON;
        checkFields(st, rest, p, bad, true);
      } else checkFields(st, { ...COMMON, ...kindFields }, p, bad);
      if (typeof st.id === 'string' && !ID.test(st.id)) bad([...p, 'id'], 'use a-z, 0-9, _ and - (up to 64)');
      if (typeof st.id === 'string' && index.get(st.id) !== i) bad([...p, 'id'], `'${st.id}' is used twice`);
      const earlier = new Set(ids.slice(0, i).filter((x): x is string => typeof x === 'string'));
      // Jumps go forward only: a playbook is a DAG, so every run ends in at most `steps` steps.
      for (const [k, spec] of Object.entries({ ...COMMON, ...kindFields })) {
        const v = st[k];
        if (v === undefined) continue;
        if (spec.type.t === 'step') {
          if (k === 'update') {
            if (typeof v !== 'string' || !earlier.has(v))
              bad([...p, k], `'${String(v)}' is not an earlier step`);
            else if ((rawSteps[index.get(v)!] as Record<string, unknown>).type !== 'ticket')
              bad([...p, k], `'${v}' is not a ticket step`);
            continue;
          }
          if (v === 'end') continue;
          const to = typeof v === 'string' ? index.get(v) : undefined;
          if (to === undefined) bad([...p, k], `no step '${String(v)}'`);
          else if (to <= i)
            bad([...p, k], `'${String(v)}' is not after this step: a loop (jumps go forward only)`);
        }
        if (spec.type.t === 'adapter' && adapters) {
          for (const name of Array.isArray(v) ? v : [v]) {
            const fam = adapters.get(String(name));
            if (fam === undefined) bad([...p, k], `no adapter '${String(name)}' is configured`);
            else if (fam !== spec.type.family)
              bad([...p, k], `adapter '${String(name)}' is a ${fam} adapter, not ${spec.type.family}`);
          }
        }
      }
      for (const ref of templateRefs(Object.fromEntries(Object.entries(st).filter(([k]) => k !== 'id')))) {
        const why = refProblem(ref, earlier);
        if (why) bad([...p, fieldWithRef(st, ref)], `template ${why}`);
      }
      if (type === 'condition' && st.check && typeof st.check === 'object') {
        const c = st.check as Record<string, unknown>;
        if (typeof c.value !== 'string')
          bad([...p, 'check', 'value'], 'a template, e.g. "{{steps.ctx.intel.hits}}"');
        if (!CHECK_OPS.includes(c.op as '=')) bad([...p, 'check', 'op'], `one of ${CHECK_OPS.join(' ')}`);
        if (!('to' in c)) bad([...p, 'check', 'to'], 'required');
        for (const k of Object.keys(c))
          if (!['value', 'op', 'to'].includes(k)) bad([...p, 'check', k], 'unknown key (value, op, to)');
      }
      if (type === 'approve' && st.roles === undefined && st.users === undefined)
        bad([...p, 'roles'], 'name who may approve: roles, users or both');
      if (type === 'enrich' && Array.isArray(st.with)) {
        st.with.forEach((w, j) => {
          if (!['summary', 'intel', 'presence', 'pcap'].includes(String(w)))
            bad([...p, 'with', j], `'${String(w)}': one of summary, intel, presence, pcap`);
        });
      }
      const f: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(st)) {
        if (k in COMMON) continue;
        const spec = kindFields[k];
        f[k] = spec?.type.t === 'duration' ? parseDuration(v) : v;
      }
      steps.push({
        id: String(st.id),
        type,
        timeoutMs: parseDuration(st.timeout) ?? 30_000,
        retries: typeof st.retries === 'number' ? st.retries : 3,
        ...(typeof st.next === 'string' && { next: st.next }),
        f,
      });
    });
  }
  if (issues.length > 0) throw new PlaybookError(issues);
  return {
    name: String(top.name),
    version: typeof top.version === 'number' ? top.version : 1,
    description: typeof top.description === 'string' ? top.description : '',
    enabled: top.enabled !== false,
    trigger: String(top.trigger),
    steps,
  };
}

function fieldWithRef(st: Record<string, unknown>, ref: string): string {
  for (const [k, v] of Object.entries(st)) if (templateRefs(v).includes(ref)) return k;
  return 'id';
}

function checkFields(
  o: Record<string, unknown>,
  specs: Record<string, FieldSpec>,
  p: (string | number)[],
  bad: (path: (string | number)[], m: string) => void,
  onlyKnown = false,
): void {
  for (const [k, spec] of Object.entries(specs)) {
    const v = o[k];
    if (v === undefined || v === null) {
      if (spec.required) bad([...p, k], 'required');
      continue;
    }
    const t = spec.type;
    const fail = (m: string) => bad([...p, k], m);
    switch (t.t) {
      case 'string':
      case 'template':
        if (typeof v !== 'string' || v.length > 8192) fail('a string (up to 8 KiB)');
        break;
      case 'int':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < t.min || v > t.max)
          fail(`an integer from ${t.min} to ${t.max}`);
        break;
      case 'duration': {
        const ms = parseDuration(v);
        if (ms === null || ms <= 0 || ms > t.maxMs)
          fail(`a duration such as 30s, 5m, 1h (at most ${t.maxMs / 1000}s)`);
        break;
      }
      case 'bool':
        if (typeof v !== 'boolean') fail('true or false');
        break;
      case 'strings':
        if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail('a list of strings');
        break;
      case 'object':
        if (typeof v !== 'object') fail('a mapping or list');
        break;
      case 'check':
        if (typeof v !== 'object' || Array.isArray(v)) fail('a mapping {value, op, to}');
        break;
      case 'enum':
        if (!t.values.includes(String(v))) fail(`one of ${t.values.join(', ')}`);
        break;
      case 'adapter':
        if (t.many ? !Array.isArray(v) || v.some((x) => typeof x !== 'string') : typeof v !== 'string')
          fail(t.many ? 'a list of adapter names' : 'an adapter name');
        break;
      case 'step':
        if (typeof v !== 'string') fail('a step id or "end"');
        break;
    }
  }
  if (onlyKnown) return;
  for (const k of Object.keys(o)) {
    if (!(k in specs)) bad([...p, k], `unknown key; this accepts ${Object.keys(specs).join(', ')}`);
  }
}

/** The published JSON Schema (draft 2020-12) of a playbook, generated from the tables above. */
export function playbookJsonSchema(): Record<string, unknown> {
  const js = (s: FieldSpec): Record<string, unknown> => {
    const t = s.type;
    const base = { description: s.doc };
    switch (t.t) {
      case 'int':
        return { ...base, type: 'integer', minimum: t.min, maximum: t.max };
      case 'duration':
        return { ...base, type: 'string', pattern: '^[0-9]+(ms|s|m|h|d)$' };
      case 'bool':
        return { ...base, type: 'boolean' };
      case 'strings':
        return { ...base, type: 'array', items: { type: 'string' } };
      case 'object':
      case 'check':
        return { ...base, type: ['object', 'array'] };
      case 'enum':
        return { ...base, enum: [...t.values] };
      case 'adapter':
        return t.many ? { ...base, type: 'array', items: { type: 'string' } } : { ...base, type: 'string' };
      default:
        return { ...base, type: 'string' };
    }
  };
  const obj = (specs: Record<string, FieldSpec>) => ({
    type: 'object',
    additionalProperties: false,
    required: Object.entries(specs)
      .filter(([, s]) => s.required)
      .map(([k]) => k),
    properties: Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, js(s)])),
  });
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://vantage.invalid/schemas/playbook.json',
    title: 'Vantage response playbook',
    ...obj(TOP),
    properties: {
      ...obj(TOP).properties,
      steps: {
        type: 'array',
        minItems: 1,
        maxItems: 50,
        items: {
          oneOf: STEP_TYPES.map((ty) => {
            const o = obj({ ...COMMON, ...STEP_FIELDS[ty] });
            return { ...o, properties: { ...o.properties, type: { const: ty } } };
          }),
        },
      },
    },
  };
}
