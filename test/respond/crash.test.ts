import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { verifyChain } from '../../src/respond/audit.js';
import { ROOT } from '../live/support.js';
import { freePort } from '../support/peers.js';
import { startJsonReceiver, startServiceNow } from './receivers.js';
import { api, slackLinks, waitFor } from './support.js';

async function child(
  dir: string,
  port: number,
  respond: unknown,
  alert: unknown,
): Promise<{ proc: ChildProcess; base: string; admin: string }> {
  const proc = spawn(
    process.execPath,
    [
      `${ROOT}dist/test/respond/crash-child.js`,
      dir,
      String(port),
      JSON.stringify(respond),
      JSON.stringify(alert),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child not ready: ${err}`)), 60_000);
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /ready (\S+) (\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    proc.once('exit', (c) => {
      clearTimeout(timer);
      reject(new Error(`child exited ${c}: ${err}`));
    });
  });
  const [, base, admin] = ready.split(' ') as [string, string, string];
  return { proc, base, admin };
}

/**
 * Kill -9 of Vantage while a run waits for approval: after the restart the link sent before
 * the crash still works, the run resumes and completes exactly once (one isolation, one
 * incident, one trigger), the request is not sent again, and the audit chain still verifies.
 */
test('kill -9 while a run waits for approval: the approval still works, the run completes once', {
  timeout: 180_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-respond-crash-'));
  const chat = await startJsonReceiver();
  const sn = await startServiceNow();
  const port = await freePort();
  const bgp = join(dir, 'bgp');
  const playbook = join(dir, 'pb.yaml');
  writeFileSync(
    playbook,
    `name: hole
trigger: category = "ddos"
steps:
  - {id: ok, type: approve, roles: [analyst], expires: 1h, notify: [chat]}
  - {id: hole, type: isolate, via: rtbh, host: "{{alert.dst_ip}}"}
  - {id: inc, type: ticket, via: snow, short_description: "Blackholed {{alert.dst_ip}}"}
`,
  );
  const respond = {
    publicUrl: `http://127.0.0.1:${port}`,
    playbooks: [playbook],
    backoffMs: 50,
    adapters: [
      { name: 'rtbh', kind: 'bgp', dir: bgp },
      { name: 'snow', kind: 'servicenow', instance: sn.url, user: sn.user, password: sn.password },
      { name: 'chat', kind: 'slack', url: chat.url },
    ],
    approvers: [{ name: 'alice', role: 'analyst' }],
  };
  // The same episode both times: a detector re-emits its alert after a restart.
  const alert = {
    category: 'ddos',
    dst_ip: '203.0.113.50',
    alert_id: '00000000-0000-5000-8000-00000000c0de',
  };
  let proc: ChildProcess | null = null;
  try {
    const first = await child(join(dir, 'data'), port, respond, alert);
    proc = first.proc;
    const links = await waitFor(
      'the request',
      () =>
        slackLinks(
          chat.requests.map((r) => r.body),
          'alice',
        ),
      30_000,
    );
    const runs = await api(first.base, 'GET', '/api/v1/runs', first.admin);
    assert.equal((runs.json.items as { status: string }[])[0]!.status, 'waiting');

    const dead = new Promise((r) => first.proc.once('exit', r));
    first.proc.kill('SIGKILL');
    await dead;

    const second = await child(join(dir, 'data'), port, respond, alert);
    proc = second.proc;
    const yes = await fetch(links.approve, { method: 'POST' });
    assert.equal(yes.status, 200, await yes.clone().text());
    const run = await waitFor(
      'the run to complete',
      async () => {
        const r = await api(second.base, 'GET', '/api/v1/runs', second.admin);
        const items = r.json.items as { id: string; status: string }[];
        return items.length === 1 && items[0]!.status === 'succeeded' ? items[0] : undefined;
      },
      60_000,
    );
    assert.equal(
      readFileSync(join(bgp, 'announce.conf'), 'utf8'),
      'announce route 203.0.113.50/32 next-hop 192.0.2.1 community [65535:666]\n',
    );
    assert.equal(sn.incidents.length, 1);
    assert.equal(chat.requests.length, 1, 'the approval request is not sent again after the restart');
    assert.equal((await fetch(links.approve, { method: 'POST' })).status, 409);
    const chain = readFileSync(join(dir, 'data', 'respond', 'audit.jsonl'), 'utf8');
    assert.equal(verifyChain(chain).ok, true);
    const kinds = chain
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; run_id: string | null });
    assert.equal(kinds.filter((k) => k.kind === 'trigger').length, 1);
    assert.equal(kinds.filter((k) => k.kind === 'run.end' && k.run_id === run.id).length, 1);
  } finally {
    if (proc && proc.exitCode === null) {
      const gone = new Promise((r) => proc!.once('exit', r));
      proc.kill('SIGKILL');
      await gone;
    }
    await chat.stop();
    await sn.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
