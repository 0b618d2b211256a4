import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AlertRecord } from '../../src/schema/alert.js';
import {
  type JsonReceiver,
  type ServiceNowStandIn,
  startJsonReceiver,
  startServiceNow,
} from './receivers.js';
import { api, type RespondProduct, scanAlert, slackLinks, startRespond, waitFor } from './support.js';

/**
 * The engine through the product's API: approvals that reach a person (signed links, roles,
 * four eyes, expiry, replay), actions taken once, failures that fail the run and not the product.
 */
describe('response engine', () => {
  let p: RespondProduct;
  let chat: JsonReceiver;
  let sn: ServiceNowStandIn;
  let hang: JsonReceiver;
  let bgpDir: string;
  let admin: string;
  let alice: string;
  let bob: string;
  let viewer: string;

  before(async () => {
    chat = await startJsonReceiver();
    sn = await startServiceNow();
    hang = await startJsonReceiver();
    hang.hang = true;
    bgpDir = mkdtempSync(join(tmpdir(), 'vantage-bgp-'));
    p = await startRespond({
      publicUrl: 'http://placeholder.invalid',
      adapters: [
        { name: 'rtbh', kind: 'bgp', dir: bgpDir },
        { name: 'snow', kind: 'servicenow', instance: sn.url, user: sn.user, password: sn.password },
        { name: 'chat', kind: 'slack', url: `${chat.url}/hook` },
      ],
      approvers: [
        { name: 'alice', role: 'analyst' },
        { name: 'bob', role: 'analyst' },
        { name: 'carol', role: 'admin' },
      ],
    });
    // Links must point at this server: the config is read before the port is known, so the
    // test swaps the placeholder in (a deployment sets publicUrl to its real address).
    (p.product.responder!.cfg as { publicUrl: string }).publicUrl = p.base;
    admin = p.admin;
    alice = p.token('analyst', 'alice');
    bob = p.token('analyst', 'bob');
    viewer = p.token('viewer', 'vic');
    const save = async (source: string) => {
      const r = await api(p.base, 'POST', '/api/v1/playbooks', admin, { source });
      assert.equal(r.status, 201, r.text);
    };
    await save(`name: blackhole
trigger: category = "ddos" and severity >= 50
steps:
  - {id: ok, type: approve, roles: [analyst], expires: 10m, notify: [chat]}
  - {id: hole, type: isolate, via: rtbh, host: "{{alert.dst_ip}}"}
  - id: inc
    type: ticket
    via: snow
    short_description: "Blackholed {{alert.dst_ip}}"
    description: "approved by {{steps.ok.approvers}}"
`);
    await save(`name: quick-expiry
trigger: category = "beacon"
steps:
  - {id: ok, type: approve, roles: [analyst], expires: 2s, notify: [chat]}
  - {id: hole, type: isolate, via: rtbh}
`);
    await save(`name: two-keys
trigger: category = "dns_tunnel"
steps:
  - {id: ok, type: approve, roles: [analyst], quorum: 2, expires: 10m}
  - {id: hole, type: isolate, via: rtbh, host: "{{alert.dst_ip}}"}
`);
    await save(`name: slow-api
trigger: category = "exfiltration"
steps:
  - {id: call, type: http, url: "${hang.url}/never", body: {ip: "{{alert.src_ip}}"}, timeout: 1s, retries: 1}
  - {id: hole, type: isolate, via: rtbh}
`);
  });

  after(async () => {
    await p.product.stop();
    await chat.stop();
    await sn.stop();
    await hang.stop();
    rmSync(p.dir, { recursive: true, force: true });
    rmSync(bgpDir, { recursive: true, force: true });
  });

  const announced = (): string => {
    try {
      return readFileSync(join(bgpDir, 'announce.conf'), 'utf8');
    } catch {
      return '';
    }
  };
  const raise = async (a: AlertRecord) => {
    p.product.alertHub.emit(a);
    await p.product.alertHub.flush();
    const runs = await waitFor('the run', async () => {
      const r = await api(p.base, 'GET', `/api/v1/runs?alert_id=${a.alert_id}`, viewer);
      return (r.json.items as { id: string }[]).length > 0
        ? (r.json.items as { id: string; status: string }[])
        : undefined;
    });
    return runs[0]!;
  };
  const run = async (id: string) =>
    (await api(p.base, 'GET', `/api/v1/runs/${id}`, viewer)).json as unknown as Record<string, unknown> & {
      status: string;
      steps: {
        id: string;
        status: string;
        result: Record<string, unknown>;
        error: string | null;
        attempts: number;
      }[];
      error: string | null;
    };
  const linksFor = (who: string, n: number) =>
    waitFor(`links for ${who}`, () =>
      slackLinks(
        chat.requests.slice(n).map((r) => r.body),
        who,
      ),
    );

  test('approve through a signed link: isolate and ticket happen once; the link works once', async () => {
    const before = chat.requests.length;
    const a = scanAlert({ category: 'ddos', dst_ip: '203.0.113.9', title: 'UDP flood to 203.0.113.9' });
    const r = await raise(a);
    // The alert is rewritten while the episode lasts: it passes the hub again, no second run.
    p.product.alertHub.emit({ ...a, count: 5 });
    await p.product.alertHub.flush();
    const links = await linksFor('alice', before);
    assert.equal((await run(r.id)).status, 'waiting');
    assert.equal(announced().includes('203.0.113.9'), false);
    // GET only shows the question (link scanners open links); the POST decides.
    const page = await fetch(links.approve);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<form method="post"/);
    assert.equal((await run(r.id)).status, 'waiting');
    const yes = await fetch(links.approve, { method: 'POST', headers: { 'user-agent': 'phone-mail/1' } });
    assert.equal(yes.status, 200, await yes.clone().text());
    assert.equal(((await yes.json()) as { outcome: string }).outcome, 'approved');
    const done = await waitFor('run succeeded', async () => {
      const x = await run(r.id);
      return x.status === 'succeeded' ? x : undefined;
    });
    assert.equal(announced(), 'announce route 203.0.113.9/32 next-hop 192.0.2.1 community [65535:666]\n');
    const mine = sn.incidents.filter((i) => i.fields.short_description === 'Blackholed 203.0.113.9');
    assert.equal(mine.length, 1);
    assert.equal(mine[0]!.fields.description, 'approved by alice');
    assert.equal(done.steps[2]!.result.sys_id, mine[0]!.sys_id);
    const vote = (
      done.steps[0] as unknown as {
        approval: { votes: { who: string; via: string; ip: string; user_agent: string }[] };
      }
    ).approval.votes[0]!;
    assert.deepEqual(
      [vote.who, vote.via, vote.ip, vote.user_agent],
      ['alice', 'link', '127.0.0.1', 'phone-mail/1'],
    );
    // Replayed: the same link again, and the other links of a decided request.
    assert.equal((await fetch(links.approve, { method: 'POST' })).status, 409);
    const bobs = await linksFor('bob', before);
    assert.equal((await fetch(bobs.deny, { method: 'POST' })).status, 409);
    // A link with its signature or its person changed is refused.
    assert.equal((await fetch(bobs.approve.replace('u=bob', 'u=carol'), { method: 'POST' })).status, 403);
    // The alert's runs, the run's audit entries, a chain that verifies.
    const audit = await api(p.base, 'GET', `/api/v1/respond/audit?alert_id=${a.alert_id}`, admin);
    assert.equal((audit.json.verified as { ok: boolean }).ok, true);
    const kinds = (audit.json.items as { kind: string }[]).map((e) => e.kind);
    for (const k of ['trigger', 'approval.request', 'approval.vote', 'step.done', 'run.end'])
      assert.ok(kinds.includes(k), k);
    assert.equal(kinds.filter((k) => k === 'trigger').length, 1);
    // Release undoes the isolation.
    const rel = await api(p.base, 'POST', `/api/v1/runs/${r.id}/release`, alice);
    assert.equal(rel.status, 200, rel.text);
    assert.equal(announced(), '');
    assert.match(mine[0]!.work_notes.at(-1) ?? '', /released by alice/);
  });

  test('no self-approval: the owner, the host user and whoever started the run cannot approve', async () => {
    const a = scanAlert({ category: 'ddos', dst_ip: '203.0.113.10', assignee: 'alice', src_user: 'bob' });
    const r = await raise(a);
    const id = `${r.id}.ok`;
    await waitFor('request', async () => (await run(r.id)).status === 'waiting');
    const byAlice = await api(p.base, 'POST', `/api/v1/approvals/${id}/decide`, alice, {
      decision: 'approve',
    });
    assert.equal(byAlice.status, 403);
    assert.match(byAlice.json.error!.message, /alice triggered or owns this alert and cannot approve/);
    assert.equal(
      (await api(p.base, 'POST', `/api/v1/approvals/${id}/decide`, bob, { decision: 'approve' })).status,
      403,
    );
    // Started by hand by an analyst: that analyst cannot approve it either.
    const a2 = scanAlert({ category: 'other', dst_ip: '203.0.113.11' });
    p.product.alertHub.emit(a2);
    await p.product.alertHub.flush();
    const manual = await api(p.base, 'POST', '/api/v1/playbooks/blackhole/run', bob, {
      alert_id: a2.alert_id,
    });
    assert.equal(manual.status, 201, manual.text);
    const mid = `${manual.json.id as string}.ok`;
    await waitFor('request', async () => (await run(manual.json.id as string)).status === 'waiting');
    assert.equal(
      (await api(p.base, 'POST', `/api/v1/approvals/${mid}/decide`, bob, { decision: 'approve' })).status,
      403,
    );
    const ok = await api(p.base, 'POST', `/api/v1/approvals/${mid}/decide`, alice, { decision: 'deny' });
    assert.equal(ok.status, 200, ok.text);
    const denied = await waitFor('denied', async () =>
      (await run(manual.json.id as string)).status === 'denied' ? true : undefined,
    );
    assert.ok(denied);
    const pending = await api(p.base, 'GET', '/api/v1/approvals', viewer);
    assert.ok((pending.json.items as { id: string }[]).some((x) => x.id === id));
    assert.ok(!(pending.json.items as { id: string }[]).some((x) => x.id === mid));
  });

  test('a quorum of two: one approval waits, the second lets the run act', async () => {
    const a = scanAlert({ category: 'dns_tunnel', dst_ip: '203.0.113.77' });
    const r = await raise(a);
    await waitFor('request', async () => (await run(r.id)).status === 'waiting');
    const one = await api(p.base, 'POST', `/api/v1/approvals/${r.id}.ok/decide`, alice, {
      decision: 'approve',
    });
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.outcome, null);
    assert.equal(
      (await api(p.base, 'POST', `/api/v1/approvals/${r.id}.ok/decide`, alice, { decision: 'approve' }))
        .status,
      403,
    );
    assert.equal((await run(r.id)).status, 'waiting');
    assert.equal(announced().includes('203.0.113.77'), false);
    const two = await api(p.base, 'POST', `/api/v1/approvals/${r.id}.ok/decide`, bob, {
      decision: 'approve',
    });
    assert.equal(two.json.outcome, 'approved');
    await waitFor('succeeded', async () => ((await run(r.id)).status === 'succeeded' ? true : undefined));
    assert.equal(announced().includes('203.0.113.77/32'), true);
  });

  test('a viewer cannot approve', async () => {
    const a = scanAlert({ category: 'ddos', dst_ip: '203.0.113.12' });
    const r = await raise(a);
    await waitFor('request', async () => (await run(r.id)).status === 'waiting');
    const v = await api(p.base, 'POST', `/api/v1/approvals/${r.id}.ok/decide`, viewer, {
      decision: 'approve',
    });
    assert.equal(v.status, 403);
    assert.match(v.json.error!.message, /needs the analyst role/);
    assert.equal((await run(r.id)).status, 'waiting');
  });

  test('an expired request denies the run and its links are refused', async () => {
    const before = chat.requests.length;
    const a = scanAlert({ category: 'beacon' });
    const r = await raise(a);
    const links = await linksFor('alice', before);
    const exp = Number(new URL(links.approve).searchParams.get('e')) * 1000;
    await waitFor('expiry', () => Date.now() > exp + 100);
    const late = await fetch(links.approve, { method: 'POST' });
    assert.equal(late.status, 410);
    const x = await waitFor('denied', async () => {
      const y = await run(r.id);
      return y.status === 'denied' ? y : undefined;
    });
    assert.equal(x.error, 'approval expired');
    assert.equal(x.steps[1]!.status, 'pending');
    assert.equal(announced().includes('10.9.0.2'), false);
  });

  test('a step that times out fails its run, not the product', async () => {
    const a = scanAlert({ category: 'exfiltration' });
    const r = await raise(a);
    const x = await waitFor('failed', async () => {
      const y = await run(r.id);
      return y.status === 'failed' ? y : undefined;
    });
    assert.match(x.error ?? '', /step call: step call timed out after 1000 ms/);
    assert.equal(x.steps[0]!.attempts, 2);
    assert.equal(x.steps[1]!.status, 'pending');
    assert.equal((await api(p.base, 'GET', '/api/v1/health', null)).status, 200);
  });

  test('API: validate and dry-run name the key; playbooks are admin-only; schema is published', async () => {
    const v = await api(p.base, 'POST', '/api/v1/playbooks/validate', admin, {
      source: 'name: x\ntrigger: severity > 1\nsteps:\n  - {id: a, type: isolate, via: chat}\n',
    });
    assert.equal(v.status, 200);
    assert.deepEqual(
      (v.json.errors as { key: string }[]).map((e) => e.key),
      ['steps[0].via'],
    );
    const d = await api(p.base, 'POST', '/api/v1/playbooks/dry-run', admin, {
      name: 'blackhole',
      alert: { dst_ip: '198.51.100.1', title: 't' },
    });
    assert.equal(d.status, 200, d.text);
    const steps = d.json.steps as { step: string; calls: { request: Record<string, unknown> }[] }[];
    assert.equal(
      steps[1]!.calls[0]!.request.line,
      'announce route 198.51.100.1/32 next-hop 192.0.2.1 community [65535:666]',
    );
    assert.equal(announced().includes('198.51.100.1'), false);
    assert.equal((await api(p.base, 'GET', '/api/v1/playbooks', alice)).status, 403);
    assert.equal((await api(p.base, 'GET', '/api/v1/playbooks/schema', viewer)).status, 200);
    const bad = await api(p.base, 'POST', '/api/v1/playbooks', admin, {
      source: 'name: y\ntrigger: nope ==\nsteps: []\n',
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      (bad.json.errors as { key: string }[]).map((e) => e.key),
      ['trigger', 'steps'],
    );
  });
});
