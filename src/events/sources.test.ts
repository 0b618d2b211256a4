import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import tls from 'node:tls';
import type { AlertInput } from '../common/alerts.js';
import { ConfigError } from '../common/errors.js';
import { silentLogger } from '../common/log.js';
import { Metrics } from '../common/metrics.js';
import { parseEventsConfig } from './config.js';
import { EveDgram, loadUnixDgramBinding } from './eve-dgram.js';
import { EveSocket } from './eve-socket.js';
import { EveTail } from './eve-tail.js';
import { IdentityMap } from './identity.js';
import { createEventSources } from './index.js';
import { buildAccountingRequest } from './radius.js';
import { RadiusListener } from './radius-listener.js';
import { SyslogListener } from './syslog-listener.js';

const CI = process.env.CI === 'true';
const have = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
/** Skip message when a peer is missing; an error under CI=true, where every peer is installed. */
function missing(bins: [string, string][]): string | false {
  const gone = bins.filter(([b]) => !have(b));
  if (gone.length === 0) return false;
  const msg = `needs ${gone.map(([b, pkg]) => `${b} (Debian package ${pkg})`).join(', ')}`;
  if (CI) throw new Error(`CI=true and ${msg}`);
  return msg;
}

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'vantage-events-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

class Recorder {
  readonly alerts: AlertInput[] = [];
  raise(a: AlertInput): void {
    this.alerts.push(a);
  }
}

/** Wait (polling) until `cond` holds; fails naming what it waited for. No timing is asserted. */
async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

const deps = (emitter: Recorder, identity = new IdentityMap()) => ({ emitter, identity, log: silentLogger });

const listenCfg = (transport: 'udp' | 'tcp' | 'tls', extra: Record<string, unknown> = {}) => {
  const c = parseEventsConfig({ syslog: [{ listen: `${transport}://127.0.0.1:0`, ...extra }] });
  return c.syslog[0]!;
};

describe('syslog through a real rsyslogd', () => {
  it('rsyslog forwards to our TCP (octet-counted) and UDP listeners; the right alerts and identities come out', async (t) => {
    const skip = missing([
      ['rsyslogd', 'rsyslog'],
      ['logger', 'bsdutils'],
    ]);
    if (skip) return t.skip(skip);
    const tcpRec = new Recorder();
    const udpRec = new Recorder();
    const tcpId = new IdentityMap();
    const udpId = new IdentityMap();
    const tcp = new SyslogListener(listenCfg('tcp'), deps(tcpRec, tcpId));
    const udp = new SyslogListener(listenCfg('udp'), deps(udpRec, udpId));
    await tcp.start();
    await udp.start();
    const dir = tmp();
    const inPort = await freeUdpPort();
    const conf = join(dir, 'rsyslog.conf');
    writeFileSync(
      conf,
      [
        `global(workDirectory="${dir}")`,
        'module(load="imudp")',
        `input(type="imudp" address="127.0.0.1" port="${inPort}")`,
        `*.* action(type="omfwd" target="127.0.0.1" port="${tcp.address()!.port}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")`,
        `*.* action(type="omfwd" target="127.0.0.1" port="${udp.address()!.port}" protocol="udp")`,
        '',
      ].join('\n'),
    );
    const rs: ChildProcess = spawn(
      '/usr/sbin/rsyslogd',
      ['-f', conf, '-i', join(dir, 'rsyslogd.pid'), '-n'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let rsErr = '';
    rs.stderr?.on('data', (d: Buffer) => {
      rsErr += d.toString();
    });
    const sender = dgram.createSocket('udp4');
    const send = (m: string): Promise<void> =>
      new Promise((r) => sender.send(Buffer.from(m), inPort, '127.0.0.1', () => r()));
    try {
      // rsyslogd is up when a probe comes through both ways.
      await until(`rsyslogd to forward a probe (stderr: ${rsErr})`, () => {
        void send('<13>Jan 18 10:00:00 probe probe: hello');
        return tcp.counters.received > 0 && udp.counters.received > 0;
      });
      const base = { tcp: tcp.counters.received, udp: udp.counters.received };
      const messages = [
        '<13>Jan 18 10:00:00 dc01 Microsoft-Windows-Security-Auditing: EventID=4624 TargetUserName=alice TargetDomainName=CORP IpAddress=10.0.0.1 LogonType=3',
        '<134>Jan 18 10:00:01 fw01 ids: CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232 dpt=445 proto=TCP',
        '<134>Jan 18 10:00:02 qradar01 app: LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5^srcPort=81^dstPort=21',
        '<185>Jan 18 10:00:03 ftd01 %FTD-1-430001: SrcIP: 192.168.10.20, DstIP: 10.10.10.5, SrcPort: 50432, DstPort: 80, Protocol: tcp, Priority: 1, GID: 1, SID: 2019284, Revision: 3, Message: ET TROJAN Possible Win32/Kovter, Classification: A Network Trojan was detected',
        '<133>Jan 18 10:00:04 fmc SFIMS: [1:2100498:7] "GPL ATTACK_RESPONSE id check returned root" [Classification: Potentially Bad Traffic] [Priority: 2] {TCP} 10.0.0.9:80 -> 10.0.0.10:51000',
        '<13>Jan 18 10:00:06 junk01 junk: this carries no event at all',
      ];
      for (const m of messages) await send(m);
      // One more through logger(1), as RFC 5424 over UDP.
      const lg = spawnSync('logger', [
        '--server',
        '127.0.0.1',
        '--port',
        String(inPort),
        '--udp',
        '--rfc5424',
        '-t',
        'ids',
        'CEF:0|Vendor|IDS|2|77|Port scan|High|src=10.5.5.5 dst=10.6.6.6 dpt=22 proto=TCP',
      ]);
      assert.equal(lg.status, 0, lg.stderr?.toString());
      const want = messages.length + 1;
      await until(
        'all messages on both listeners',
        () => tcp.counters.received - base.tcp >= want && udp.counters.received - base.udp >= want,
      );
      for (const [name, rec, idm, l] of [
        ['tcp', tcpRec, tcpId, tcp],
        ['udp', udpRec, udpId, udp],
      ] as const) {
        const by = (src: string) => rec.alerts.find((a) => a.src_ip === src);
        const cef = by('10.0.0.1');
        assert.ok(cef, `${name}: CEF alert`);
        assert.deepEqual(
          [cef.source, cef.title, cef.dst_ip, cef.src_port, cef.dst_port, cef.severity],
          ['cef', 'worm successfully stopped', '2.1.2.2', 1232, 445, 100],
        );
        assert.equal(cef.src_user, 'CORP\\alice', `${name}: user from the Windows logon`);
        const leef = by('10.0.1.8');
        assert.deepEqual([leef?.source, leef?.dst_ip, leef?.dst_port], ['leef', '10.0.0.5', 21]);
        const ftd = by('192.168.10.20');
        assert.deepEqual(
          [ftd?.source, ftd?.signature_id, ftd?.title, ftd?.severity],
          ['firepower', 2019284, 'ET TROJAN Possible Win32/Kovter', 80],
        );
        const snort = by('10.0.0.9');
        assert.deepEqual(
          [snort?.source, snort?.signature_id, snort?.dst_port, snort?.severity],
          ['firepower', 2100498, 51000, 55],
        );
        const lgr = by('10.5.5.5');
        assert.deepEqual([lgr?.source, lgr?.title, lgr?.severity], ['cef', 'Port scan', 80]);
        assert.equal(rec.alerts.length, 5, `${name}: five alerts`);
        assert.deepEqual(
          idm.history('10.0.0.1').map((s) => s.user),
          ['alice'],
        );
        assert.equal(l.counters.identities, 1);
        assert.ok(l.counters.other >= 2, `${name}: the probe and the junk line are counted, not alerts`);
      }
      assert.equal(tcp.framing.octetCounted, tcp.counters.received, 'rsyslog used octet-counted framing');
      assert.equal(tcp.framing.delimited, 0);
    } finally {
      sender.close();
      rs.kill('SIGTERM');
      await new Promise((r) => rs.once('exit', r));
      await tcp.stop();
      await udp.stop();
    }
  });
});

describe('syslog listeners', () => {
  it('TCP: LF, NUL and octet-counted framing on one connection; an over-long message is cut and the next still comes', async () => {
    const rec = new Recorder();
    const l = new SyslogListener(listenCfg('tcp', { maxMessage: 1000 }), deps(rec));
    await l.start();
    const c = net.connect(l.address()!.port, '127.0.0.1');
    await new Promise((r) => c.once('connect', r));
    const cef = (n: number) =>
      `<134>Jan 18 10:00:00 h ids: CEF:0|V|P|1|${n}|sig ${n}|5|src=10.0.0.${n} dst=10.0.1.1`;
    const oc = (m: string) => `${Buffer.byteLength(m)} ${m}`;
    c.write(`${cef(1)}\n${cef(2)}\0${oc(cef(3))}<134>${'x'.repeat(5000)}\n${oc(cef(4))}not syslog at all\n`);
    c.end(cef(5)); // the last message needs no delimiter: the connection's end ends it
    await until('five alerts', () => rec.alerts.length >= 5);
    assert.deepEqual(
      rec.alerts.map((a) => a.src_ip),
      ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'],
    );
    assert.equal(l.framing.truncated, 1);
    assert.equal(l.counters.dropped, 1);
    assert.equal(l.counters.weird.message_truncated, 1);
    await l.stop();
  });

  it('UDP: one message per datagram; a bad datagram does not touch the next', async () => {
    const rec = new Recorder();
    const l = new SyslogListener(listenCfg('udp'), deps(rec));
    await l.start();
    const s = dgram.createSocket('udp4');
    for (const m of [
      '<999>bad',
      'CEF:0|broken',
      '<134>Jan 18 10:00:00 h ids: CEF:0|V|P|1|9|ok|5|src=10.0.0.9\n',
    ])
      await new Promise<void>((r) => s.send(m, l.address()!.port, '127.0.0.1', () => r()));
    await until('three datagrams', () => l.counters.received >= 3);
    s.close();
    assert.deepEqual(l.counters.weird, { syslog_bad_header: 1, cef_bad_header: 1 });
    assert.equal(rec.alerts.length, 1);
    assert.equal(rec.alerts[0]!.src_ip, '10.0.0.9');
    await l.stop();
  });

  it('TLS with a certificate and key', async (t) => {
    const skip = missing([['openssl', 'openssl']]);
    if (skip) return t.skip(skip);
    const dir = tmp();
    const r = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-days',
      '1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    assert.equal(r.status, 0, r.stderr.toString());
    const rec = new Recorder();
    const l = new SyslogListener(
      listenCfg('tls', { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }),
      deps(rec),
    );
    await l.start();
    const c = tls.connect({
      port: l.address()!.port,
      host: '127.0.0.1',
      ca: readFileSync(join(dir, 'cert.pem')),
      servername: 'localhost',
    });
    await new Promise((res) => c.once('secureConnect', res));
    const m = '<134>1 2024-01-18T10:00:00Z h ids - - - CEF:0|V|P|1|9|over tls|5|src=10.0.0.7';
    c.end(`${Buffer.byteLength(m)} ${m}`);
    await until('the TLS message', () => rec.alerts.length >= 1);
    assert.equal(rec.alerts[0]!.title, 'over tls');
    assert.equal(rec.alerts[0]!.ts, Date.UTC(2024, 0, 18, 10));
    await l.stop();
  });
});

describe('EVE sources', () => {
  const line = (i: number) =>
    `${JSON.stringify({
      timestamp: `2024-01-18T10:00:${String(i % 60).padStart(2, '0')}.000000+0000`,
      event_type: 'alert',
      src_ip: `10.0.0.${i}`,
      dest_ip: '10.1.0.1',
      proto: 'UDP',
      src_port: 1000 + i,
      dest_port: 53,
      alert: { signature_id: 1000 + i, signature: `sig ${i}`, severity: 3 },
    })}\n`;

  it('tails eve.json across rotation and truncation, and resumes at the saved offset', async () => {
    const dir = tmp();
    const path = join(dir, 'eve.json');
    const dataDir = join(dir, 'data');
    const rec = new Recorder();
    const cfg = { path, from: 'start' as const, pollMs: 60_000, maxLine: 4096 };
    const srcs = () => rec.alerts.map((a) => Number(a.src_ip!.split('.')[3]));
    writeFileSync(path, line(1) + line(2) + line(3) + line(4).slice(0, 20));
    let t1 = new EveTail(cfg, { ...deps(rec), dataDir });
    await t1.start();
    assert.deepEqual(srcs(), [1, 2, 3]);
    appendFileSync(path, line(4).slice(20) + line(5));
    t1.poll();
    assert.deepEqual(srcs(), [1, 2, 3, 4, 5]);
    // logrotate's default: rename, then the writer opens a new file. A line written to the old
    // file after our last read is still read.
    appendFileSync(path, line(6));
    renameSync(path, `${path}.1`);
    writeFileSync(path, line(7) + line(8));
    t1.poll();
    assert.deepEqual(srcs(), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(t1.tail.rotations, 1);
    // copytruncate: the file is emptied in place.
    truncateSync(path, 0);
    appendFileSync(path, line(9));
    t1.poll();
    assert.deepEqual(srcs(), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(t1.tail.truncations, 1);
    // A line beyond the bound is dropped and counted; the next one comes.
    appendFileSync(path, `{"event_type":"alert","x":"${'y'.repeat(5000)}"}\n${line(10)}`);
    t1.poll();
    assert.equal(t1.counters.weird.line_too_long, 1);
    await t1.stop();
    // Restart: lines written while stopped are read once, nothing before them again.
    appendFileSync(path, line(11) + line(12));
    t1 = new EveTail(cfg, { ...deps(rec), dataDir });
    await t1.start();
    await t1.stop();
    assert.deepEqual(srcs(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('starts at the end of a file met for the first time with from: end', async () => {
    const dir = tmp();
    const path = join(dir, 'eve.json');
    writeFileSync(path, line(1) + line(2));
    const rec = new Recorder();
    const t1 = new EveTail(
      { path, from: 'end', pollMs: 60_000, maxLine: 4096 },
      { ...deps(rec), dataDir: join(dir, 'data') },
    );
    await t1.start();
    appendFileSync(path, line(3));
    await t1.stop();
    assert.deepEqual(
      rec.alerts.map((a) => a.src_ip),
      ['10.0.0.3'],
    );
  });

  it("reads Suricata's unix_stream EVE output", async () => {
    const dir = tmp();
    const rec = new Recorder();
    const s = new EveSocket(
      { socket: join(dir, 'eve.sock'), type: 'stream', maxLine: 4096, key: 'events.eve[0]' },
      deps(rec),
    );
    await s.start();
    const c = net.connect(join(dir, 'eve.sock'));
    await new Promise((r) => c.once('connect', r));
    c.write(line(1) + line(2).slice(0, 30));
    c.end(`${line(2).slice(30)}garbage\n${line(3)}`);
    await until('three lines', () => s.counters.received >= 4);
    assert.deepEqual(
      rec.alerts.map((a) => a.src_ip),
      ['10.0.0.1', '10.0.0.2', '10.0.0.3'],
    );
    assert.deepEqual(s.counters.weird, { eve_bad_json: 1 });
    await s.stop();
  });
});

describe('EVE over a unix datagram socket (Suricata filetype unix_dgram)', () => {
  const line = (i: number) =>
    JSON.stringify({
      timestamp: '2026-06-01T12:00:00.000000+0000',
      event_type: 'alert',
      src_ip: `10.0.0.${i}`,
      src_port: 40000 + i,
      dest_ip: '192.0.2.10',
      dest_port: 443,
      proto: 'TCP',
      alert: { signature_id: 2000000 + i, signature: `ET TEST ${i}`, severity: 2, category: 'Test' },
    });
  /**
   * Send datagrams to a unix datagram socket from python3 (a process of its own, as Suricata
   * is). Asynchronous: a sender blocked on a full socket buffer waits for our reads.
   */
  const send = (path: string, script: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const p = spawn('python3', [
        '-c',
        `import os, socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\np = sys.argv[1]\n${script}`,
        path,
      ]);
      let err = '';
      p.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`python3 exited ${code}: ${err}`))));
    });
  const why = (): string | false => {
    const m = missing([['python3', 'python3']]);
    if (m) return m;
    const b = loadUnixDgramBinding();
    if (typeof b !== 'string') return false;
    if (CI) throw new Error(`CI=true and ${b}`);
    return b;
  };

  it('reads one event per datagram; a cut, empty or bad datagram is counted and its neighbours kept', async (t) => {
    const skip = why();
    if (skip) return t.skip(skip);
    const dir = tmp();
    const path = join(dir, 'eve.sock');
    const rec = new Recorder();
    const s = new EveDgram({ socket: path, type: 'dgram', maxLine: 4096, key: 'events.eve[0]' }, deps(rec));
    await s.start();
    const lines = [1, 2, 3, 4, 5].map(line);
    await send(
      path,
      [
        `ls = ${JSON.stringify(lines)}`,
        // Suricata ends each event with a newline; the last one comes without.
        "s.sendto((ls[0] + '\\n').encode(), p)",
        "s.sendto(b'{not json', p)",
        "s.sendto((ls[1] + '\\n').encode(), p)",
        "s.sendto(b'', p)",
        "s.sendto(b'{\"x\":\"' + b'y' * 5000 + b'\"}', p)",
        "s.sendto((ls[2] + '\\n').encode(), p)",
        "s.sendto((ls[3] + '\\n').encode(), p)",
        's.sendto(ls[4].encode(), p)',
      ].join('\n'),
    );
    await until('eight datagrams', () => s.counters.received >= 8);
    assert.deepEqual(
      rec.alerts.map((a) => a.src_ip),
      ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'],
    );
    assert.equal(rec.alerts[2]!.signature_id, 2000003);
    assert.deepEqual(s.counters.weird, { eve_bad_json: 1, empty_datagram: 1, datagram_truncated: 1 });
    assert.equal(s.counters.dropped, 1);
    await s.stop();
  });

  it('survives random datagrams and a burst of thousands in recvmmsg batches, losing none', async (t) => {
    const skip = why();
    if (skip) return t.skip(skip);
    const dir = tmp();
    const path = join(dir, 'eve.sock');
    const rec = new Recorder();
    const s = new EveDgram({ socket: path, type: 'dgram', maxLine: 8192, key: 'events.eve[0]' }, deps(rec));
    await s.start();
    // 500 random datagrams (0..10,000 bytes, some longer than maxLine) between 3,000 events.
    // The socket buffer may fill: the sender then waits (a blocking socket), nothing is lost.
    await send(
      path,
      [
        'import random',
        'random.seed(17)',
        `evs = [${JSON.stringify(line(1))}, ${JSON.stringify(line(2))}]`,
        'for i in range(3500):',
        '    if i % 7 == 3: s.sendto(os.urandom(random.randint(0, 10000)), p)',
        "    else: s.sendto((evs[i % 2] + '\\n').encode(), p)",
      ].join('\n'),
    );
    await until('every datagram', () => s.counters.received >= 3500);
    assert.equal(s.counters.received, 3500);
    assert.equal(rec.alerts.length, 3000);
    const weird = Object.values(s.counters.weird).reduce((a, b) => a + b, 0);
    assert.equal(weird, 500);
    await s.stop();
  });

  it('without the addon, starting the source fails naming the key and what to install', async () => {
    const dir = tmp();
    const s = new EveDgram(
      { socket: join(dir, 'eve.sock'), type: 'dgram', maxLine: 4096, key: 'events.eve[2]' },
      { ...deps(new Recorder()), binding: 'the vantage-pcap addon is not built (test)' },
    );
    await assert.rejects(
      s.start(),
      (e: unknown) =>
        e instanceof ConfigError && e.key === 'events.eve[2].type' && /libpcap-dev/.test(e.message),
    );
  });
});

describe('RADIUS accounting', () => {
  const SECRET = 'testing123';

  it('verifies Accounting-Requests built per RFC 2866, records the identity and answers', async () => {
    const idm = new IdentityMap();
    const recs: unknown[] = [];
    const l = new RadiusListener(
      { host: '127.0.0.1', port: 0, secret: SECRET },
      { ...deps(new Recorder(), idm), onIdentity: (r) => recs.push(r) },
    );
    await l.start();
    const s = dgram.createSocket('udp4');
    const replies: Buffer[] = [];
    s.on('message', (m) => replies.push(m));
    const req = buildAccountingRequest(
      7,
      [
        [1, 'alice'],
        [8, Buffer.from([10, 0, 0, 7])],
        [40, 1],
        [31, '00-11-22-33-44-55'],
        [44, 'sess-1'],
        [55, 1705572000],
      ],
      SECRET,
    );
    const bad = Buffer.from(req);
    bad[25] = bad[25]! ^ 1; // a changed attribute: the authenticator no longer matches
    for (const p of [bad, req])
      await new Promise<void>((r) => s.send(p, l.address()!.port, '127.0.0.1', () => r()));
    await until('the Accounting-Response', () => replies.length >= 1);
    s.close();
    const resp = replies[0]!;
    assert.deepEqual([resp[0], resp[1], resp.readUInt16BE(2)], [5, 7, 20]);
    // RFC 2866 §3: ResponseAuth = MD5(Code+ID+Length+RequestAuth+Attributes+Secret).
    const { createHash } = await import('node:crypto');
    const expect = createHash('md5')
      .update(resp.subarray(0, 4))
      .update(req.subarray(4, 20))
      .update(SECRET)
      .digest();
    assert.deepEqual(resp.subarray(4, 20), expect);
    assert.equal(l.counters.weird.radius_bad_authenticator, 1);
    assert.equal(idm.who('10.0.0.7', Date.UTC(2024, 0, 18, 10, 0, 1)), 'alice');
    assert.deepEqual(recs, [
      {
        type: 'identity',
        ts: '2024-01-18T10:00:00.000Z',
        ip: '10.0.0.7',
        user: 'alice',
        domain: null,
        mac: '00:11:22:33:44:55',
        source: 'radius',
        event: 'start',
        session: 'sess-1',
      },
    ]);
    await l.stop();
  });

  it('talks to FreeRADIUS radclient: Start and Stop accepted, a wrong secret refused', async (t) => {
    const skip = missing([['radclient', 'freeradius-utils']]);
    if (skip) return t.skip(skip);
    const idm = new IdentityMap();
    const l = new RadiusListener({ host: '127.0.0.1', port: 0, secret: SECRET }, deps(new Recorder(), idm));
    await l.start();
    const port = l.address()!.port;
    const rad = (attrs: string, secret: string) =>
      new Promise<{ status: number | null; out: string }>((res) => {
        const p = spawn('radclient', ['-r', '1', '-t', '2', '-x', `127.0.0.1:${port}`, 'acct', secret]);
        let out = '';
        p.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        p.stderr.on('data', (d: Buffer) => {
          out += d.toString();
        });
        p.on('exit', (status) => res({ status, out }));
        p.stdin.end(`${attrs}\n`);
      });
    const start = await rad(
      'User-Name = "bob", Framed-IP-Address = 10.0.0.8, Acct-Status-Type = Start, Calling-Station-Id = "aa-bb-cc-dd-ee-ff", Acct-Session-Id = "s2"',
      SECRET,
    );
    assert.equal(start.status, 0, start.out);
    assert.match(start.out, /Accounting-Response/);
    assert.equal(idm.who('10.0.0.8', Date.now()), 'bob');
    assert.equal(idm.history('10.0.0.8')[0]!.mac, 'aa:bb:cc:dd:ee:ff');
    const stop = await rad('User-Name = "bob", Acct-Status-Type = Stop, Acct-Session-Id = "s2"', SECRET);
    assert.equal(stop.status, 0, stop.out);
    assert.notEqual(idm.history('10.0.0.8')[0]!.end, null);
    const wrong = await rad(
      'User-Name = "eve", Framed-IP-Address = 10.0.0.9, Acct-Status-Type = Start',
      'not-the-secret',
    );
    assert.notEqual(wrong.status, 0);
    assert.equal(idm.who('10.0.0.9', Date.now()), null);
    assert.ok((l.counters.weird.radius_bad_authenticator ?? 0) >= 1);
    await l.stop();
  });
});

describe('createEventSources', () => {
  it('starts every configured source, posts bodies through ingest, and registers its counters', async () => {
    const dir = tmp();
    const eve = join(dir, 'eve.json');
    writeFileSync(eve, '');
    const cfg = parseEventsConfig({
      eve: [{ path: eve, pollMs: 20 }],
      syslog: [{ listen: 'udp://127.0.0.1:0' }],
      radius: { listen: '127.0.0.1:0', secret: 's' },
      webhook: { mapping: { title: 'alarm.text', src_ip: 'alarm.from' } },
    });
    const rec = new Recorder();
    const metrics = new Metrics();
    const ev = createEventSources(cfg, {
      emitter: rec,
      log: silentLogger,
      dataDir: join(dir, 'data'),
      metrics,
    });
    await ev.start();
    appendFileSync(
      eve,
      '{"timestamp":"2024-01-18T10:00:00+0000","event_type":"alert","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","alert":{"signature_id":5,"signature":"tail","severity":1}}\n',
    );
    await until('the tailed alert', () => rec.alerts.length >= 1);
    const r = ev.ingest('json', '{"alarm":{"text":"posted","from":"10.3.3.3"}}');
    assert.deepEqual(r, { accepted: 1, alerts: 1, identities: 0, other: 0, weird: {} });
    assert.deepEqual(
      rec.alerts.map((a) => a.title),
      ['tail', 'posted'],
    );
    await ev.stop();
    const text = await metrics.render();
    assert.match(
      text,
      new RegExp(`vantage_events_alerts\\{source="eve:${eve.replace(/[/.]/g, '\\$&')}",format="eve"\\} 1`),
    );
    assert.match(text, /vantage_events_alerts\{source="api",format="api"\} 1/);
  });
});
