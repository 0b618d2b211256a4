import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Harness, startHarness } from './harness.js';

/** The repository root (this file runs from dist/test/api/). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The OpenAPI document as checked in; `npm run openapi` writes it from a running server. */
export const OPENAPI_FILE = join(ROOT, 'docs', 'openapi.json');

/**
 * The server the contract is checked against: every optional part on (packet store, alerts,
 * monitors, broker), so every route the product can serve is in the document, over sample data.
 */
export async function startContractServer(): Promise<Harness> {
  const h = await startHarness({ broker: true });
  // A token of no user: the run creates admins and disables users, and may disable user admin,
  // whose first-start token would then stop working for the rest of the run.
  h.admin = h.product.tokens.create('admin', 'contract run').token;
  // One alert about a sample TCP flow, raised the way detectors do, so the alert routes have data.
  const res = await fetch(`${h.base}/api/v1/flows?limit=1&filter=proto%20%3D%206&after=2000-01-01`, {
    headers: { authorization: `Bearer ${h.admin}` },
  });
  const flow = ((await res.json()) as { items: Record<string, unknown>[] }).items[0]!;
  h.product.alerts.raise({
    ts: Date.parse(String(flow.first_ts)),
    category: 'intel',
    detector: 'intel.ip',
    title: `Contact with listed address ${String(flow.server_ip)}`,
    severity: 80,
    confidence: 90,
    src_ip: String(flow.client_ip),
    src_port: Number(flow.client_port),
    dst_ip: String(flow.server_ip),
    dst_port: Number(flow.server_port),
    proto: 6,
    community_id: String(flow.community_id),
    evidence: { flow_ids: [flow.flow_id] },
  });
  await h.product.alertHub.flush();
  return h;
}

export const PEERS = process.env.VANTAGE_PEERS ?? join(homedir(), '.cache', 'vantage-peers');
export const SCHEMATHESIS = join(PEERS, 'pyvenv', 'bin', 'schemathesis');
const ST_DIR = join(ROOT, 'scripts', 'schemathesis');

export interface SchemathesisRun {
  code: number;
  seed: number;
  cases: number | null;
  failures: number;
  output: string;
}

/**
 * Runs schemathesis (every check, every phase including stateful) against a server. The live
 * stream is left out: it ends only when the client goes away, so no request to it completes.
 */
export function runSchemathesis(
  h: Harness,
  opts: {
    seed: number;
    maxExamples?: number;
    maxTime?: number;
    phases?: string;
    print?: (s: string) => void;
  },
): Promise<SchemathesisRun> {
  const args = [
    '--config-file',
    join(ST_DIR, 'schemathesis.toml'),
    'run',
    `${h.base}/api/v1/openapi.json`,
    '-H',
    `Authorization: Bearer ${h.admin}`,
    '--checks',
    'all',
    '--exclude-path',
    '/api/v1/stream',
    '--seed',
    String(opts.seed),
    '--request-timeout',
    '30',
    '--no-color',
    ...(opts.maxExamples ? ['--max-examples', String(opts.maxExamples)] : []),
    ...(opts.maxTime ? ['--max-time', String(opts.maxTime)] : []),
    ...(opts.phases ? ['--phases', opts.phases] : []),
  ];
  return new Promise((resolve, reject) => {
    const p = spawn(SCHEMATHESIS, args, {
      cwd: ST_DIR,
      env: { ...process.env, PYTHONPATH: ST_DIR, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const take = (d: Buffer) => {
      const s = d.toString();
      output += s;
      opts.print?.(s);
    };
    p.stdout.on('data', take);
    p.stderr.on('data', take);
    p.on('error', reject);
    p.on('close', (code) => {
      const cases = /(\d+) generated/.exec(output);
      const failed = /(\d+) unique failures?/.exec(output);
      resolve({
        code: code ?? -1,
        seed: opts.seed,
        cases: cases ? Number(cases[1]) : null,
        failures: failed ? Number(failed[1]) : 0,
        output,
      });
    });
  });
}

export function schemathesisInstalled(): boolean {
  return existsSync(SCHEMATHESIS);
}
