import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { type Bus, createBus } from '../../src/bus/bus.js';
import { parseBusConfig } from '../../src/bus/config.js';
import { createSink } from '../../src/bus/sinks/index.js';
import type { EncodedAlert, Sink, SinkSpec } from '../../src/bus/types.js';
import { alertRecordOf } from '../../src/common/alerts.js';
import { silentLogger } from '../../src/common/log.js';
import type { AlertRecord } from '../../src/schema/alert.js';
import {
  isMissing,
  type Missing,
  startHecReceiver,
  startKafka,
  startNats,
  startRsyslog,
  startSmtp,
  startWebhookReceiver,
} from '../support/peers.js';

/**
 * One suite for every sink, each against its real peer: every alert that passes the sink's
 * filter arrives (read back from the peer), no other does; a sink that cannot deliver retries,
 * then keeps dead letters, and a replay delivers them.
 */
interface Harness {
  /** The sink section of the config (without the common keys). */
  section: Record<string, unknown>;
  /** alert_ids the peer holds now, checking the format of each message on the way. */
  received(): Promise<string[]>;
  stop(): Promise<void>;
}

const VERSION = '0.1.0-test';
const FILTER = 'severity >= 50 and category != "scan"';

/** Alerts with awkward text: CEF and syslog specials, newlines, non-ASCII. */
export function testAlerts(n: number, tag: string): AlertRecord[] {
  const cats = ['scan', 'beacon', 'dga', 'intel'] as const;
  return Array.from({ length: n }, (_, i) =>
    alertRecordOf(
      {
        ts: Date.UTC(2026, 5, 1) + i * 1000,
        category: cats[i % 4]!,
        detector: i % 3 === 0 ? 'intel|ip' : 'beacon.periodic',
        title: `Alert ${tag} #${i}: a=b \\ c | d\nline ] "q" ü`,
        severity: (i * 37) % 101,
        confidence: 80,
        src_ip: i % 5 === 0 ? '2001:db8::7' : `10.0.${i % 250}.1`,
        dst_ip: '192.0.2.10',
        dst_port: 443,
        proto: 6,
        src_port: 40000 + i,
        attack_technique: i % 2 ? 'T1071.001' : null,
        key: `${tag}-${i}`,
      },
      'sensor-a',
    ),
  );
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Parse the CEF extension (`k=v` pairs, escaped `=` and `\`) back into a map. */
function cefExtension(ext: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /(?:^| )([A-Za-z0-9_]+)=((?:\\.|[^\\])*?)(?= [A-Za-z0-9_]+=|$)/g;
  for (const m of ext.matchAll(re)) {
    out.set(
      m[1]!,
      m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c)),
    );
  }
  return out;
}

/** Split a CEF line into its 7 header fields and the extension, honouring `\|`. */
function cefParts(line: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (parts.length < 7 && c === '\\') {
      cur += line[++i] ?? '';
    } else if (parts.length < 7 && c === '|') {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

function syslogHarness(transport: 'udp' | 'tcp', all: Map<string, AlertRecord>) {
  return async (): Promise<Harness | Missing> => {
    const p = await startRsyslog();
    if (isMissing(p)) return p;
    return {
      section: {
        host: '127.0.0.1',
        port: transport === 'udp' ? p.udpPort : p.tcpPort,
        transport,
        format: 'cef',
        hostname: 'sensor-a',
      },
      async received() {
        return p.messages().flatMap((m) => {
          if (m.includes('externalId=test-')) return [];
          const hdr = /^<(\d+)>1 (\S+) (\S+) (\S+) (\d+) (\S+) (\[.*?[^\\]\]) (CEF:.*)$/.exec(m);
          assert.ok(hdr, `RFC 5424 header: ${m.slice(0, 120)}`);
          const cef = cefParts(hdr[8]!);
          assert.equal(cef.length, 8, m);
          const ext = cefExtension(cef[7]!);
          const id = ext.get('externalId')!;
          const a = all.get(id);
          assert.ok(a, `unknown alert ${id}`);
          assert.deepEqual(cef.slice(0, 7), [
            'CEF:0',
            'Vantage',
            'Vantage',
            VERSION,
            a.detector,
            a.title.replace(/\n/g, ' '),
            String(Math.round(a.severity / 10)),
          ]);
          assert.equal(ext.get('msg'), a.title);
          assert.equal(ext.get('src'), a.src_ip);
          assert.equal(ext.get('dst'), a.dst_ip);
          assert.equal(ext.get('dpt'), String(a.dst_port));
          assert.equal(ext.get('cat'), a.category);
          assert.equal(ext.get('rt'), String(Date.parse(a.updated_ts)));
          assert.equal(ext.get('cs1'), a.attack_technique ?? undefined);
          assert.equal(hdr[2], a.updated_ts);
          assert.equal(hdr[3], 'sensor-a');
          assert.equal(
            Number(hdr[1]) % 8,
            a.severity >= 90 ? 2 : a.severity >= 70 ? 3 : a.severity >= 40 ? 4 : a.severity >= 20 ? 5 : 6,
          );
          return [id];
        });
      },
      stop: () => p.stop(),
    };
  };
}

const all = new Map<string, AlertRecord>();

const HARNESSES: Record<string, () => Promise<Harness | Missing>> = {
  kafka: async () => {
    const k = await startKafka();
    if (isMissing(k)) return k;
    await k.createTopic('alerts');
    return {
      section: { brokers: [k.brokers], topic: 'alerts', format: 'ocsf' },
      async received() {
        return (await k.consume('alerts')).flatMap(({ key, value }) => {
          if (key.startsWith('test-')) return [];
          const f = JSON.parse(value) as { class_uid: number; finding_info: { uid: string; title: string } };
          assert.equal(f.class_uid, 2004);
          assert.equal(f.finding_info.uid, key);
          assert.equal(f.finding_info.title, all.get(key)?.title);
          return [key];
        });
      },
      stop: () => k.stop(),
    };
  },
  // The record form goes out as the bytes the outbox stored (no parse, no re-encoding).
  'kafka-record': async () => {
    const k = await startKafka();
    if (isMissing(k)) return k;
    await k.createTopic('alerts', 2);
    return {
      section: { brokers: [k.brokers], topic: 'alerts', format: 'record', compression: 'lz4' },
      async received() {
        return (await k.consume('alerts')).flatMap(({ key, value }) => {
          if (key.startsWith('test-')) return [];
          assert.deepEqual(JSON.parse(value), all.get(key));
          return [key];
        });
      },
      stop: () => k.stop(),
    };
  },
  nats: async () => {
    const n = await startNats();
    if (isMissing(n)) return n;
    const nc = await connect({ servers: n.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'ALERTS', subjects: ['vantage.alerts'] });
    return {
      section: { servers: [n.url], subject: 'vantage.alerts' },
      async received() {
        const info = await jsm.streams.info('ALERTS');
        const ids: string[] = [];
        for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
          const m = await jsm.streams.getMessage('ALERTS', { seq });
          const a = m!.json<AlertRecord>();
          assert.equal(m!.header.get('Nats-Msg-Id'), `${a.alert_id}/${a.updated_ts}`);
          ids.push(a.alert_id);
        }
        return ids;
      },
      async stop() {
        await nc.close();
        await n.stop();
      },
    };
  },
  'syslog-udp': syslogHarness('udp', all),
  'syslog-tcp': syslogHarness('tcp', all),
  webhook: async () => {
    const w = await startWebhookReceiver('s3cret-s3cret-s3cret');
    if (isMissing(w)) return w;
    return {
      section: { url: w.url, secret: 's3cret-s3cret-s3cret', ca: w.ca },
      async received() {
        assert.equal(w.rejected, 0);
        return (w.received as AlertRecord[][]).flat().map((a) => a.alert_id);
      },
      stop: () => w.stop(),
    };
  },
  hec: async () => {
    const h = await startHecReceiver('0b4c3f1e-hec-token');
    return {
      section: { url: h.url, token: h.token, index: 'security', host: 'sensor-a' },
      async received() {
        assert.deepEqual(h.refused, []);
        return h.events.map((e) => {
          assert.equal(e.sourcetype, 'vantage:alert');
          assert.equal(e.index, 'security');
          const a = e.event as AlertRecord;
          assert.equal(e.time, Date.parse(a.updated_ts) / 1000);
          return a.alert_id;
        });
      },
      stop: () => h.stop(),
    };
  },
  email: async () => {
    const s = await startSmtp();
    if (isMissing(s)) return s;
    return {
      section: { host: '127.0.0.1', port: s.port, from: 'vantage@example.org', to: ['soc@example.org'] },
      async received() {
        return s.messages().flatMap((m) => {
          assert.match(m, /^To: soc@example\.org$/m);
          assert.match(m, /^Subject: \[Vantage\] /m);
          // The digest is quoted-printable (titles are UTF-8): undo soft breaks and escapes.
          const text = m
            .replace(/=\r?\n/g, '')
            .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
          return [...text.matchAll(/ id ([0-9a-f-]{36}) /g)].map((x) => x[1]!);
        });
      },
      stop: () => s.stop(),
    };
  },
};

/** A sink whose receiver can be cut off: while the gate is shut every delivery fails. */
function gated(inner: Sink, gate: { open: boolean }): Sink {
  return {
    kind: inner.kind,
    name: inner.name,
    start: () => inner.start(),
    stop: () => inner.stop(),
    health: () => inner.health(),
    async deliver(batch) {
      if (!gate.open) throw new Error('receiver unreachable (gate shut)');
      return inner.deliver(batch);
    },
    ...(inner.deliverEncoded && {
      async deliverEncoded(batch: readonly EncodedAlert[]) {
        if (!gate.open) throw new Error('receiver unreachable (gate shut)');
        return inner.deliverEncoded!(batch);
      },
    }),
  };
}

for (const [kind, make] of Object.entries(HARNESSES)) {
  describe(`sink conformance: ${kind}`, () => {
    let h: Harness | Missing;
    let bus: Bus;
    const dir = mkdtempSync(join(tmpdir(), `vantage-bus-${kind}-`));
    const gate = { open: true };
    before(async () => {
      h = await make();
    });
    after(async () => {
      await bus?.stop();
      if (!isMissing(h)) await h.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('delivers every alert its filter passes, and only those', async (t) => {
      if (isMissing(h)) return t.skip(`peer missing: ${h.missing}`);
      const hh = h;
      const key = kind.split('-')[0]!;
      const [spec] = parseBusConfig([
        {
          name: kind,
          filter: FILTER,
          batchSize: 7,
          backoffMs: 5,
          maxBackoffMs: 20,
          maxAttempts: 3,
          [key]: h.section,
        },
      ]);
      bus = createBus(
        { sinks: [spec!] },
        {
          dataDir: dir,
          log: silentLogger,
          version: VERSION,
          makeSink: (s: SinkSpec) => gated(createSink(s, { version: VERSION }), gate),
        },
      );
      await bus.start();
      const alerts = testAlerts(40, kind);
      for (const a of alerts) all.set(a.alert_id, a);
      const want = alerts.filter((a) => a.severity >= 50 && a.category !== 'scan').map((a) => a.alert_id);
      assert.ok(want.length > 5 && want.length < alerts.length);
      await bus.publish(alerts);
      await until('every alert past the sink', () => bus.stats().sinks[0]!.lagAlerts === 0);
      await until('the peer holds every alert', async () => (await hh.received()).length >= want.length);
      const got = await hh.received();
      assert.deepEqual([...new Set(got)].sort(), [...want].sort());
      const s = bus.stats().sinks[0]!;
      assert.equal(s.sent, want.length);
      assert.equal(s.filtered, alerts.length - want.length);
      assert.equal(s.dead, 0);
      assert.equal((await bus.testSink(kind)).ok, true);
    });

    it('retries a sink that is down, keeps dead letters, replays them', async (t) => {
      if (isMissing(h)) return t.skip(`peer missing: ${h.missing}`);
      const hh = h;
      const before = new Set(await hh.received());
      gate.open = false;
      const alerts = testAlerts(12, `${kind}-dead`).map((a) => ({ ...a, severity: 95, category: 'beacon' }));
      for (const a of alerts) all.set(a.alert_id, a);
      await bus.publish(alerts);
      await until('dead letters', () => bus.stats().sinks[0]!.dead === alerts.length);
      const s = bus.stats().sinks[0]!;
      assert.ok(s.retried >= alerts.length, `retried ${s.retried}`);
      assert.match(s.lastError ?? '', /gate shut/);
      const dead = await bus.deadLetters(kind);
      assert.deepEqual(dead.map((d) => d.alert.alert_id).sort(), alerts.map((a) => a.alert_id).sort());
      assert.ok(dead.every((d) => d.attempts === 3));
      gate.open = true;
      assert.equal(await bus.replay(kind), alerts.length);
      await until('replayed alerts at the peer', async () => {
        const now = new Set(await hh.received());
        return alerts.every((a) => now.has(a.alert_id));
      });
      assert.deepEqual(await bus.deadLetters(kind), []);
      const end = await hh.received();
      for (const id of before) assert.ok(end.includes(id));
    });
  });
}
