import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { createLogger } from '../common/log.js';
import { approvedOnly, toKubernetes, toNftables } from '../policy/export.js';
import { learnFromStore } from '../policy/learn-store.js';
import { PolicyError, validatePolicy } from '../policy/model.js';
import { createEmbeddedStore } from '../store/embedded/store.js';
import type { TimeRange } from '../store/types.js';
import { parseUserTime } from '../store/values.js';

const HELP = `usage: vantage policy <learn|approve|export> [options]

Learn who talks to whom from stored flows, approve it, export it; then
\`vantage ingest FILE... --policy policy.json\` prints every flow outside it as a policy alert.

  vantage policy learn --store DIR [--after T] [--before T] [--by NAME] -o policy.json
      propose groups and edges from the flows stored in DIR (every edge pending)
  vantage policy approve policy.json (--all | --stable | --edge ID...) [--reject ID...] [--by NAME] [-o out.json]
      approve edges (all, the stable ones, or by id), reject others; the document becomes approved
  vantage policy export policy.json --format nft|k8s|json [-o FILE]
      the approved edges as nftables rules, Kubernetes NetworkPolicies or neutral JSON

Times are ISO-8601, epoch seconds or relative (-7d).
`;

function who(by: string | undefined): string {
  if (by) return by;
  try {
    return userInfo().username;
  } catch {
    return 'vantage';
  }
}

export async function policyCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  let args: ReturnType<typeof parse>;
  try {
    args = parse(rest);
  } catch (e) {
    process.stderr.write(`vantage policy: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values: v, positionals } = args;
  if (v.help || sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(HELP);
    return sub === undefined ? 2 : 0;
  }
  const out = (text: string) => {
    if (v.output) writeFileSync(v.output, text);
    else process.stdout.write(text);
  };
  const readDoc = () => {
    const path = positionals[0];
    if (!path) throw new PolicyError('a policy file is required');
    return validatePolicy(JSON.parse(readFileSync(path, 'utf8')));
  };
  try {
    switch (sub) {
      case 'learn': {
        if (!v.store) throw new PolicyError('--store DIR is required');
        const range: TimeRange = {};
        for (const k of ['after', 'before'] as const) {
          const text = v[k];
          if (text === undefined) continue;
          const us = parseUserTime(text);
          if (us === null) throw new PolicyError(`--${k}: '${text}' is not a time`);
          range[k] = us;
        }
        const store = createEmbeddedStore({ dataDir: v.store }, { log: createLogger('policy') });
        await store.start();
        try {
          const doc = await learnFromStore(store, range, { createdBy: who(v.by) });
          out(`${JSON.stringify(doc, null, 1)}\n`);
          process.stderr.write(
            `proposed ${doc.groups.length} groups and ${doc.edges.length} edges from ${doc.window.flows} flows\n`,
          );
        } finally {
          await store.stop();
        }
        return 0;
      }
      case 'approve': {
        const doc = readDoc();
        const approve = new Set(v.edge ?? []);
        const reject = new Set(v.reject ?? []);
        const ids = new Set(doc.edges.map((e) => e.id));
        for (const id of [...approve, ...reject])
          if (!ids.has(id)) throw new PolicyError(`no edge '${id}' in the policy`);
        if (!v.all && !v.stable && approve.size === 0 && reject.size === 0)
          throw new PolicyError('say which edges: --all, --stable or --edge ID');
        const by = who(v.by);
        const now = new Date().toISOString();
        for (const e of doc.edges) {
          const status = reject.has(e.id)
            ? 'rejected'
            : approve.has(e.id) || v.all || (v.stable && e.stable)
              ? 'approved'
              : e.status;
          if (status !== e.status) {
            e.status = status;
            e.reviewed_by = by;
            e.reviewed_at = now;
          }
        }
        doc.status = 'approved';
        doc.approved_by = by;
        doc.approved_at = now;
        doc.version = Math.max(1, doc.version);
        out(`${JSON.stringify(doc, null, 1)}\n`);
        const n = doc.edges.filter((e) => e.status === 'approved').length;
        process.stderr.write(`${n} of ${doc.edges.length} edges approved\n`);
        return 0;
      }
      case 'export': {
        const doc = readDoc();
        const f = v.format ?? 'json';
        if (f === 'nft') out(toNftables(doc));
        else if (f === 'k8s') out(toKubernetes(doc));
        else if (f === 'json') out(`${JSON.stringify(approvedOnly(doc), null, 1)}\n`);
        else throw new PolicyError(`--format must be nft, k8s or json (got '${f}')`);
        return 0;
      }
      default:
        process.stderr.write(`vantage policy: unknown subcommand '${sub}'\n\n${HELP}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof PolicyError || e instanceof SyntaxError) {
      process.stderr.write(`vantage policy: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      store: { type: 'string' },
      after: { type: 'string' },
      before: { type: 'string' },
      by: { type: 'string' },
      output: { type: 'string', short: 'o' },
      all: { type: 'boolean', default: false },
      stable: { type: 'boolean', default: false },
      edge: { type: 'string', multiple: true },
      reject: { type: 'string', multiple: true },
      format: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}
