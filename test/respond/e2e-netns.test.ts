import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { alertRecord } from '../../src/schema/alert.js';
import { parseFilter } from '../../src/store/filter.js';
import { missingAddon, missingForNetns, Netns, ROOT, requireOrSkip, sh } from '../live/support.js';
import { isMissing, type SmtpPeer, startSmtp } from '../support/peers.js';
import { startServiceNow } from './receivers.js';
import { api, startRespond, waitFor } from './support.js';

/** Text of a mail body with quoted-printable soft breaks and escapes undone. */
function qp(raw: string): string {
  return raw
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
}

/** Echo replies to `count` ICMP echo requests (hping3) from one namespace to an address. */
function pings(ns: Netns, to: string, count = 3): number {
  const r = spawnSync(
    'ip',
    ['netns', 'exec', ns.name, 'hping3', '-1', '-n', '-c', String(count), '-i', 'u200000', to],
    {
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
  return Number(/(\d+) packets received/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? -1);
}

/**
 * The whole story on real hosts: an attacker, a victim and a gateway (nftables) in network
 * namespaces; Vantage captures the gateway's traffic through a mirror port (tc mirred, as a
 * SPAN port would); the attacker scans the victim; an alert is raised; the playbook asks for
 * approval by e-mail (real SMTP server); the test approves through the signed link; the rule
 * appears on the gateway and the attacker's pings stop; one ServiceNow-shaped incident and one
 * notification mail are created; releasing the isolation lets the pings through again.
 */
test('scan -> alert -> approval by signed link -> nftables isolation -> ticket, mail -> release', {
  timeout: 180_000,
}, async (t) => {
  if (!requireOrSkip(t, [...missingForNetns(['nft', 'nmap', 'tc', 'hping3']), ...missingAddon()])) return;
  const smtp = await startSmtp();
  if (isMissing(smtp)) {
    requireOrSkip(t, [smtp.missing]);
    return;
  }
  const sn = await startServiceNow();
  const atk = new Netns('ratk');
  const vic = new Netns('rvic');
  const gw = new Netns('rgw');
  const s = String(process.pid % 100000);
  const mon = `rm-r${s}`;
  const cleanups: (() => Promise<void> | void)[] = [
    () => atk.cleanup(),
    () => vic.cleanup(),
    () => gw.cleanup(),
    () => sn.stop(),
    () => (smtp as SmtpPeer).stop(),
  ];
  try {
    const veth = (a: string, aNs: Netns | null, b: string, bNs: Netns) => {
      sh('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
      if (aNs) sh('ip', ['link', 'set', a, 'netns', aNs.name]);
      sh('ip', ['link', 'set', b, 'netns', bNs.name]);
    };
    veth(`ra-a${s}`, atk, `ra-g${s}`, gw);
    veth(`rv-v${s}`, vic, `rv-g${s}`, gw);
    veth(mon, null, `rm-m${s}`, gw);
    atk.exec('ip', ['addr', 'add', '10.9.0.2/24', 'dev', `ra-a${s}`]);
    atk.exec('ip', ['link', 'set', `ra-a${s}`, 'up']);
    atk.exec('ip', ['route', 'add', 'default', 'via', '10.9.0.1']);
    vic.exec('ip', ['addr', 'add', '10.9.1.2/24', 'dev', `rv-v${s}`]);
    vic.exec('ip', ['link', 'set', `rv-v${s}`, 'up']);
    vic.exec('ip', ['route', 'add', 'default', 'via', '10.9.1.1']);
    gw.exec('ip', ['addr', 'add', '10.9.0.1/24', 'dev', `ra-g${s}`]);
    gw.exec('ip', ['addr', 'add', '10.9.1.1/24', 'dev', `rv-g${s}`]);
    for (const i of [`ra-g${s}`, `rv-g${s}`, `rm-m${s}`]) gw.exec('ip', ['link', 'set', i, 'up']);
    gw.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    sh('ip', ['link', 'set', mon, 'up']);
    // The gateway's attacker-side port is mirrored both ways to the monitor port Vantage reads.
    gw.exec('tc', ['qdisc', 'add', 'dev', `ra-g${s}`, 'clsact']);
    for (const dir of ['ingress', 'egress'])
      gw.exec('tc', [
        'filter',
        'add',
        'dev',
        `ra-g${s}`,
        dir,
        'u32',
        'match',
        'u32',
        '0',
        '0',
        'action',
        'mirred',
        'egress',
        'mirror',
        'dev',
        `rm-m${s}`,
      ]);

    const p = await startRespond(
      {
        adapters: [
          { name: 'gw', kind: 'nftables', exec: ['ip', 'netns', 'exec', gw.name, 'nft'] },
          { name: 'snow', kind: 'servicenow', instance: sn.url, user: sn.user, password: sn.password },
          {
            name: 'mail',
            kind: 'email',
            host: '127.0.0.1',
            port: smtp.port,
            from: 'vantage@example.org',
            to: ['soc@example.org'],
          },
        ],
        approvers: [{ name: 'alice', role: 'analyst', email: 'alice@example.org' }],
      },
      undefined,
      {
        capture: [{ interface: mon }],
        packets: true,
        flow: { tcpEndTimeout: 1, idleTimeout: 2, tcpIdleTimeout: 2 },
        flushMs: 200,
      },
    );
    cleanups.unshift(async () => {
      await p.product.stop();
      rmSync(p.dir, { recursive: true, force: true });
    });
    (p.product.responder!.cfg as { publicUrl: string }).publicUrl = p.base;
    const saved = await api(p.base, 'POST', '/api/v1/playbooks', p.admin, {
      source: readFileSync(`${ROOT}test/respond/testdata/isolate-scanner.yaml`, 'utf8'),
    });
    assert.equal(saved.status, 201, saved.text);

    assert.equal(pings(atk, '10.9.1.2'), 3, 'before: the attacker reaches the victim');

    // nmap scans the victim; Vantage's scan detector sees it in the flows it meters on the gateway.
    const nmap = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        atk.name,
        'nmap',
        '-n',
        '-Pn',
        '-sS',
        '-T4',
        '--max-retries',
        '0',
        '-p',
        '1-200',
        '10.9.1.2',
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(nmap.status, 0, nmap.stderr);
    const scanAlert = await waitFor(
      'the scan alert from the detector',
      async () => {
        await p.product.alertHub.flush();
        const page = await p.product.store.list({
          type: 'alert',
          filter: parseFilter('category = "scan" and src_ip = "10.9.0.2"', alertRecord),
          limit: 10,
        });
        return page.items[0];
      },
      30_000,
    );
    assert.equal((scanAlert as { dst_ip: string }).dst_ip, '10.9.1.2');

    // The approval request reaches alice by mail, with her own signed links.
    const mail = await waitFor(
      'the approval mail',
      () =>
        smtp
          .messages()
          .map(qp)
          .find((m) => /To: alice@example\.org/.test(m)),
      30_000,
    );
    const link = /Approve: (\S+)/.exec(mail)![1]!;
    assert.match(link, /\/api\/v1\/approvals\/r-[0-9a-f]+\.ok\/link\?u=alice&d=approve&/);
    assert.equal(sn.incidents.length, 0);
    assert.equal(pings(atk, '10.9.1.2'), 3, 'nothing is done before the approval');
    const yes = await fetch(link, { method: 'POST' });
    assert.equal(yes.status, 200, await yes.clone().text());

    const runs = await api(p.base, 'GET', '/api/v1/runs', p.admin);
    const runId = (runs.json.items as { id: string }[])[0]!.id;
    await waitFor(
      'the run to succeed',
      async () => {
        const r = await api(p.base, 'GET', `/api/v1/runs/${runId}`, p.admin);
        if (r.json.status === 'failed') assert.fail(String(r.json.error));
        return r.json.status === 'succeeded' ? true : undefined;
      },
      60_000,
    );

    // The enrich step kept the alert's packets, read back from the packet store, as evidence.
    const detail = await api(p.base, 'GET', `/api/v1/runs/${runId}`, p.admin);
    const ev = (detail.json.steps as { result: { pcap: { packets: number; file: string } } }[])[0]!.result
      .pcap;
    assert.ok(ev.packets > 20, `evidence packets: ${JSON.stringify(ev)}`);
    assert.equal(
      readFileSync(ev.file).readUInt32LE(0) === 0xa1b23c4d ||
        readFileSync(ev.file).readUInt32LE(0) === 0xa1b2c3d4,
      true,
    );
    const rules = gw.exec('nft', ['list', 'table', 'inet', 'vantage_respond']);
    assert.match(
      rules,
      /ip saddr 10\.9\.0\.2 counter packets \d+ bytes \d+ drop comment "vantage:r-[0-9a-f]+\.block"/,
    );
    assert.equal(pings(atk, '10.9.1.2'), 0, 'after: the attacker is cut off');
    const counted = Number(
      /ip saddr 10\.9\.0\.2 counter packets (\d+)/.exec(
        gw.exec('nft', ['list', 'table', 'inet', 'vantage_respond']),
      )![1],
    );
    assert.ok(counted >= 3, `the drop rule counted the pings (${counted})`);

    assert.equal(sn.incidents.length, 1);
    // The ticket names the host and carries the detector's own title.
    assert.equal(
      sn.incidents[0]!.fields.short_description,
      `Vantage isolated 10.9.0.2: ${(scanAlert as { title: string }).title}`,
    );
    assert.match(sn.incidents[0]!.fields.description!, /approved by alice/);
    const notes = smtp
      .messages()
      .map(qp)
      .filter((m) => /Subject: Isolated 10\.9\.0\.2 \(incident INC\d+\)/.test(m));
    assert.equal(notes.length, 1);
    assert.match(notes[0]!, /To: soc@example\.org/);

    const rel = await api(p.base, 'POST', `/api/v1/runs/${runId}/release`, p.admin);
    assert.equal(rel.status, 200, rel.text);
    assert.doesNotMatch(gw.exec('nft', ['list', 'table', 'inet', 'vantage_respond']), /10\.9\.0\.2/);
    assert.equal(pings(atk, '10.9.1.2'), 3, 'released: traffic flows again');
    const audit = await api(p.base, 'GET', `/api/v1/respond/audit?run_id=${runId}`, p.admin);
    assert.equal((audit.json.verified as { ok: boolean }).ok, true);
    assert.ok((audit.json.items as { kind: string }[]).some((e) => e.kind === 'release'));
  } finally {
    for (const c of cleanups) await c();
  }
});
