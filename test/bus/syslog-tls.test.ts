import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Bus, createBus } from '../../src/bus/bus.js';
import { parseBusConfig } from '../../src/bus/config.js';
import { alertRecordOf } from '../../src/common/alerts.js';
import { silentLogger } from '../../src/common/log.js';
import type { AlertRecord } from '../../src/schema/alert.js';
import { freePort, waitPort } from '../support/peers.js';

/**
 * The syslog sink over TLS (RFC 5425: octet-counted frames in a TLS stream) into a real
 * rsyslogd: imtcp with the GnuTLS driver (server authentication) and with the OpenSSL driver
 * requiring a client certificate (mutual TLS). rsyslog writes every message it parsed as its
 * own JSON (%jsonmesg%): the RFC 5424 fields are rsyslog's reading of our header, the CEF or
 * JSON payload is checked field by field against the alert.
 */

const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => existsSync(p));
const MODULES = [
  '/usr/lib/x86_64-linux-gnu/rsyslog',
  '/usr/lib/aarch64-linux-gnu/rsyslog',
  '/usr/lib/rsyslog',
].find((d) => existsSync(d));
const hasDriver = (d: 'gtls' | 'ossl'): boolean =>
  MODULES !== undefined && readdirSync(MODULES).includes(`lmnsd_${d}.so`);

/** What is missing to run these tests; in CI a missing peer is a failure, not a skip. */
function missing(driver: 'gtls' | 'ossl'): string | null {
  let what: string | null = null;
  if (!RSYSLOGD) what = 'rsyslogd (Debian package rsyslog)';
  else if (!hasDriver(driver))
    what = `rsyslog's ${driver} driver (Debian package rsyslog-${driver === 'gtls' ? 'gnutls' : 'openssl'})`;
  else {
    try {
      execFileSync('openssl', ['version']);
    } catch {
      what = 'openssl';
    }
  }
  if (what && process.env.CI === 'true') throw new Error(`peer missing in CI: ${what}`);
  return what;
}

interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by another CA: the collector must refuse it. */
  strangerCert: string;
  strangerKey: string;
}

/** A test CA with a server certificate for 127.0.0.1 and a client certificate, made by openssl. */
function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-pki-'));
  const p = (n: string) => join(dir, n);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const ca = (name: string) =>
    ossl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.pem`),
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
    );
  const leaf = (name: string, signer: string, ext: string) => {
    ossl('req', ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${name}`);
    writeFileSync(p(`${name}.ext`), ext);
    ossl(
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p(`${signer}.pem`),
      '-CAkey',
      p(`${signer}.key`),
      '-CAcreateserial',
      '-out',
      p(`${name}.pem`),
      '-days',
      '2',
      '-extfile',
      p(`${name}.ext`),
    );
  };
  ca('test-ca');
  ca('other-ca');
  leaf('collector', 'test-ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('sensor-a', 'test-ca', 'extendedKeyUsage=clientAuth\n');
  leaf('stranger', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    ca: p('test-ca.pem'),
    serverCert: p('collector.pem'),
    serverKey: p('collector.key'),
    clientCert: p('sensor-a.pem'),
    clientKey: p('sensor-a.key'),
    strangerCert: p('stranger.pem'),
    strangerKey: p('stranger.key'),
  };
}

interface Collector {
  port: number;
  /** Messages as rsyslog parsed them (its %jsonmesg% object). */
  messages(): Record<string, string>[];
  stop(): Promise<void>;
}

async function startCollector(pki: Pki, driver: 'gtls' | 'ossl', authMode: string): Promise<Collector> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-rsyslog-tls-'));
  mkdirSync(join(dir, 'work'));
  const port = await freePort();
  const out = join(dir, 'out.json');
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(
    conf,
    `global(workDirectory="${dir}/work" maxMessageSize="64k"
  defaultNetstreamDriver="${driver}"
  defaultNetstreamDriverCAFile="${pki.ca}"
  defaultNetstreamDriverCertFile="${pki.serverCert}"
  defaultNetstreamDriverKeyFile="${pki.serverKey}")
module(load="imtcp" streamDriver.name="${driver}" streamDriver.mode="1" streamDriver.authMode="${authMode}")
input(type="imtcp" address="127.0.0.1" port="${port}")
template(name="parsed" type="string" string="%jsonmesg%\\n")
*.* action(type="omfile" file="${out}" template="parsed" flushOnTXEnd="on" asyncWriting="off")
`,
  );
  const proc: ChildProcess = spawn(RSYSLOGD!, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], {
    stdio: 'ignore',
  });
  await waitPort(port, 15_000, proc);
  return {
    port,
    messages() {
      if (!existsSync(out)) return [];
      return readFileSync(out, 'utf8')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, string>);
    },
    async stop() {
      if (proc.exitCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function alerts(n: number, tag: string): AlertRecord[] {
  return Array.from({ length: n }, (_, i) =>
    alertRecordOf(
      {
        ts: Date.UTC(2026, 5, 1) + i * 1000,
        category: i % 2 ? 'beacon' : 'intel',
        detector: 'beacon.periodic',
        title: `TLS alert ${tag} #${i}: a=b \\ c | d "q" ü`,
        severity: (i * 37) % 101,
        confidence: 80,
        src_ip: `10.0.${i % 250}.1`,
        dst_ip: '192.0.2.10',
        dst_port: 443,
        proto: 6,
        key: `${tag}-${i}`,
      },
      'sensor-a',
    ),
  );
}

/** CEF extension `k=v` pairs with `\=`, `\\` and `\n` unescaped. */
function cefExtension(ext: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /(?:^| )([A-Za-z0-9_]+)=((?:\\.|[^\\])*?)(?= [A-Za-z0-9_]+=|$)/g;
  for (const m of ext.matchAll(re))
    out.set(
      m[1]!,
      m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c)),
    );
  return out;
}

/** The 7 CEF header fields (with `\|` and `\\` unescaped) and the extension. */
function cefParts(line: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (parts.length < 7 && c === '\\') cur += line[++i] ?? '';
    else if (parts.length < 7 && c === '|') {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

/** Check one message as rsyslog parsed it against the alert it came from; returns its id. */
function checkMessage(
  m: Record<string, string>,
  byId: Map<string, AlertRecord>,
  format: 'cef' | 'json',
): string {
  // rsyslog's RFC 5424 parser read our header: version 1, its fields in their places.
  assert.equal(m['protocol-version'], '1', JSON.stringify(m));
  assert.equal(m.hostname, 'sensor-a');
  assert.equal(m['app-name'], 'vantage');
  assert.equal(m.syslogfacility, '4');
  const sd = /\[vantage@32473 alert_id="([^"]+)" updated="([^"]+)"\]/.exec(m['structured-data'] ?? '');
  assert.ok(sd, `structured data: ${m['structured-data']}`);
  const a = byId.get(sd[1]!);
  assert.ok(a, `unknown alert ${sd[1]}`);
  assert.equal(sd[2], a.updated_ts);
  assert.equal(m.msgid, a.category);
  assert.equal(
    Number(m.syslogseverity),
    a.severity >= 90 ? 2 : a.severity >= 70 ? 3 : a.severity >= 40 ? 4 : a.severity >= 20 ? 5 : 6,
  );
  const msg = m.msg!.trimStart();
  if (format === 'json') {
    assert.deepEqual(JSON.parse(msg), a);
    return a.alert_id;
  }
  const cef = cefParts(msg);
  assert.equal(cef.length, 8, msg);
  assert.deepEqual(cef.slice(0, 7), [
    'CEF:0',
    'Vantage',
    'Vantage',
    '0.1.0-test',
    a.detector,
    a.title,
    String(Math.round(a.severity / 10)),
  ]);
  const ext = cefExtension(cef[7]!);
  assert.equal(ext.get('externalId'), a.alert_id);
  assert.equal(ext.get('msg'), a.title);
  assert.equal(ext.get('src'), a.src_ip);
  assert.equal(ext.get('dst'), a.dst_ip);
  assert.equal(ext.get('dpt'), String(a.dst_port));
  assert.equal(ext.get('cat'), a.category);
  return a.alert_id;
}

const CASES = [
  { driver: 'gtls', authMode: 'anon', client: 'none', format: 'cef' },
  { driver: 'gtls', authMode: 'anon', client: 'none', format: 'json' },
  { driver: 'ossl', authMode: 'x509/certvalid', client: 'sensor', format: 'cef' },
] as const;

for (const c of CASES) {
  describe(`syslog sink over TLS into rsyslog (${c.driver}, ${c.authMode}, ${c.format})`, () => {
    const why = missing(c.driver);
    let pki: Pki;
    let col: Collector;
    const dir = mkdtempSync(join(tmpdir(), 'vantage-bus-tls-'));
    const buses: Bus[] = [];
    before(async () => {
      if (why) return;
      pki = makePki();
      col = await startCollector(pki, c.driver, c.authMode);
    });
    after(async () => {
      for (const b of buses) await b.stop();
      await col?.stop();
      if (pki) rmSync(pki.dir, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    });

    const bus = async (name: string, client: 'none' | 'sensor' | 'stranger'): Promise<Bus> => {
      const [spec] = parseBusConfig([
        {
          name,
          batchSize: 50,
          backoffMs: 5,
          maxBackoffMs: 20,
          maxAttempts: 3,
          syslog: {
            host: '127.0.0.1',
            port: col.port,
            transport: 'tls',
            format: c.format,
            hostname: 'sensor-a',
            ca: pki.ca,
            ...(client === 'sensor' && { cert: pki.clientCert, key: pki.clientKey }),
            ...(client === 'stranger' && { cert: pki.strangerCert, key: pki.strangerKey }),
          },
        },
      ]);
      const b = createBus(
        { sinks: [spec!] },
        { dataDir: join(dir, name), log: silentLogger, version: '0.1.0-test' },
      );
      buses.push(b);
      await b.start();
      return b;
    };

    it('delivers every alert; rsyslog parses each as RFC 5424 with the payload intact', async (t) => {
      if (why) return t.skip(`peer missing: ${why}`);
      const b = await bus('ok', c.client);
      const sent = alerts(300, `${c.driver}-${c.format}`);
      const byId = new Map(sent.map((a) => [a.alert_id, a]));
      await b.publish(sent);
      await until('every alert past the sink', () => b.stats().sinks[0]!.lagAlerts === 0);
      await until('rsyslog holds every alert', () => col.messages().length >= sent.length);
      const got = col.messages().map((m) => checkMessage(m, byId, c.format));
      assert.deepEqual(got.sort(), [...byId.keys()].sort());
      const s = b.stats().sinks[0]!;
      assert.equal(s.sent, sent.length);
      assert.equal(s.dead, 0);
    });

    if (c.client === 'sensor') {
      it('a collector that requires a client certificate refuses one from another CA', async (t) => {
        if (why) return t.skip(`peer missing: ${why}`);
        const before = col.messages().length;
        const b = await bus('stranger', 'stranger');
        await b.publish(alerts(5, 'stranger'));
        // With TLS 1.3 the client learns of the refusal after its handshake ends: the failure
        // shows on the first write or the next, and every alert ends as a dead letter.
        await until('dead letters', () => b.stats().sinks[0]!.dead > 0 || b.stats().sinks[0]!.failed > 0);
        await until('the sink reports the refusal', () => !b.listSinks()[0]!.health.ok);
        assert.equal(col.messages().length, before);
      });
    }
  });
}
