import { alertRecord } from '../schema/alert.js';

/**
 * Templates in playbooks: `{{alert.src_ip}}`, `{{steps.ctx.result.flows}}`, `{{run.id}}`.
 * Nothing else is evaluated (no expressions, no calls): a playbook is data an admin writes,
 * and its rendered requests must be predictable in a dry run.
 */
const REF = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;
const RUN_FIELDS = new Set(['id', 'playbook', 'version', 'alert_id', 'url']);

export interface TemplateScope {
  alert: Record<string, unknown>;
  steps: Record<string, unknown>;
  run: Record<string, unknown>;
}

/** Every `{{ref}}` of a string, object or array, with the path it sits at. */
export function templateRefs(v: unknown): string[] {
  const out: string[] = [];
  const walk = (x: unknown): void => {
    if (typeof x === 'string') for (const m of x.matchAll(REF)) out.push(m[1]!);
    else if (Array.isArray(x)) x.forEach(walk);
    else if (x && typeof x === 'object') Object.values(x).forEach(walk);
  };
  walk(v);
  return out;
}

/**
 * Why a reference cannot resolve at load time, or null: `alert.` must name an alert field,
 * `steps.` a step that runs before this one, `run.` a run attribute.
 */
export function refProblem(ref: string, earlierSteps: ReadonlySet<string>): string | null {
  const [root, head] = ref.split('.');
  if (root === 'alert') {
    return head !== undefined && head in alertRecord.fields
      ? null
      : `'${ref}': the alert has no field '${head ?? ''}'`;
  }
  if (root === 'steps') {
    return head !== undefined && earlierSteps.has(head)
      ? null
      : `'${ref}': no step '${head ?? ''}' runs before this one`;
  }
  if (root === 'run')
    return head !== undefined && RUN_FIELDS.has(head) ? null : `'${ref}': runs have no '${head ?? ''}'`;
  return `'${ref}': a reference starts with alert., steps. or run.`;
}

export class TemplateError extends Error {}

/** Dry runs render what is not known yet (results of steps not taken) as `‹ref›`. */
export type Missing = ((ref: string) => unknown) | undefined;

function lookup(scope: TemplateScope, ref: string, missing?: Missing): unknown {
  let cur: unknown = scope;
  for (const part of ref.split('.')) {
    if (cur === null || typeof cur !== 'object' || !(part in (cur as object))) {
      if (missing) return missing(ref);
      throw new TemplateError(`template value '${ref}' is missing`);
    }
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Render one string; a string that is exactly one reference keeps the value's type. */
export function renderString(s: string, scope: TemplateScope, missing?: Missing): unknown {
  const whole = /^\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}$/.exec(s);
  if (whole) return lookup(scope, whole[1]!, missing);
  return s.replace(REF, (_m, ref: string) => {
    const v = lookup(scope, ref, missing);
    if (v === null || v === undefined) return '';
    // A list of names reads as a list in a sentence; other objects stay JSON.
    if (Array.isArray(v) && v.every((x) => typeof x !== 'object')) return v.join(', ');
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  });
}

export function render<T>(v: T, scope: TemplateScope, missing?: Missing): T {
  if (typeof v === 'string') return renderString(v, scope, missing) as T;
  if (Array.isArray(v)) return v.map((x) => render(x, scope, missing)) as T;
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = render(x, scope, missing);
    return o as T;
  }
  return v;
}
