import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createBroker } from '../../src/broker/broker.js';
import type { OutFrame } from '../../src/broker/out-frame.js';
import { LinkType, newFrame } from '../../src/capture/frame.js';
import type { BrokerAdapter } from '../../src/respond/actions/broker.js';
import type { ActionAdapter } from '../../src/respond/actions/types.js';
import { parseAdapter } from '../../src/respond/config.js';
import { missingForNetns, Netns, requireOrSkip } from '../live/support.js';
import { isMissing, startSmtp, startWebhookReceiver } from '../support/peers.js';
import { startJsonReceiver, startServiceNow } from './receivers.js';

/**
 * One suite for every action adapter, each against a real peer: a plan (dry run) changes
 * nothing; isolation and ticket adapters are idempotent by key (a second apply finds the
 * first); an undo takes the effect back and may be repeated; a notification arrives once in
 * the shape its receiver documents.
 */
interface Fixture {
  kind: string;
  /** Missing prerequisites (the test skips naming them; fails in CI). */
  missing?: () => string[];
  make(): Promise<{
    adapter: ActionAdapter;
    effects(): Promise<number>;
    check?(): void;
    cleanup(): Promise<void>;
  }>;
  params: Record<string, unknown>;
}

const links = { approve: 'https://v.example/a', deny: 'https://v.example/d', console: 'https://v.example/c' };
const note = { subject: 'Vantage: host isolated', text: '10.9.0.2 scanned 10.9.1.2', links };

/** Ethernet + IPv4 + UDP 10.0.0.1:1000 > 10.0.0.2:53, length 4. */
function udpFrame() {
  const b = Buffer.alloc(14 + 20 + 8 + 4);
  b.writeUIntBE(0x020000000002, 0, 6);
  b.writeUIntBE(0x020000000001, 6, 6);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b.writeUInt16BE(32, 16);
  b[22] = 64;
  b[23] = 17;
  b.writeUInt32BE(0x0a000001, 26);
  b.writeUInt32BE(0x0a000002, 30);
  b.writeUInt16BE(1000, 34);
  b.writeUInt16BE(53, 36);
  b.writeUInt16BE(12, 38);
  const f = newFrame();
  f.buf = b;
  f.off = 0;
  f.caplen = b.length;
  f.wirelen = b.length;
  f.linkType = LinkType.ETHERNET;
  return f;
}

const fixtures: Fixture[] = [
  {
    kind: 'broker',
    params: { host: '10.0.0.1' },
    async make() {
      const broker = createBroker();
      let sent = 0;
      await broker.addTarget({ name: 'ids' }, () => ({
        kind: 'memory',
        start: async () => {},
        stop: async () => {},
        send(_f: OutFrame) {
          sent++;
        },
      }));
      await broker.start();
      const dir = mkdtempSync(join(tmpdir(), 'vantage-brk-'));
      const adapter = parseAdapter({ name: 'brk', kind: 'broker' }, 'a') as BrokerAdapter;
      adapter.bind(broker, join(dir, 'blocks.json'));
      return {
        adapter,
        // The effect is real: a packet of the host no longer reaches the broker's target.
        async effects() {
          const before = sent;
          broker.onFrame(udpFrame());
          return sent === before ? 1 : 0;
        },
        check() {
          // A restarted product re-applies the kept block to its new broker.
          const again = createBroker();
          (parseAdapter({ name: 'brk', kind: 'broker' }, 'a') as BrokerAdapter).bind(
            again,
            join(dir, 'blocks.json'),
          );
          assert.deepEqual(again.blocks(), [{ key: 'r-conf.isolate', cidr: '10.0.0.1/32' }]);
        },
        async cleanup() {
          await broker.stop();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    kind: 'nftables',
    missing: () => missingForNetns(['nft']),
    params: { host: '10.9.0.2' },
    async make() {
      const ns = new Netns('nftconf');
      const adapter = parseAdapter(
        { name: 'gw', kind: 'nftables', exec: ['ip', 'netns', 'exec', ns.name, 'nft'] },
        'a',
      );
      return {
        adapter,
        async effects() {
          const r = spawnSync('ip', ['netns', 'exec', ns.name, 'nft', 'list', 'ruleset'], {
            encoding: 'utf8',
          });
          return (r.stdout.match(/drop comment "vantage:/g) ?? []).length / 2;
        },
        async cleanup() {
          ns.cleanup();
        },
      };
    },
  },
  {
    kind: 'rest',
    params: { host: '10.9.0.2' },
    async make() {
      const rx = await startJsonReceiver();
      const adapter = parseAdapter(
        {
          name: 'edr',
          kind: 'rest',
          apply: {
            method: 'POST',
            url: `${rx.url}/quarantine`,
            body: { ip: '{{params.host}}', ref: '{{key}}' },
          },
          undo: { method: 'DELETE', url: `${rx.url}/quarantine/{{params.host}}` },
        },
        'a',
      );
      // An enforcement API that honours Idempotency-Key, as Stripe-style APIs do.
      const state = () => {
        const on = new Set<string>();
        for (const r of rx.requests) {
          const k = String(r.headers['idempotency-key']);
          if (r.method === 'POST') on.add(k);
          else on.delete(k);
        }
        return on.size;
      };
      return {
        adapter,
        effects: async () => state(),
        check() {
          const post = rx.requests.find((r) => r.method === 'POST')!;
          assert.deepEqual(post.body, { ip: '10.9.0.2', ref: 'r-conf.isolate' });
        },
        cleanup: () => rx.stop(),
      };
    },
  },
  {
    kind: 'bgp',
    params: { host: '203.0.113.7' },
    async make() {
      const dir = mkdtempSync(join(tmpdir(), 'vantage-bgp-'));
      const adapter = parseAdapter({ name: 'rtbh', kind: 'bgp', dir }, 'a');
      return {
        adapter,
        async effects() {
          try {
            return readFileSync(join(dir, 'announce.conf'), 'utf8').split('\n').filter(Boolean).length;
          } catch {
            return 0;
          }
        },
        check() {
          assert.equal(
            readFileSync(join(dir, 'announce.conf'), 'utf8'),
            'announce route 203.0.113.7/32 next-hop 192.0.2.1 community [65535:666]\n',
          );
        },
        async cleanup() {
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    kind: 'servicenow',
    params: {
      short_description: 'Scan from 10.9.0.2',
      description: 'details',
      urgency: 1,
      impact: 2,
      caller: 'vantage',
    },
    async make() {
      const sn = await startServiceNow();
      const adapter = parseAdapter(
        { name: 'snow', kind: 'servicenow', instance: sn.url, user: sn.user, password: sn.password },
        'a',
      );
      return {
        adapter,
        effects: async () => sn.incidents.length,
        check() {
          assert.deepEqual(sn.refused, []);
          const i = sn.incidents[0]!;
          assert.equal(i.fields.short_description, 'Scan from 10.9.0.2');
          assert.equal(i.fields.urgency, '1');
          assert.equal(i.fields.caller_id, 'vantage');
          assert.equal(i.fields.correlation_id, 'r-conf.isolate');
        },
        cleanup: () => sn.stop(),
      };
    },
  },
  {
    kind: 'ticket-webhook',
    params: { short_description: 'Scan from 10.9.0.2' },
    async make() {
      const rx = await startJsonReceiver();
      const adapter = parseAdapter(
        {
          name: 'tix',
          kind: 'ticket-webhook',
          apply: { url: `${rx.url}/tickets`, body: { title: '{{params.short_description}}' } },
        },
        'a',
      );
      return {
        adapter,
        effects: async () => new Set(rx.requests.map((r) => r.headers['idempotency-key'])).size,
        cleanup: () => rx.stop(),
      };
    },
  },
  {
    kind: 'email',
    params: note,
    async make() {
      const smtp = await startSmtp();
      if (isMissing(smtp)) throw new Error(smtp.missing);
      const adapter = parseAdapter(
        {
          name: 'mail',
          kind: 'email',
          host: '127.0.0.1',
          port: smtp.port,
          from: 'vantage@example.org',
          to: ['soc@example.org'],
        },
        'a',
      );
      return {
        adapter,
        effects: async () => smtp.messages().length,
        check() {
          const m = smtp.messages()[0]!;
          assert.match(m, /Subject: Vantage: host isolated/);
          assert.match(m, /Approve: https:\/\/v\.example\/a/);
          assert.match(m, /Message-ID: <r-conf\.isolate@vantage\.respond>/i);
        },
        cleanup: () => smtp.stop(),
      };
    },
    missing: () => {
      const py = join(
        process.env.VANTAGE_PEERS ?? join(process.env.HOME ?? '/root', '.cache', 'vantage-peers'),
        'pyvenv',
        'bin',
        'python',
      );
      return spawnSync(py, ['-c', 'import aiosmtpd']).status === 0 ? [] : ['aiosmtpd'];
    },
  },
  {
    kind: 'webhook',
    params: note,
    async make() {
      const rx = await startWebhookReceiver('s3cret');
      if (isMissing(rx)) throw new Error(rx.missing);
      const adapter = parseAdapter(
        { name: 'hook', kind: 'webhook', url: rx.url, secret: 's3cret', ca: rx.ca },
        'a',
      );
      return {
        adapter,
        effects: async () => rx.received.length,
        check() {
          assert.equal(rx.rejected, 0);
          assert.deepEqual((rx.received[0] as { links: unknown }).links, links);
        },
        cleanup: () => rx.stop(),
      };
    },
  },
  {
    kind: 'slack',
    params: note,
    async make() {
      const rx = await startJsonReceiver();
      const adapter = parseAdapter({ name: 'slack', kind: 'slack', url: `${rx.url}/services/T0/B0/X` }, 'a');
      return {
        adapter,
        effects: async () => rx.requests.length,
        check() {
          const b = rx.requests[0]!.body as {
            text: string;
            blocks: { type: string; elements?: { url: string }[] }[];
          };
          assert.match(b.text, /host isolated/);
          assert.deepEqual(
            b.blocks.find((x) => x.type === 'actions')!.elements!.map((e) => e.url),
            [links.approve, links.deny, links.console],
          );
        },
        cleanup: () => rx.stop(),
      };
    },
  },
  {
    kind: 'teams',
    params: note,
    async make() {
      const rx = await startJsonReceiver();
      const adapter = parseAdapter({ name: 'teams', kind: 'teams', url: `${rx.url}/workflows/x` }, 'a');
      return {
        adapter,
        effects: async () => rx.requests.length,
        check() {
          const b = rx.requests[0]!.body as {
            type: string;
            attachments: {
              contentType: string;
              content: { type: string; actions: { type: string; url: string }[] };
            }[];
          };
          assert.equal(b.type, 'message');
          assert.equal(b.attachments[0]!.contentType, 'application/vnd.microsoft.card.adaptive');
          assert.equal(b.attachments[0]!.content.type, 'AdaptiveCard');
          assert.deepEqual(
            b.attachments[0]!.content.actions.map((a) => [a.type, a.url]),
            [
              ['Action.OpenUrl', links.approve],
              ['Action.OpenUrl', links.deny],
              ['Action.OpenUrl', links.console],
            ],
          );
        },
        cleanup: () => rx.stop(),
      };
    },
  },
];

describe('action adapters: one conformance suite', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups) await c();
  });
  for (const f of fixtures) {
    test(f.kind, async (t) => {
      if (f.missing && !requireOrSkip(t, f.missing())) return;
      const w = await f.make();
      cleanups.push(w.cleanup);
      const req = { key: 'r-conf.isolate', params: f.params };
      const plan = w.adapter.plan(req);
      assert.ok(plan.length > 0 && plan.every((p) => p.adapter === w.adapter.name));
      assert.equal(await w.effects(), 0, 'a plan (dry run) must not act');
      await w.adapter.apply(req);
      assert.equal(await w.effects(), 1);
      w.check?.();
      if (w.adapter.family !== 'notify') {
        await w.adapter.apply(req);
        assert.equal(await w.effects(), 1, 'a retried apply must find the first one');
      }
      if (w.adapter.inEffect) assert.equal(await w.adapter.inEffect(req), true);
      if (w.adapter.undo) {
        await w.adapter.undo(req, {});
        assert.equal(await w.effects(), 0);
        await w.adapter.undo(req, {});
        if (w.adapter.inEffect) assert.equal(await w.adapter.inEffect(req), false);
      }
    });
  }
});
