import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import createClient from 'openapi-fetch';
import type { paths } from './clients/vantage-api.js';
import { OPENAPI_FILE, PEERS, ROOT, startContractServer } from './contract.js';
import type { Harness } from './harness.js';

/**
 * Clients generated from the OpenAPI document, without hand edits, used the way an integrator
 * would: list flows with a filter following the cursor to the end, download a flow's packets
 * that tcpdump reads, read and update an alert.
 */

const CI = process.env.CI === 'true';
const GENERATOR = join(PEERS, 'pyvenv', 'bin', 'openapi-python-client');
const PYTHON = join(PEERS, 'pyvenv', 'bin', 'python');
const TS_TYPES = join(ROOT, 'test', 'api', 'clients', 'vantage-api.d.ts');

function missing(t: { skip: (m: string) => void }, what: string): boolean {
  const why = `${what} not found; install it with scripts/peers/install.sh`;
  if (CI) assert.fail(why);
  t.skip(why);
  return true;
}

function tcpdumpReads(file: string): number {
  const r = spawnSync('tcpdump', ['-nr', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `tcpdump -r failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').filter(Boolean).length;
}

/** A child process run without blocking: the server under test lives in this process. */
function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    p.on('error', reject);
    p.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}

function hasTcpdump(): boolean {
  return spawnSync('tcpdump', ['--version']).status === 0;
}

describe('generated API clients', () => {
  let h: Harness;
  let dir: string;
  let tcpFlows: number[];
  before(async () => {
    h = await startContractServer();
    dir = mkdtempSync(join(tmpdir(), 'vantage-clients-'));
    const all = await fetch(`${h.base}/api/v1/flows?limit=10000&after=2000-01-01&filter=proto%20%3D%206`, {
      headers: { authorization: `Bearer ${h.admin}` },
    });
    tcpFlows = ((await all.json()) as { items: { flow_id: number }[] }).items.map((f) => f.flow_id);
    assert.ok(tcpFlows.length > 3, 'the sample has several TCP flows (more than one page)');
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('TypeScript: the checked-in types are what openapi-typescript makes of docs/openapi.json', () => {
    const fresh = join(dir, 'vantage-api.d.ts');
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'openapi-typescript', 'bin', 'cli.js'), OPENAPI_FILE, '-o', fresh],
      { stdio: 'pipe' },
    );
    assert.equal(
      readFileSync(TS_TYPES, 'utf8'),
      readFileSync(fresh, 'utf8'),
      'test/api/clients/vantage-api.d.ts is stale: run `npm run openapi`',
    );
  });

  it('TypeScript (openapi-fetch): flows by filter and cursor, a PCAP, an alert read and updated', async (t) => {
    // JSON bodies only: the other content types (CSV, NDJSON, Parquet, pcap) are read raw below
    const api = createClient<paths, 'application/json' | 'application/problem+json'>({
      baseUrl: h.base,
      headers: { authorization: `Bearer ${h.admin}` },
    });
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const { data, error } = await api.GET('/api/v1/flows', {
        params: {
          query: { filter: 'proto = 6', limit: 3, after: '2000-01-01', ...(cursor ? { cursor } : {}) },
        },
      });
      assert.equal(error, undefined);
      pages++;
      for (const f of data!.items) seen.push(f.flow_id!);
      cursor = data!.next ?? undefined;
    } while (cursor);
    assert.deepEqual([...seen].sort(), [...tcpFlows].sort());
    assert.ok(pages >= Math.ceil(tcpFlows.length / 3), `${pages} pages`);

    const pcap = await api.GET('/api/v1/flows/{id}/pcap', {
      params: { path: { id: seen[0]! } },
      parseAs: 'arrayBuffer',
    });
    assert.equal(pcap.response.status, 200);
    const file = join(dir, 'ts-flow.pcap');
    writeFileSync(file, Buffer.from(pcap.data as unknown as ArrayBuffer));
    if (hasTcpdump()) assert.ok(tcpdumpReads(file) > 0);
    else if (!missing(t, 'tcpdump')) return;

    const alerts = await api.GET('/api/v1/alerts', { params: { query: { after: '2000-01-01' } } });
    const id = alerts.data!.items[0]!.alert_id!;
    const patched = await api.PATCH('/api/v1/alerts/{id}', {
      params: { path: { id } },
      body: { status: 'acknowledged', notes: 'seen by the TypeScript client' },
    });
    assert.equal(patched.error, undefined);
    const read = await api.GET('/api/v1/alerts/{id}', { params: { path: { id } } });
    assert.equal(read.data!.alert.status, 'acknowledged');
    assert.equal(read.data!.alert.notes, 'seen by the TypeScript client');
    // an error is the typed problem document
    const bad = await api.GET('/api/v1/flows', { params: { query: { filter: 'proto =' } } });
    assert.equal(bad.response.status, 400);
    assert.equal(typeof bad.error?.position, 'number');
  });

  it('Python (openapi-python-client): flows by filter and cursor, a PCAP, an alert read and updated', async (t) => {
    if (!existsSync(GENERATOR) && missing(t, 'openapi-python-client')) return;
    const config = join(dir, 'config.yml');
    // Binary downloads are handed to the caller as bytes; no formatter runs after generation.
    writeFileSync(
      config,
      'content_type_overrides:\n  application/vnd.tcpdump.pcap: application/octet-stream\n  application/x-pcapng: application/octet-stream\n  application/vnd.apache.parquet: application/octet-stream\npost_hooks: []\n',
    );
    // the document as served (the test above holds it equal to docs/openapi.json)
    const doc = join(dir, 'openapi.json');
    writeFileSync(doc, await (await fetch(`${h.base}/api/v1/openapi.json`)).text());
    const gen = await run(
      GENERATOR,
      [
        'generate',
        '--path',
        doc,
        '--meta',
        'none',
        '--output-path',
        join(dir, 'vantage_client'),
        '--config',
        config,
      ],
      { cwd: dir },
    );
    assert.equal(gen.status, 0, gen.stdout + gen.stderr);
    // Every operation became a client function (warnings would mean parts were dropped).
    assert.doesNotMatch(gen.stdout + gen.stderr, /WARNING parsing|will be omitted|Unable to/);
    const py = await run(PYTHON, [join(ROOT, 'test', 'api', 'clients', 'python_client.py')], {
      cwd: dir,
      env: { ...process.env, PYTHONPATH: dir, BASE: h.base, TOKEN: h.admin, OUT: dir },
    });
    assert.equal(py.status, 0, py.stderr);
    const out = JSON.parse(py.stdout) as {
      pages: number;
      flow_ids: number[];
      pcap_status: number;
      pcap_type: string;
      pcap_path: string;
      alert_after: string;
      alert_notes: string;
    };
    assert.deepEqual([...out.flow_ids].sort(), [...tcpFlows].sort());
    assert.ok(out.pages >= Math.ceil(tcpFlows.length / 3));
    assert.equal(out.pcap_status, 200);
    assert.equal(out.pcap_type, 'application/vnd.tcpdump.pcap');
    if (hasTcpdump()) assert.ok(tcpdumpReads(out.pcap_path) > 0);
    else if (missing(t, 'tcpdump')) return;
    assert.equal(out.alert_after, 'closed');
    assert.equal(out.alert_notes, 'closed by the python client');
  });
});
