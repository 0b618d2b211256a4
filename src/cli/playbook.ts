import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sampleAlert } from '../api/routes/playbooks.js';
import { ConfigError } from '../common/errors.js';
import { silentLogger } from '../common/log.js';
import { catalogOf, parseResponderConfig, type ResponderConfig } from '../respond/config.js';
import { loadPlaybook, PlaybookError } from '../respond/playbook.js';
import { Responder } from '../respond/responder.js';
import type { RecordStore } from '../store/types.js';

const USAGE = `usage: vantage playbook validate FILE [--config FILE]
       vantage playbook dry-run FILE --alert ALERT.json [--config FILE]

validate  check a playbook (YAML or JSON); exit 0 when valid, 2 with every error
          naming its key and line
dry-run   print each step the playbook would take for the alert, with the rendered
          requests (commands, HTTP calls, mails), and take none
--config  a Vantage config file: its respond.adapters are checked and rendered
`;

/** The `respond` part of a config file, without starting anything. */
function responderConfig(path: string | undefined): ResponderConfig {
  if (!path) return parseResponderConfig({});
  const o = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  return parseResponderConfig(o.respond ?? {});
}

export async function playbookCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  let a: ReturnType<
    typeof parseArgs<{
      options: { alert: { type: 'string' }; config: { type: 'string' }; help: { type: 'boolean' } };
      allowPositionals: true;
    }>
  >;
  try {
    a = parseArgs({
      args: rest,
      options: { alert: { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean' } },
      allowPositionals: true,
    });
  } catch (e) {
    process.stderr.write(`vantage playbook: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const file = a.positionals[0];
  if (a.values.help || sub === undefined) {
    process.stdout.write(USAGE);
    return a.values.help ? 0 : 2;
  }
  if ((sub !== 'validate' && sub !== 'dry-run') || !file) {
    process.stderr.write(USAGE);
    return 2;
  }
  let cfg: ResponderConfig;
  let text: string;
  try {
    cfg = responderConfig(a.values.config);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    process.stderr.write(
      `vantage playbook: ${e instanceof ConfigError ? e.message : (e as Error).message}\n`,
    );
    return 2;
  }
  let pb: ReturnType<typeof loadPlaybook>;
  try {
    pb = loadPlaybook(text, a.values.config ? catalogOf(cfg.adapters) : undefined);
  } catch (e) {
    if (!(e instanceof PlaybookError)) throw e;
    for (const i of e.issues) process.stderr.write(`${file}:${i.line ?? '?'}: ${i.key}: ${i.message}\n`);
    return 2;
  }
  if (sub === 'validate') {
    process.stdout.write(`${file}: valid playbook '${pb.name}', ${pb.steps.length} steps\n`);
    return 0;
  }
  if (!a.values.alert) {
    process.stderr.write(`vantage playbook dry-run: --alert ALERT.json is required\n${USAGE}`);
    return 2;
  }
  let alert: ReturnType<typeof sampleAlert>;
  try {
    alert = sampleAlert(JSON.parse(readFileSync(a.values.alert, 'utf8')) as Record<string, unknown>);
  } catch (e) {
    process.stderr.write(`vantage playbook: --alert: ${(e as Error).message}\n`);
    return 2;
  }
  // The responder is used for rendering only: a throwaway directory, no store, no hub.
  const dir = mkdtempSync(join(tmpdir(), 'vantage-dry-run-'));
  try {
    const r = new Responder(cfg, {
      dataDir: dir,
      store: null as unknown as RecordStore,
      hub: { subscribe: () => () => {}, get: async () => null },
      log: silentLogger,
    });
    const steps = r.plan(pb, alert);
    process.stdout.write(`dry run of '${pb.name}' for alert ${alert.alert_id} (nothing is done)\n`);
    steps.forEach((s, i) => {
      process.stdout.write(`\n${i + 1}. ${s.step} [${s.type}] ${s.summary}\n`);
      for (const c of s.calls) {
        process.stdout.write(`   -> ${c.adapter} (${c.kind}): ${c.summary}\n`);
        process.stdout.write(`${JSON.stringify(c.request, null, 2).replace(/^/gm, '      ')}\n`);
      }
    });
    return 0;
  } catch (e) {
    process.stderr.write(`vantage playbook dry-run: ${(e as Error).message}\n`);
    return 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
